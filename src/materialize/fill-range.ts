// Any byte range [a, b) of a Fill's arena, produced into a buffer without the rest of the arena:
// what a byte-range read of a file that is never resident needs. The bytes are those a whole fill
// (fill-runner.ts) writes; test/materialize/fill-ranges.test.ts checks that against every golden
// init case.
//
// What a range costs, per kind of byte in it:
//   * constants, patches, zeros: the bytes themselves.
//   * copies: the source bytes under them (read through RandomAccessSource; a cast reads whole elements).
//   * rng "philox": the elements under the range only (each element is a function of its counter, docs/philox.md).
//   * rng "torch": torch's MT19937 stream is sequential, so the generator is walked from the seed:
//     every op before the range is skipped with MT19937.discard (~0.3 ns a draw: twists, no
//     tempering), except the ops computed in order wherever they are passed: normal_'s scalar path
//     (numel < 16, it uses the generator's cached Box-Muller sample) and trunc_normal_ (rejection
//     sampling draws a data-dependent number of values; a bit per element to know what is still
//     rejected). Inside a uniform_ op the range starts at its first element; inside a normal_ op at
//     the start of its 16-element Box-Muller block (the elements before it in the block are
//     computed and dropped), and a range that reaches the last 16 elements of an op whose size is
//     not a multiple of 16 computes up to the op's end (its ragged tail redraws the last 16). A
//     trunc_normal_ op the range touches is computed whole, from its first element, in memory of
//     its size. A value's deep copies and tied aliases read the value at the same elements; a cast
//     tensor is computed in the module's dtype and converted element by element.
//     Ranges read in order (a file streamed to a client) carry a Walk from one to the next: the
//     generator's state at the start of the last piece computed, where the next range resumes
//     instead of walking from the seed, and the last trunc_normal_ op computed whole. A range before
//     the walk's point starts again from the seed (a seek: the skips jump, docs/lazy-bytes.md).
import { DTYPES, type FloatDType } from '../tensor/dtype.js'
import { allocDense, castBytes, castBytesInto, decodeElement, encodeElement, itemSize, makeDense, type DenseArray } from '../init/storage.js'
import { normalFill } from '../init/distributions.js'
import { CpuGenerator } from '../init/mt19937.js'
import { TruncBits, TruncOutput, truncNormalParams, truncNormalRun, truncNormalStart } from '../init/nn-init.js'
import { philoxFill, type PhiloxDist } from '../init/philox.js'
import { fillRange, valuesBytes } from './constant-fill.js'
import { uniform } from './draw-run.js'
import { cutPoint } from './init-cost.js'
import type { ExecOp, ExecOutput, InitExec } from './init-plan.js'
import type { Fill } from './fill.js'

/** A copy source read at any position (a file on disk; a streamed upload is read in order by fill-runner.ts instead). */
export interface RandomAccessSource {
  /** fills `into` with source bytes [position, position + into.length) */
  read: (position: number, into: Uint8Array) => void
}

/** Where a walk of an rng "torch" stream resumes: element `elem` (a cut point, or 0) of op `op`, the generator's state there (CpuGenerator.getState). */
export interface StreamPoint { readonly op: number, readonly elem: number, readonly state: Uint8Array }

/** A trunc_normal_ op computed whole: its values in `dtype` and the generator's state after it. */
export interface TruncDone { readonly op: number, readonly dtype: FloatDType, readonly values: Uint8Array, readonly after: Uint8Array }

/**
 * What a sequence of ranges carries from one to the next (plain data: a pool task takes it and gives
 * it back). Only an optimisation: any walk, or none, gives the same bytes.
 */
export interface Walk { point?: StreamPoint | undefined, trunc?: TruncDone | undefined }

/** A trunc_normal_ op's values are kept for the next range only up to this size. */
export const TRUNC_KEEP_BYTES = 64 << 20

export interface RangeOptions {
  /** the source of the fill's copies */
  source?: RandomAccessSource | undefined
  /** read and updated: where this range's walk starts and the next one's may */
  walk?: Walk | undefined
  /** `into` is all zero already (new memory): not cleared again */
  zeroed?: boolean | undefined
}

