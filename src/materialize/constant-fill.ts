// Constant fills (zeros, ones, buffer constructor values) for every dtype, into windows of an arena.
// The same code runs on the main thread (device "cpu") and in the worker pool (device "worker").
import { DTYPES, type DType } from '../tensor/dtype.js'
import { encodeElement } from '../init/storage.js'

/**
 * One region to fill: bytes [offset, offset + nbytes) of the arena hold `dtype` elements = value,
 * or, with `values`, element i of the region = values[i] (a buffer computed by its constructor).
 */
export interface FillRange {
  offset: number
  nbytes: number
  dtype: DType
  value: number
  values?: readonly number[]
}

/** `values` as little-endian `dtype` elements (floating, or int64 such as BERT's position_ids). */
export function valuesBytes (dtype: DType, values: readonly number[]): Uint8Array {
  const size = DTYPES[dtype].bytes
  const out = new Uint8Array(values.length * size)
  switch (dtype) {
    case 'float32': new Float32Array(out.buffer).set(values); break
    case 'float64': new Float64Array(out.buffer).set(values); break
    case 'float16':
    case 'bfloat16': new Uint16Array(out.buffer).set(values.map((v) => encodeElement(dtype, v))); break
    case 'int64': new BigInt64Array(out.buffer).set(values.map((v) => BigInt(v))); break
    default: throw new Error(`internal: element values of a ${dtype} buffer`)
  }
  return out
}

/** Bytes [done, done + nbytes) of a range, as a range of their own. */
export function subRange (r: FillRange, done: number, nbytes: number): FillRange {
  const piece: FillRange = { ...r, offset: r.offset + done, nbytes }
  if (r.values === undefined) return piece
  const size = DTYPES[r.dtype].bytes
  return { ...piece, values: r.values.slice(done / size, (done + nbytes) / size) }
}

/** Fills `count` elements starting at byte `offset` of `memory` (window must stay under 4 GiB). */
function fillWindow (memory: ArrayBufferLike, offset: number, count: number, dtype: DType, value: number): void {
  switch (dtype) {
    case 'float32': new Float32Array(memory, offset, count).fill(value); break
    case 'float64': new Float64Array(memory, offset, count).fill(value); break
    case 'float16': new Uint16Array(memory, offset, count).fill(encodeElement('float16', value)); break
    case 'bfloat16': new Uint16Array(memory, offset, count).fill(encodeElement('bfloat16', value)); break
    case 'int64': new BigInt64Array(memory, offset, count).fill(BigInt(Math.trunc(value))); break
    case 'int32': new Int32Array(memory, offset, count).fill(value); break
    case 'int16': new Int16Array(memory, offset, count).fill(value); break
    case 'int8': new Int8Array(memory, offset, count).fill(value); break
    case 'uint8': new Uint8Array(memory, offset, count).fill(value); break
    case 'bool': new Uint8Array(memory, offset, count).fill(value !== 0 ? 1 : 0); break
  }
}

/** Splits ranges into pieces of at most `chunk` bytes (element-aligned), in order. */
export function * fillSteps (ranges: readonly FillRange[], chunk: number): Generator<FillRange> {
  for (const r of ranges) {
    const size = DTYPES[r.dtype].bytes
    const step = Math.max(size, chunk - (chunk % size))
    for (let done = 0; done < r.nbytes; done += step) {
      yield subRange(r, done, Math.min(step, r.nbytes - done))
    }
  }
}

export function fillRange (memory: ArrayBufferLike, r: FillRange): void {
  if (r.nbytes === 0) return
  if (r.values !== undefined) {
    new Uint8Array(memory, r.offset, r.nbytes).set(valuesBytes(r.dtype, r.values))
    return
  }
  fillWindow(memory, r.offset, r.nbytes / DTYPES[r.dtype].bytes, r.dtype, r.value)
}

/** Splits ranges into `parts` lists of about equal bytes, for parallel fills. */
export function splitRanges (ranges: readonly FillRange[], parts: number): FillRange[][] {
  const total = ranges.reduce((n, r) => n + r.nbytes, 0)
  const target = Math.max(1, Math.ceil(total / parts))
  const out: FillRange[][] = [[]]
  let current = 0
  for (const piece of fillSteps(ranges, Math.min(target, 64 << 20))) {
    if (current + piece.nbytes > target && (out[out.length - 1]?.length ?? 0) > 0 && out.length < parts) {
      out.push([])
      current = 0
    }
    out[out.length - 1]?.push(piece)
    current += piece.nbytes
  }
  return out.filter((l) => l.length > 0)
}

/** The parts of [0, size) no range covers, as uint8 zero fills: what a recycled arena must clear. */
export function uncoveredZeros (size: number, covered: ReadonlyArray<{ offset: number, nbytes: number }>): FillRange[] {
  const spans = covered.filter((c) => c.nbytes > 0).map((c) => [c.offset, c.offset + c.nbytes] as const).sort((a, b) => a[0] - b[0])
  const out: FillRange[] = []
  let at = 0
  for (const [start, end] of spans) {
    if (start > at) out.push({ offset: at, nbytes: Math.min(start, size) - at, dtype: 'uint8', value: 0 })
    at = Math.max(at, end)
    if (at >= size) break
  }
  if (at < size) out.push({ offset: at, nbytes: size - at, dtype: 'uint8', value: 0 })
  return out.filter((r) => r.nbytes > 0)
}
