// Running a slice of an init's random stream (init-cost.ts) into an arena: a sync generator of
// steps (a few ms each) that yield the output bytes they wrote. The "cpu" device runs it on the
// main thread, the "worker" device as chains of ~50 ms pool tasks that hand on a plain-data cursor
// (generator state included; docs/trunc-normal.md). trunc_normal_ runs in constant extra memory
// (nn-init.ts truncNormalRun). Each piece of a value is copied to the value's other outputs as soon
// as it is drawn (while it is in cache), so copies need no pass of their own.
import {
  allocDense, decodeElement, encodeElement, itemSize, normalFill, uniformFill,
  type DenseArray
} from '../init/distributions.js'
import { CpuGenerator, mtJumpMinBlocks, mtStateWords } from '../init/mt19937.js'
import { TruncBits, TruncOutput, truncNormalParams, truncNormalRun, truncNormalStart, type TruncNormalState } from '../init/nn-init.js'
import { makeDense } from '../init/storage.js'
import { fma32 } from '../init/fp.js'
import { uniformF32 } from '../init/uniform-fill.js'
import { philoxFill, type PhiloxDist } from '../init/philox.js'
import { ALL, before, fillCost, type Slice } from './init-cost.js'
import type { ExecOp, ExecOutput, ExecValue, InitExec } from './init-plan.js'
import type { Rng } from '../schemas/vocabulary.js'
import type { FloatDType } from '../tensor/dtype.js'

const STEP_NS = 4e6 // about 4 ms of work per step
const DISCARD_STEP = 1 << 21
/** From this many draws a skip is one jump (4–10 ms whatever its length, src/init/mt19937-jump.ts), not twisting in steps. */
const JUMP_MIN_DRAWS = Number(mtJumpMinBlocks) * mtStateWords
const COPY_STEP_BYTES = 16 << 20

function pieceLength (rng: Rng, op: ExecOp): number {
  const n = Math.max(16, Math.floor(STEP_NS / fillCost(rng, op.dtype, op.dist)))
  return n - (n % 16)
}

/** Writes `count` source-dtype elements into an output at element `start`, casting if the output dtype differs. */
export function writeCast (memory: ArrayBufferLike, out: ExecOutput, start: number, srcDtype: FloatDType, src: DenseArray, count: number): void {
  const size = itemSize(out.dtype)
  let data: DenseArray = src
  if (srcDtype !== out.dtype) {
    data = allocDense(out.dtype, count)
    for (let i = 0; i < count; i++) data[i] = encodeElement(out.dtype, decodeElement(srcDtype, src[i] as number))
  }
  new Uint8Array(memory, out.offset + start * size, count * size).set(new Uint8Array(data.buffer, data.byteOffset, count * size))
}

/**
 * Computes elements [s, e) of op (a fill-path op or a whole sequential one) into its first output.
 * `fill(target)` draws into a target of the op's dtype, continuing the stream.
 */
function * fillPieces (exec: InitExec, memory: ArrayBufferLike, op: ExecOp, s: number, e: number,
  fill: (data: Uint8Array | DenseArray, first: number) => void, at: (end: number) => void): Generator<number> {
  const outs = (exec.values[op.value] as ExecValue).outputs.map((o) => exec.outputs[o] as ExecOutput)
  const out = outs[0] as ExecOutput
  const outSize = itemSize(out.dtype)
  const step = pieceLength(exec.rng, op)
  const size = itemSize(op.dtype)
  let scratch: DenseArray | undefined
  for (let p = s; p < e;) {
    let q = Math.min(e, p + step)
    // the normal_ fill path's last piece must hold >= 16 elements (the ragged tail overwrites n-16..n-1)
    if (op.dist.kind === 'normal' && q < e && e - q < 16) q = e
    const count = q - p
    if (out.dtype === op.dtype) {
      fill(new Uint8Array(memory, out.offset + p * size, count * size), p)
    } else {
      if (scratch === undefined || scratch.length < count) scratch = allocDense(op.dtype, Math.min(e - s, step + 32))
      const view = scratch.subarray(0, count)
      fill(view, p)
      writeCast(memory, out, p, op.dtype, view, count)
    }
    // the piece is final (a normal_ tail only rewrites the last piece): copy it to the other outputs
    const bytes = count * outSize
    if (outs.length > 1) {
      const src = new Uint8Array(memory, out.offset + p * outSize, bytes)
      for (let j = 1; j < outs.length; j++) new Uint8Array(memory, (outs[j] as ExecOutput).offset + p * outSize, bytes).set(src)
    }
    at(q)
    yield bytes * outs.length
    p = q
  }
}

/**
 * Where a run of the stream stopped, as plain data a worker task returns and the next one resumes
 * from: op index, MT19937 outputs of that op already drawn (philox: elements), the trunc_normal_
 * loop's state, and the generator (CpuGenerator.getState(), which carries the cached normal).
 */
