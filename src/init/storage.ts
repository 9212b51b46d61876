// Where the init kernels write: a contiguous tensor's storage, in place.
//
// A target is a typed array of the dtype (Uint16Array holds float16/bfloat16 bits) or the tensor's
// little-endian bytes as a Uint8Array, e.g. a slice of a SharedArrayBuffer arena. An aligned
// Uint8Array is viewed as the element type without copying; a misaligned one (or a big-endian
// host) is filled through a small chunk buffer.

import { bf16BitsFromF32, bf16FromBits, castF32BitsToBf16, castF32BitsToF16, f16BitsFromF32, f16FromBits, hostIsLittleEndian } from './fp.js'
import { DTYPES, type FloatDType } from '../tensor/dtype.js'
import { wasmCastF32ToBf16 } from './philox-wasm.js'

/** Element storage: Float32Array / Float64Array for those dtypes, Uint16Array of raw bits for float16 /
 * bfloat16, or the little-endian bytes of any of them. */
export type FloatStorage = Float32Array | Float64Array | Uint16Array | Uint8Array

/** A contiguous tensor's storage and dtype; numel is implied by the storage length. */
export interface FillTarget {
  readonly dtype: FloatDType
  readonly data: FloatStorage
}

/** A typed array holding elements of a dtype (bits for the 16-bit types). */
export type DenseArray = Float32Array | Float64Array | Uint16Array

export function itemSize (dtype: FloatDType): number {
  return DTYPES[dtype].bytes
}

/** Number of elements a target holds. */
export function numelOf (target: FillTarget): number {
  const { data, dtype } = target
  if (data instanceof Uint8Array) {
    const size = itemSize(dtype)
    if (data.byteLength % size !== 0) {
      throw new RangeError(`byte length ${data.byteLength} is not a multiple of the ${dtype} size ${size}`)
    }
    return data.byteLength / size
  }
  return data.length
}

export function makeDense (dtype: FloatDType, buffer: ArrayBufferLike, byteOffset: number, length: number): DenseArray {
  switch (dtype) {
    case 'float32': return new Float32Array(buffer, byteOffset, length)
    case 'float64': return new Float64Array(buffer, byteOffset, length)
    default: return new Uint16Array(buffer, byteOffset, length)
  }
}

/** Allocate a fresh typed array of the dtype with n elements. */
export function allocDense (dtype: FloatDType, n: number): DenseArray {
  return makeDense(dtype, new ArrayBuffer(n * itemSize(dtype)), 0, n)
}

/** The target as a typed array of its element type, or null when it must go through chunks. */
export function directView (target: FillTarget, n: number): DenseArray | null {
  const { data, dtype } = target
  if (!(data instanceof Uint8Array)) {
    const ok = dtype === 'float32'
      ? data instanceof Float32Array
      : dtype === 'float64' ? data instanceof Float64Array : data instanceof Uint16Array
    if (!ok) throw new TypeError(`storage ${data.constructor.name} does not hold ${dtype}`)
    return data
  }
  if (!hostIsLittleEndian || data.byteOffset % itemSize(dtype) !== 0) return null
  return makeDense(dtype, data.buffer, data.byteOffset, n)
}

/** Copy `count` elements of src (host order) into the byte target at element `start`, little endian. */
function writeBytes (bytes: Uint8Array, dtype: FloatDType, start: number, src: DenseArray, count: number): void {
  const size = itemSize(dtype)
  const srcBytes = new Uint8Array(src.buffer, src.byteOffset, count * size)
  const at = start * size
  if (hostIsLittleEndian) {
    bytes.set(srcBytes, at)
    return
  }
  for (let i = 0; i < count; i++) {
    for (let b = 0; b < size; b++) bytes[at + i * size + b] = srcBytes[i * size + size - 1 - b]!
  }
}

/** Write elements [start, start+count) of the target from src. */
export function writeElements (target: FillTarget, direct: DenseArray | null, start: number, src: DenseArray, count: number): void {
  if (direct !== null) {
    direct.set(src.subarray(0, count) as never, start)
  } else {
    writeBytes(target.data as Uint8Array, target.dtype, start, src, count)
  }
}

/** Fills dst[off .. off+count) and consumes the generator as if called once for the whole range. */
export type Producer = (dst: DenseArray, off: number, count: number) => void

