// One arena per materialization: a single buffer laid out like a safetensors data section, so every
// tensor and the whole file are served as zero-copy views. A new buffer is zero; a recycled one
// (arena-cache.ts) is not, and the registry zeroes whatever its fill does not write. Typed-array
// and Buffer views stop at 4 GiB on Node 20 (an ArrayBuffer does not), so views are taken in windows.
import type { ReadSink } from './lazy-arena.js'

export type ArenaMemory = SharedArrayBuffer

/** What a byte response reads: a resident Arena, or a lazy one whose bytes are made as they are read (lazy-arena.ts). */
export interface ArenaBytes {
  /** Marks the bytes as read by a response until the returned function is called (may refuse: a 507). */
  pin: () => () => void
  /** Bytes [start, end) in pieces, in order; `sink` (lazy-arena.ts) says how many have been sent. */
  read: (start: number, end: number, sink?: ReadSink) => Iterable<Buffer> | AsyncIterable<Buffer>
}

/** Largest single view we take: well under Node 20's 4 GiB Buffer limit. */
export const MAX_VIEW_BYTES = 2 ** 30

export class Arena implements ArenaBytes {
  readonly memory: ArenaMemory
  private pins = 0
  private unpinned: Array<() => void> = []

  /**
   * Always a SharedArrayBuffer: worker threads fill it in place, and even on device "cpu" it avoids
   * the main-thread GC that V8 runs inside the request when a multi-GiB ArrayBuffer is allocated
   * (measured: skip_init of 1 GiB took 10-45 ms with ArrayBuffer, 3 ms with SharedArrayBuffer).
   * `memory` may be a recycled buffer at least `size` bytes long.
   */
  constructor (readonly size: number, memory?: ArenaMemory) {
    if (memory !== undefined && memory.byteLength < size) throw new RangeError(`recycled memory of ${memory.byteLength} bytes is smaller than ${size}`)
    // zero-length buffers are legal but some views of them are not; keep one byte
    this.memory = memory ?? new SharedArrayBuffer(Math.max(1, size))
  }

  /** A Buffer view of [start, start + length); length at most MAX_VIEW_BYTES. */
  view (start: number, length: number): Buffer {
    if (length > MAX_VIEW_BYTES) throw new RangeError(`view of ${length} bytes exceeds ${MAX_VIEW_BYTES}`)
    return Buffer.from(this.memory, start, length)
  }

  /** Zero-copy views covering [start, end) in pieces of at most `chunk` bytes. */
  * views (start: number, end: number, chunk = 1 << 20): Generator<Buffer> {
    for (let p = start; p < end; p += chunk) yield this.view(p, Math.min(chunk, end - p))
  }

  read (start: number, end: number): Iterable<Buffer> { return this.views(start, end) }

  /**
   * Marks the memory as read by someone outside the registry (a response whose views may still sit
   * in a socket's queue); the returned function ends that. Memory is recycled only when unpinned.
   */
  pin (): () => void {
    this.pins++
    let done = false
    return () => {
      if (done) return
      done = true
      if (--this.pins === 0) for (const f of this.unpinned.splice(0)) f()
    }
  }

  /** Whether a reader holds a pin. */
  get pinned (): boolean { return this.pins > 0 }

  /** Resolves once no reader holds a pin. */
  async whenUnpinned (): Promise<void> {
    if (this.pins === 0) return
    await new Promise<void>((resolve) => this.unpinned.push(resolve))
  }
}