export interface DrawCursor {
  readonly op: number
  readonly drawn: number
  readonly trunc?: TruncCursor
  readonly gen?: Uint8Array
}

/** A trunc_normal_ op under way: its loop's state, then the copies to the value's other outputs. */
export interface TruncCursor {
  readonly state: TruncNormalState
  readonly done: boolean
  readonly copied: number
  /** a draw no output keeps: one bit per element (shared, so the next task sees it) */
  readonly bits?: ArrayBufferLike
}

/**
 * Draws the surviving values of one slice of the stream into their first outputs. Every op is
 * visited in order up to the slice's end, so the generator (and its cached normal sample) is
 * exactly torch's at each op; ops outside the slice are discarded or, if sequential, computed
 * without being written. Each step is a few ms of work; between steps cursor() says where to resume.
 */
export class DrawRun {
  private readonly gen: CpuGenerator
  private at: { op: number, drawn: number, trunc?: TruncCursor | undefined }
  private finished = false

  constructor (private readonly exec: InitExec, private readonly memory: ArrayBufferLike, private readonly slice: Slice = ALL, from?: DrawCursor) {
    this.gen = new CpuGenerator(exec.seed)
    if (from?.gen !== undefined) this.gen.setState(from.gen)
    this.at = { op: from?.op ?? 0, drawn: from?.drawn ?? 0, trunc: from?.trunc }
  }

  /** Where to resume after the last step, or null when the slice is done. */
  cursor (): DrawCursor | null {
    if (this.finished) return null
    return { ...this.at, ...(this.exec.rng === 'torch' ? { gen: this.gen.getState() } : {}) }
  }

  * steps (): Generator<number> {
    if (this.exec.rng === 'philox') yield * this.philox()
    else yield * this.torch()
    this.finished = true
  }

  private * discardTo (target: number): Generator<number> {
    while (this.at.drawn < target) {
      const gap = target - this.at.drawn
      const n = gap >= JUMP_MIN_DRAWS ? gap : Math.min(gap, DISCARD_STEP)
      this.gen.discard(n)
      this.at.drawn += n
      if (this.at.drawn < target) yield 0
    }
  }

  private * torch (): Generator<number> {
    const { exec, memory, slice, gen } = this
    for (let i = this.at.op; i < exec.ops.length; i++) {
      const op = exec.ops[i] as ExecOp
      if (!before({ op: i, elem: 0 }, slice.to)) break
      if (i !== this.at.op) this.at = { op: i, drawn: 0 }
      const owned = op.value >= 0 && !before({ op: i, elem: 0 }, slice.from)
      if (op.dist.kind === 'trunc_normal') {
        yield * this.truncOp(i, op, owned)
        continue
      }
      if (op.draws < 0) { // the scalar normal path (numel < 16): computed by every slice that passes it, written by the one owning it
        const data = allocDense(op.dtype, op.numel)
        normalFill(gen, { dtype: op.dtype, data }, op.dist.kind === 'normal' ? op.dist.mean : 0, op.dist.kind === 'normal' ? op.dist.std : 1)
        if (owned) {
          for (const o of (exec.values[op.value] as ExecValue).outputs) writeCast(memory, exec.outputs[o] as ExecOutput, 0, op.dtype, data, op.numel)
          this.at = { op: i + 1, drawn: 0 }
          yield 0
        }
        continue
      }
      // this slice's elements of the op
      let s = 0
      let e = 0
      if (op.value >= 0) {
        s = slice.from.op < i ? 0 : slice.from.op === i ? slice.from.elem : op.numel
        e = slice.to.op > i ? op.numel : slice.to.op === i ? slice.to.elem : 0
      }
      if (e > s) {
        const k = op.dtype === 'float64' ? 2 : 1
        yield * this.discardTo(k * s)
        const filled = e === op.numel ? op.draws : k * e
        if (this.at.drawn < filled) {
          const dist = op.dist
          yield * fillPieces(exec, memory, op, Math.max(s, this.at.drawn / k), e, (data) => {
            const t = { dtype: op.dtype, data }
            if (dist.kind === 'uniform') uniform(gen, t, dist.low, dist.high)
            else if (dist.kind === 'normal') normalFill(gen, t, dist.mean, dist.std)
          }, (q) => { this.at.drawn = q === op.numel ? op.draws : k * q })
        }
      }
      yield * this.discardTo(op.draws)
    }
  }