const chunkElems = 4096 // a multiple of 16, so normal blocks never straddle chunks

/** Run a stream-consistent producer over target elements [0, count): in place, or via chunks. */
export function produceInto (target: FillTarget, direct: DenseArray | null, count: number, produce: Producer): void {
  if (count <= 0) return
  if (direct !== null) {
    produce(direct, 0, count)
    return
  }
  const scratch = allocDense(target.dtype, chunkElems)
  for (let start = 0; start < count; start += chunkElems) {
    const k = Math.min(chunkElems, count - start)
    produce(scratch, 0, k)
    writeBytes(target.data as Uint8Array, target.dtype, start, scratch, k)
  }
}

/** A typed array of the dtype covering the target (aligned view or, when misaligned, a copy). */
export function readValues (target: FillTarget): DenseArray {
  const n = numelOf(target)
  const direct = directView(target, n)
  if (direct !== null) return direct
  const out = allocDense(target.dtype, n)
  const bytes = new Uint8Array(out.buffer)
  const src = target.data as Uint8Array
  const size = itemSize(target.dtype)
  for (let i = 0; i < n * size; i += size) {
    for (let b = 0; b < size; b++) bytes[i + b] = src[i + (hostIsLittleEndian ? b : size - 1 - b)]!
  }
  return out
}

/** Copy a full array of the dtype into the target, unless it already is the target's storage. */
export function writeValues (target: FillTarget, src: DenseArray): void {
  if (src.buffer === target.data.buffer && src.byteOffset === target.data.byteOffset) return
  const n = numelOf(target)
  writeElements(target, directView(target, n), 0, src, n)
}

/** Decode one stored element (bits for the 16-bit types) to its value. */
export function decodeElement (dtype: FloatDType, stored: number): number {
  if (dtype === 'float16') return f16FromBits(stored)
  if (dtype === 'bfloat16') return bf16FromBits(stored)
  return stored
}

/** static_cast<scalar_t>(double) as stored in a typed array of the dtype (bits for 16-bit types). */
export function encodeElement (dtype: FloatDType, value: number): number {
  switch (dtype) {
    case 'float32': return Math.fround(value)
    case 'float64': return value
    case 'float16': return f16BitsFromF32(Math.fround(value))
    case 'bfloat16': return bf16BitsFromF32(Math.fround(value))
  }
}

/** `bytes` (whole elements of `src`, any alignment) as elements of `dst`, each through static_cast; the same bytes when the dtypes agree. */
export function castBytes (src: FloatDType, dst: FloatDType, bytes: Uint8Array): Uint8Array {
  if (src === dst) return bytes
  const out = new Uint8Array(bytes.length / itemSize(src) * itemSize(dst))
  castBytesInto(src, dst, bytes, out)
  return out
}

/** castBytes written into `out` (any alignment, as long as the elements' bytes in `dst`). */
export function castBytesInto (src: FloatDType, dst: FloatDType, bytes: Uint8Array, out: Uint8Array): void {
  if (src === dst) { out.set(bytes); return }
  const count = bytes.length / itemSize(src)
  const aligned = bytes.byteOffset % itemSize(src) === 0
  const input = aligned ? makeDense(src, bytes.buffer, bytes.byteOffset, count) : allocDense(src, count)
  if (!aligned) new Uint8Array(input.buffer).set(bytes) // aligned copy: the bytes may start anywhere
  if (src === 'float32' && dst === 'bfloat16' && wasmCastF32ToBf16(new Uint8Array(input.buffer, input.byteOffset, count * 4), out)) return
  const output = allocDense(dst, count)
  if (src === 'float32' && (dst === 'bfloat16' || dst === 'float16')) { // the common casts, on the bits (integer-only)
    const bits = new Uint32Array(input.buffer, input.byteOffset, count)
    if (dst === 'bfloat16') castF32BitsToBf16(bits, output as Uint16Array, 0, count)
    else castF32BitsToF16(bits, output as Uint16Array, 0, count)
  } else {
    for (let i = 0; i < count; i++) output[i] = encodeElement(dst, decodeElement(src, input[i] as number))
  }
  out.set(new Uint8Array(output.buffer))
}
