// An arena that is never resident: its bytes are generated as they are read (docs/lazy-bytes.md).
// A read is cut into chunks produced by the worker pool ahead of the reader, at most `ahead` at a
// time, so a reader that stops costs no more than a few chunks. Chunk j goes to lane j % ahead;
// each lane carries its walk (fill-range.ts) from one chunk to its next, so an rng "torch" stream
// resumes where the lane stopped instead of walking from the seed.
import type { Piscina } from 'piscina'
import type { Fill } from './fill.js'
import { produceRange, TRUNC_KEEP_BYTES, type Walk } from './fill-range.js'
import type { ArenaBytes } from './arena.js'
import type { MemoryBudget } from './budget.js'
import { movedBuffers, runRangeTask, type RangeResult, type RangeTask } from './range-task.js'
import { itemSize } from '../init/storage.js'
import { DTYPES } from '../tensor/dtype.js'
import type { FillRange } from './constant-fill.js'

/** Bytes per chunk made by a pool task: ~5-20 ms of generation, a few pieces of a socket's queue. */
export const POOL_CHUNK_BYTES = 8 << 20
/** Bytes per chunk made on the main thread (no pool): short enough to keep the event loop turning. */
export const MAIN_CHUNK_BYTES = 1 << 20

export const rangeWorkerFile = new URL(`./range-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url).href

/** What a read's chunks are sent to: how many of the bytes read have left for the kernel, and when it has closed. */
export interface ReadSink {
  sent: () => number
  closed: Promise<void>
}

/**
 * Shared chunk buffers not lent to any read, used again by the next chunk of any read (a buffer
 * dropped instead stays mapped until every worker that wrote it has collected its heap). At most
 * SPARE_CHUNKS are kept; each read's own are counted in its pin while lent.
 */
const spare: SharedArrayBuffer[] = []
const SPARE_CHUNKS = 16
function borrow (bytes: number): SharedArrayBuffer {
  const i = spare.findIndex((m) => m.byteLength === bytes)
  return i >= 0 ? spare.splice(i, 1)[0] as SharedArrayBuffer : new SharedArrayBuffer(bytes)
}
function giveBack (memory: SharedArrayBuffer): void {
  if (spare.length < SPARE_CHUNKS) spare.push(memory)
}

/**
 * Chunks of a constant repeated from byte `phase` of an element, shared by every read (only ever
 * read); at most PATTERNS kept, so a process holds a bounded few whatever the tenants read.
 */
const patterns = new Map<string, Buffer>()
const PATTERNS = 4
function pattern (r: FillRange, phase: number, bytes: number): Buffer {
  const key = `${r.dtype}:${r.value}:${phase}:${bytes}`
  let p = patterns.get(key)
  if (p === undefined) {
    p = Buffer.allocUnsafe(bytes)
    produceRange({ constants: [{ ...r, offset: -phase, nbytes: bytes + phase }] }, 0, p)
    if (patterns.size >= PATTERNS) patterns.clear()
    patterns.set(key, p)
  }
  return p
}

let zeros: Buffer | undefined
/** A zero buffer of at least `n` bytes, shared by every read: it is only ever read. */
function zeroChunk (n: number): Buffer {
  if (zeros === undefined || zeros.length < n) zeros = Buffer.alloc(n)
  return zeros
}

export class LazyArena implements ArenaBytes {
  /** chunks made ahead of the reader */
  readonly ahead: number
  readonly chunkBytes: number
  /** memory one read holds at most: its chunks in flight, one in the stream's buffer and one in the socket's queue, and each lane's kept trunc_normal_ values */
  readonly readBytes: number

  /** `chunkBytes`: the size of a chunk, when not the default for where chunks are made */
  constructor (readonly size: number, private readonly fill: Fill, private readonly pool: Piscina | undefined, private readonly budget: MemoryBudget, chunkBytes?: number) {
    this.ahead = pool !== undefined ? Math.max(2, pool.threads.length + 1) : 1
    this.chunkBytes = chunkBytes ?? (pool !== undefined ? POOL_CHUNK_BYTES : MAIN_CHUNK_BYTES)
    // a trunc_normal_ op's values are kept in the dtype of its outputs (the materialization's)
    let kept = 0
    const exec = fill.init
    for (const op of exec?.ops ?? []) {
      const out = exec?.outputs[exec.values[op.value]?.outputs[0] ?? -1]
      if (op.dist.kind !== 'trunc_normal' || out === undefined) continue
      const bytes = op.numel * itemSize(out.dtype)
      if (bytes <= TRUNC_KEEP_BYTES) kept = Math.max(kept, bytes)
    }
    this.readBytes = (this.ahead + 2) * Math.min(this.chunkBytes, Math.max(1, size)) + this.ahead * kept
  }

  /**
   * Reserves the memory of one read against the budget (a 507 when it does not fit); the returned
   * function gives it back, once the response that read it has closed.
   */
  pin (): () => void {
    return this.budget.hold(this.readBytes)
  }

  /**
   * Arena bytes [start, end) in chunks, in order. With `sink` (a response that says how many of the
   * bytes read so far have left for the kernel, and when it has closed) the chunks are shared
   * buffers used again once sent: a new 8 MiB buffer per chunk costs its page faults and its
   * hand-over, as much as drawing a chunk (docs/lazy-bytes.md).
   */
  async * read (start: number, end: number, sink?: ReadSink): AsyncGenerator<Buffer> {
    const lanes = Array.from({ length: this.ahead }, () => ({ walk: {} as Walk, busy: Promise.resolve() as Promise<unknown> }))
    const queue: Array<Promise<Buffer>> = []
    /** shared buffers lent to this read's chunks, with the read offset their chunk ends at */
    const lent: Array<{ memory: SharedArrayBuffer, end: number }> = []
    let closed = false
    void sink?.closed.then(() => {
      closed = true
      // the response is gone: nothing sends its chunks any more (those in flight come back as they settle)
      for (const l of lent.splice(0)) giveBack(l.memory)
    })
    let next = start
    let j = 0
    /** starts the next chunk; false when every chunk is started */
    const launch = (): boolean => {
      if (next >= end) return false
      const a = next
      const n = Math.min(this.chunkBytes, end - a)
      next += n
      const lane = lanes[j++ % lanes.length] as (typeof lanes)[number]
      const made = lane.busy.then(async () => {
        if (!this.drawsIn(a, a + n)) return this.constantsOnly(a, n)
        // the walk's buffers move with the task: the lane has none until the result brings them back
        const walk = lane.walk
        lane.walk = {}
        if (sink === undefined) {
          const r = await this.produce({ fill: this.fill, start: a, memory: new ArrayBuffer(n), walk })
          lane.walk = r.walk
          return Buffer.from(r.memory)
        }
        // buffers the socket has sent go back first; then one is lent to this chunk
        while (lent.length > 0 && (lent[0] as { end: number }).end <= sink.sent()) giveBack((lent.shift() as { memory: SharedArrayBuffer }).memory)
        const memory = borrow(this.chunkBytes)
        const r = await this.produce({ fill: this.fill, start: a, memory, bytes: n, walk })
        lane.walk = r.walk
        if (closed) { giveBack(memory); return Buffer.alloc(0) }
        lent.push({ memory, end: a + n - start })
        return Buffer.from(memory, 0, n)
      })
      // a reader that goes away leaves chunks in flight: they settle unobserved
      made.catch(() => {})
      lane.busy = made.catch(() => {})
      queue.push(made)
      return true
    }
    for (;;) {
      while (queue.length < this.ahead && launch()) { /* up to `ahead` chunks in flight */ }
      const chunk = queue.shift()
      if (chunk === undefined) return
      yield await chunk
    }
  }

  /** Whether a drawn value lands in arena bytes [a, b). */
  private drawsIn (a: number, b: number): boolean {
    for (const o of this.fill.init?.outputs ?? []) if (o.offset < b && o.offset + o.numel * itemSize(o.dtype) > a) return true
    return false
  }

  /**
   * A chunk without drawn values: zeros are slices of one buffer that is never written, a chunk
   * inside one constant range (a tensor of ones) a slice of that constant's pattern, kept for the
   * next chunk; anything else is written on this thread (~0.2 ms a MiB).
   */
  private constantsOnly (a: number, n: number): Buffer {
    if ((this.fill.copies?.length ?? 0) === 0) {
      const under = this.fill.constants.filter((r) => r.offset < a + n && r.offset + r.nbytes > a)
      // +0.0 is all zero bits in every dtype (a range of `values` holds each element's own)
      if (under.every((r) => r.value === 0 && r.values === undefined)) return zeroChunk(this.chunkBytes).subarray(0, n)
      const r = under[0] as FillRange
      if (under.length === 1 && r.values === undefined && r.offset <= a && r.offset + r.nbytes >= a + n) return pattern(r, (a - r.offset) % DTYPES[r.dtype].bytes, this.chunkBytes).subarray(0, n)
    }
    const chunk = Buffer.allocUnsafe(n)
    produceRange(this.fill, a, chunk)
    return chunk
  }

  private async produce (task: RangeTask): Promise<RangeResult> {
    if (this.pool === undefined) return runRangeTask(task)
    return await (this.pool.run(task, { filename: rangeWorkerFile, transferList: movedBuffers(task) }) as Promise<RangeResult>)
  }
}