  /**
   * trunc_normal_ in steps of about STEP_NS (nn-init.ts truncNormalRun): into the first output
   * (NaN marks what is still outside [a, b]), then copied to the value's other outputs.
   */
  private * truncOp (i: number, op: ExecOp, owned: boolean): Generator<number> {
    const d = op.dist
    if (d.kind !== 'trunc_normal') throw new Error('internal: not trunc_normal_')
    const params = truncNormalParams(op.dtype, op.numel, d.mean, d.std, d.a, d.b)
    const outs = owned ? (this.exec.values[op.value] as ExecValue).outputs.map((o) => this.exec.outputs[o] as ExecOutput) : []
    const first = outs[0]
    const tc = this.at.trunc ?? { state: truncNormalStart(), done: false, copied: 0 }
    let bits = tc.bits
    if (first === undefined && bits === undefined) {
      const size = TruncBits.bytes(op.numel)
      bits = this.memory instanceof SharedArrayBuffer ? new SharedArrayBuffer(size) : new ArrayBuffer(size)
    }
    const store = first !== undefined
      ? new TruncOutput(makeDense(first.dtype, this.memory, first.offset, op.numel), first.dtype, params)
      : new TruncBits(new Uint8Array(bits as ArrayBufferLike), params)
    const state = { ...tc.state }
    let done = tc.done
    while (!done) {
      done = truncNormalRun(this.gen, params, store, state, STEP_NS)
      this.at = { op: i, drawn: 0, trunc: { state: { ...state }, done, copied: 0, ...(bits !== undefined ? { bits } : {}) } }
      if (done && first !== undefined) yield op.numel * itemSize(first.dtype)
      else yield 0
    }
    // copies, a piece at a time (deep copies: TransformerEncoder layers)
    if (first !== undefined && outs.length > 1) {
      const size = itemSize(first.dtype)
      const piece = Math.max(1, Math.floor(COPY_STEP_BYTES / size))
      for (let p = tc.copied; p < op.numel; p += piece) {
        const count = Math.min(piece, op.numel - p)
        const src = new Uint8Array(this.memory, first.offset + p * size, count * size)
        for (const o of outs.slice(1)) new Uint8Array(this.memory, o.offset + p * size, count * size).set(src)
        this.at = { op: i, drawn: 0, trunc: { state, done: true, copied: p + count } }
        yield count * size * (outs.length - 1)
      }
    }
    this.at = { op: i + 1, drawn: 0 }
  }

  private * philox (): Generator<number> {
    const { exec, memory, slice } = this
    for (let i = Math.max(this.at.op, slice.from.op); i < exec.ops.length && before({ op: i, elem: 0 }, slice.to); i++) {
      const op = exec.ops[i] as ExecOp
      if (i !== this.at.op) this.at = { op: i, drawn: 0 }
      const s = Math.max(slice.from.op === i ? slice.from.elem : 0, this.at.drawn)
      const e = slice.to.op === i ? slice.to.elem : op.numel
      if (e <= s) continue
      const v = exec.values[op.value] as ExecValue
      const dist = op.dist as PhiloxDist
      yield * fillPieces(exec, memory, op, s, e, (data, first) => {
        const bytes = data instanceof Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
        philoxFill(bytes, op.dtype, dist, { seed: exec.seed, name: v.key }, first)
      }, (q) => { this.at.drawn = q })
    }
  }
}

/** A whole slice as one generator of steps (tests, and the cpu device). */
export function runDraws (exec: InitExec, memory: ArrayBufferLike, slice: Slice = ALL): Generator<number> {
  return new DrawRun(exec, memory, slice).steps()
}

const fround = Math.fround
const largestDraw = (2 ** 24 - 1) * 2 ** -24

/**
 * uniformFill, but for float32 without torch 2.x's "v == to -> from" pass when no value can reach
 * `to`: the values are nondecreasing in the draw, so that holds when the largest draw's value
 * fma32((2^24-1)/2^24, range, from) is below `to` (always, for the usual ±bound). Same bytes,
 * about 30% faster (the pass re-reads every element). Bounds were checked when the op was planned.
 */
export function uniform (gen: CpuGenerator, t: { dtype: FloatDType, data: Uint8Array | DenseArray }, low: number, high: number): void {
  if (t.dtype === 'float32') {
    const from = fround(low); const to = fround(high); const range = fround(to - from)
    const d = t.data
    const view = d instanceof Float32Array ? d : d instanceof Uint8Array && d.byteOffset % 4 === 0 ? new Float32Array(d.buffer, d.byteOffset, d.byteLength / 4) : undefined
    if (view !== undefined && range > 0 && fma32(largestDraw, range, from) < to) {
      uniformF32(gen, view, 0, view.length, 0xffffff, 2 ** -24, from, range, NaN)
      return
    }
  }
  uniformFill(gen, t, low, high)
}

/** padding_idx rows (after the copies: a copy's own patches are applied to it). */
export function applyPatches (exec: InitExec, memory: ArrayBufferLike): void {
  for (const o of exec.outputs) {
    for (const p of o.patches) {
      const src = o.srcDtype
      const v = decodeElement(src, encodeElement(src, p.value))
      const data = allocDense(o.dtype, p.count).fill(encodeElement(o.dtype, v))
      const size = itemSize(o.dtype)
      new Uint8Array(memory, o.offset + p.start * size, p.count * size).set(new Uint8Array(data.buffer))
    }
  }
}