/** Writes arena bytes [a, a + into.length) of `fill` into `into`. */
export function produceRange (fill: Fill, a: number, into: Uint8Array, { source, walk = {}, zeroed = false }: RangeOptions = {}): void {
  const b = a + into.length
  if (!zeroed) into.fill(0)
  if (fill.init !== undefined) {
    produceDraws(fill.init, a, b, into, walk)
    for (const o of fill.init.outputs) {
      const size = itemSize(o.dtype)
      for (const p of o.patches) {
        const v = decodeElement(o.srcDtype, encodeElement(o.srcDtype, p.value))
        const element = allocDense(o.dtype, 1).fill(encodeElement(o.dtype, v))
        repeat(into, a, o.offset + p.start * size, p.count * size, new Uint8Array(element.buffer))
      }
    }
  }
  for (const c of fill.copies ?? []) {
    const [lo, hi] = overlap(c.offset, c.nbytes, a, b)
    if (lo >= hi) continue
    if (source === undefined) throw new Error('internal: a fill with copies needs their source')
    if (c.dtype === c.srcDtype) {
      source.read(c.begin + lo - c.offset, into.subarray(lo - a, hi - a))
      continue
    }
    const ds = DTYPES[c.dtype].bytes
    const ss = DTYPES[c.srcDtype].bytes
    const e0 = Math.floor((lo - c.offset) / ds)
    const e1 = Math.ceil((hi - c.offset) / ds)
    const src = new Uint8Array((e1 - e0) * ss)
    source.read(c.begin + e0 * ss, src)
    place(into, a, lo, hi, c.offset + e0 * ds, castBytes(c.srcDtype as FloatDType, c.dtype as FloatDType, src))
  }
  for (const r of fill.constants) {
    if (r.values !== undefined) {
      const [lo, hi] = overlap(r.offset, r.nbytes, a, b)
      if (lo < hi) place(into, a, lo, hi, r.offset, valuesBytes(r.dtype, r.values))
      continue
    }
    const size = DTYPES[r.dtype].bytes
    const element = new ArrayBuffer(8)
    fillRange(element, { ...r, offset: 0, nbytes: size })
    repeat(into, a, r.offset, r.nbytes, new Uint8Array(element, 0, size))
  }
}

/** [lo, hi): the part of [offset, offset + nbytes) inside [a, b) (empty when lo >= hi). */
function overlap (offset: number, nbytes: number, a: number, b: number): [number, number] {
  return [Math.max(a, offset), Math.min(b, offset + nbytes)]
}

/** Arena bytes [offset, offset + nbytes) repeat `element`: their part inside the range. */
function repeat (into: Uint8Array, a: number, offset: number, nbytes: number, element: Uint8Array): void {
  const [lo, hi] = overlap(offset, nbytes, a, a + into.length)
  if (lo >= hi) return
  const t = into.subarray(lo - a, hi - a)
  const size = element.length
  const phase = (lo - offset) % size
  const first = Math.min(size, t.length)
  for (let i = 0; i < first; i++) t[i] = element[(phase + i) % size] as number
  // doubling copies of whole periods
  for (let done = first; done < t.length; done *= 2) t.copyWithin(done, 0, Math.min(done, t.length - done))
}

/** Copies arena bytes [lo, hi) from `bytes`, which hold the arena from byte `start` on. */
function place (into: Uint8Array, a: number, lo: number, hi: number, start: number, bytes: Uint8Array): void {
  into.set(bytes.subarray(lo - start, hi - start), lo - a)
}

let scratchMemory = new ArrayBuffer(0)
/** `n` elements of `dtype` over memory reused from one call to the next (drawn values live only until they are cast into the range). */
function scratch (dtype: FloatDType, n: number): DenseArray {
  const bytes = n * itemSize(dtype)
  if (scratchMemory.byteLength < bytes) scratchMemory = new ArrayBuffer(bytes)
  return makeDense(dtype, scratchMemory, 0, n)
}

/** Elements [s, e) of one output that the range needs. */
interface Want { out: ExecOutput, s: number, e: number }

function produceDraws (exec: InitExec, a: number, b: number, into: Uint8Array, walk: Walk): void {
  const wants = new Map<number, Want[]>() // by op
  for (const v of exec.values) {
    for (const i of v.outputs) {
      const out = exec.outputs[i] as ExecOutput
      const size = itemSize(out.dtype)
      const [lo, hi] = overlap(out.offset, out.numel * size, a, b)
      if (lo >= hi) continue
      const list = wants.get(v.op) ?? []
      list.push({ out, s: Math.floor((lo - out.offset) / size), e: Math.ceil((hi - out.offset) / size) })
      wants.set(v.op, list)
    }
  }
  if (wants.size === 0) return
  // elements [s, s + data.length) of an op, in `dtype`, to the outputs that want them
  const emit = (list: readonly Want[], s: number, data: DenseArray, dtype: FloatDType): void => {
    for (const w of list) {
      if (w.s < s || w.e > s + data.length) continue
      const size = itemSize(w.out.dtype)
      const part = data.subarray(w.s - s, w.e - s)
      const bytes = new Uint8Array(part.buffer, part.byteOffset, part.byteLength)
      const start = w.out.offset + w.s * size
      const end = start + (w.e - w.s) * size
      // whole elements inside the range are cast in place; one cut by an end of the range goes through a copy
      if (start >= a && end <= b) castBytesInto(dtype, w.out.dtype, bytes, into.subarray(start - a, end - a))
      else place(into, a, Math.max(a, start), Math.min(b, end), start, castBytes(dtype, w.out.dtype, bytes))
    }
  }
  if (exec.rng === 'philox') {
    for (const [i, list] of wants) {
      const op = exec.ops[i] as ExecOp
      const key = { seed: exec.seed, name: exec.values[op.value]?.key as string }
      for (const w of list) {
        // float32 uniform_ values cast to bfloat16: the kernel rounds them as the cast would (checkParams
        // keeps float32 bounds for both), straight into the range
        const start = w.out.offset + w.s * 2
        const end = start + (w.e - w.s) * 2
        if (op.dist.kind === 'uniform' && op.dtype === 'float32' && w.out.dtype === 'bfloat16' && start >= a && end <= b) {
          philoxFill(into.subarray(start - a, end - a), 'bfloat16', op.dist, key, w.s)
          continue
        }
        const data = scratch(op.dtype, w.e - w.s)
        philoxFill(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), op.dtype, op.dist as PhiloxDist, key, w.s)
        emit([w], w.s, data, op.dtype)
      }
    }
    return
  }
  let last = 0
  let first = Infinity
  for (const i of wants.keys()) { last = Math.max(last, i); first = Math.min(first, i) }
  const firstOp = exec.ops[first] as ExecOp
  const firstElem = firstOp.value >= 0 && firstOp.draws >= 0 && firstOp.dist.kind !== 'trunc_normal'
    ? (pieces(firstOp, wants.get(first) as Want[])[0] as [number, number])[0]
    : 0
  const gen = new CpuGenerator(exec.seed)
  let start = 0
  let startElem = 0
  const p = walk.point
  if (p !== undefined && (p.op < first || (p.op === first && p.elem <= firstElem))) {
    gen.setState(p.state)
    start = p.op
    startElem = p.elem
  }
  // skips add up and are taken at once before the next draw: one jump across all the ops a range passes
  let skip = 0
  const flush = (): void => { if (skip > 0) gen.discard(skip); skip = 0 }
  const mark = (op: number, elem: number): void => { flush(); walk.point = { op, elem, state: gen.getState() } }
  for (let i = start; i <= last; i++) {
    const op = exec.ops[i] as ExecOp
    const list = wants.get(i)
    const d = op.dist
    if (d.kind === 'trunc_normal') {
      // the outputs of one value share a dtype (the materialization's)
      const dtype = list?.[0]?.out.dtype
      const kept = walk.trunc
      if (kept !== undefined && kept.op === i && (dtype === undefined || kept.dtype === dtype)) {
        skip = 0
        gen.setState(kept.after)
        if (list !== undefined && dtype !== undefined) emit(list, 0, makeDense(dtype, kept.values.buffer, kept.values.byteOffset, op.numel), dtype)
        continue
      }
      if (list !== undefined) mark(i, 0)
      const params = truncNormalParams(op.dtype, op.numel, d.mean, d.std, d.a, d.b)
      const data = dtype !== undefined ? allocDense(dtype, op.numel) : undefined
      const store = data !== undefined && dtype !== undefined
        ? new TruncOutput(data, dtype, params)
        : new TruncBits(new Uint8Array(TruncBits.bytes(op.numel)), params)
      const state = truncNormalStart()
      flush()
      while (!truncNormalRun(gen, params, store, state, Infinity)) { /* until every element is inside [a, b] */ }
      if (list !== undefined && data !== undefined && dtype !== undefined) {
        emit(list, 0, data, dtype)
        if (data.byteLength <= TRUNC_KEEP_BYTES) {
          walk.trunc = { op: i, dtype, values: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), after: gen.getState() }
        }
      }
      continue
    }
    const mean = d.kind === 'normal' ? d.mean : 0
    const std = d.kind === 'normal' ? d.std : 1
    if (op.draws < 0) { // normal_'s scalar path: computed in order
      if (list !== undefined) mark(i, 0)
      const data = allocDense(op.dtype, op.numel)
      flush()
      normalFill(gen, { dtype: op.dtype, data }, mean, std)
      if (list !== undefined) emit(list, 0, data, op.dtype)
      continue
    }
    const k = op.dtype === 'float64' ? 2 : 1
    let drawn = i === start ? k * startElem : 0
    if (list === undefined) { skip += op.draws - drawn; continue }
    for (const [s, e] of pieces(op, list)) {
      skip += k * s - drawn
      mark(i, s)
      const data = scratch(op.dtype, e - s)
      if (d.kind === 'uniform') uniform(gen, { dtype: op.dtype, data }, d.low, d.high)
      else normalFill(gen, { dtype: op.dtype, data }, mean, std)
      drawn = e === op.numel ? op.draws : k * e
      emit(list, s, data, op.dtype)
    }
    skip += op.draws - drawn
  }
}

/**
 * The element pieces of a fill-path op to compute for `list`, in order, disjoint: each want
 * widened to where the op's stream can start and stop (uniform_: any element; normal_: its
 * 16-blocks, and the end of the op once the ragged tail is reached), overlapping pieces merged.
 */
function pieces (op: ExecOp, list: readonly Want[]): Array<[number, number]> {
  const lastCut = cutPoint(op, op.numel)
  const widened = list.map((w): [number, number] => {
    if (op.dist.kind === 'uniform') return [w.s, w.e]
    return [cutPoint(op, w.s), w.e > lastCut ? op.numel : Math.ceil(w.e / 16) * 16]
  }).sort((x, y) => x[0] - y[0])
  const out: Array<[number, number]> = []
  for (const [s, e] of widened) {
    const prev = out[out.length - 1]
    if (prev !== undefined && s <= prev[1]) prev[1] = Math.max(prev[1], e)
    else out.push([s, e])
  }
  return out
}
