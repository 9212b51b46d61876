// Tensor.uniform_ and Tensor.normal_ as PyTorch's CPU kernels compute them (torch-init.md §2, §3),
// for contiguous float32 / float64 / float16 / bfloat16 tensors filled in memory order.
//
// Profile: the (2.x, avx2) behaviour is the contract (x86-64 Linux GCC builds on AVX2 CPUs without
// AVX-512); the 1.13 family is available where it needs no glibc float libm. Exactness:
//   * uniform_, all dtypes, both versions: bit-exact.
//   * normal_ float32 (fill path, n >= 16): bit-exact; pure float32 arithmetic, no libm.
//   * normal_ float16/bfloat16, 2.x: bit-exact (float32 transform, then cast).
//   * normal_ float32/float16/bfloat16 scalar path (n < 16): computed in double with V8's
//     Math.log1p/log/sin/cos instead of glibc's. A last-bit double difference almost never survives
//     the rounding to float (0 of 800 000 samples in torch-init.md §8.4; risk ~2^-29 per element).
//   * normal_ float64 (both paths): NOT guaranteed exact. The last bit differs from torch where
//     V8's fdlibm-derived log/sin/cos differ from glibc's (a few % of elements; see the tests for
//     the measured rate). Exactness would need ports of glibc's double log/log1p/sin/cos.
//   * normal_ float16/bfloat16 fill path, 1.13: unsupported (needs glibc logf/sinf/cosf).
//
// Targets are written in place: a typed array of the dtype (Uint16Array holds float16/bfloat16
// bits) or a little-endian Uint8Array, e.g. a slice of a SharedArrayBuffer arena. An aligned
// Uint8Array is viewed as the element type without copying; a misaligned one is filled through a
// small reusable chunk buffer.

import { bf16BitsFromF32, bf16FromBits, f16BitsFromF32, f16FromBits, f32Bits, fma32, fma64, hostIsLittleEndian } from './fp.js'
import { logCr, sinCosCr } from './libm.js'
import { normalFillAvx2 } from './normal-fill-avx2.js'
import type { CpuGenerator } from './mt19937.js'

const fround = Math.fround

export type FloatDtype = 'float32' | 'float64' | 'float16' | 'bfloat16'

/** PyTorch version family whose kernels to reproduce (torch-init.md §6). */
export type InitVersion = '2.x' | '1.13'

/**
 * Which torch build to reproduce. Only the avx2 kernel flavour is implemented: the baseline
 * ("default") kernels need glibc's float libm for normal_.
 */
export interface InitProfile {
  readonly version: InitVersion
  readonly capability: 'avx2'
}

export const profile2x: InitProfile = Object.freeze({ version: '2.x', capability: 'avx2' })
export const profile113: InitProfile = Object.freeze({ version: '1.13', capability: 'avx2' })
export const defaultProfile: InitProfile = profile2x

/** Element storage: Float32Array / Float64Array for those dtypes, Uint16Array of raw bits for float16 /
 * bfloat16, or the little-endian bytes of any of them. */
export type FloatStorage = Float32Array | Float64Array | Uint16Array | Uint8Array

/** A contiguous tensor's storage and dtype; numel is implied by the storage length. */
export interface FillTarget {
  readonly dtype: FloatDtype
  readonly data: FloatStorage
}

type DenseArray = Float32Array | Float64Array | Uint16Array

export class UnsupportedInitError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'UnsupportedInitError'
  }
}

export function itemSize (dtype: FloatDtype): number {
  switch (dtype) {
    case 'float32': return 4
    case 'float64': return 8
    case 'float16': return 2
    case 'bfloat16': return 2
  }
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

// The largest finite value of each dtype (std::numeric_limits<T>::max()), for torch's range checks.
const dtypeMax: Record<FloatDtype, number> = {
  float32: 3.4028234663852886e38,
  float64: Number.MAX_VALUE,
  float16: 65504,
  bfloat16: 3.3895313892515355e38
}

// ------------------------------------------------------------------------------------------------
// Storage resolution and chunked writing
// ------------------------------------------------------------------------------------------------

const chunkElems = 4096 // a multiple of 16, so normal blocks never straddle chunks

function makeDense (dtype: FloatDtype, buffer: ArrayBufferLike, byteOffset: number, length: number): DenseArray {
  switch (dtype) {
    case 'float32': return new Float32Array(buffer, byteOffset, length)
    case 'float64': return new Float64Array(buffer, byteOffset, length)
    default: return new Uint16Array(buffer, byteOffset, length)
  }
}

/** The target as a typed array of its element type, or null when it must go through chunks. */
function directView (target: FillTarget, n: number): DenseArray | null {
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
function writeBytes (bytes: Uint8Array, dtype: FloatDtype, start: number, src: DenseArray, count: number): void {
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
function writeElements (target: FillTarget, direct: DenseArray | null, start: number, src: DenseArray, count: number): void {
  if (direct !== null) {
    direct.set(src.subarray(0, count) as never, start)
  } else {
    writeBytes(target.data as Uint8Array, target.dtype, start, src, count)
  }
}

type Producer = (dst: DenseArray, off: number, count: number) => void

/** Run a stream-consistent producer over target elements [0, count): in place, or via chunks. */
function produceInto (target: FillTarget, direct: DenseArray | null, count: number, produce: Producer): void {
  if (count <= 0) return
  if (direct !== null) {
    produce(direct, 0, count)
    return
  }
  const scratch = makeDense(target.dtype, new ArrayBuffer(chunkElems * itemSize(target.dtype)), 0, chunkElems)
  for (let start = 0; start < count; start += chunkElems) {
    const k = Math.min(chunkElems, count - start)
    produce(scratch, 0, k)
    writeBytes(target.data as Uint8Array, target.dtype, start, scratch, k)
  }
}

// Reusable draw buffer (hot loops never allocate). Even length, so float64 pairs fit.
const drawLen = 8192
const draws = new Uint32Array(drawLen)

const twoPowM24 = 2 ** -24
const twoPowM53 = 2 ** -53
const twoPow32 = 2 ** 32

// ------------------------------------------------------------------------------------------------
// uniform_
// ------------------------------------------------------------------------------------------------

function checkUniformBounds (dtype: FloatDtype, a: number, b: number): void {
  if (!Number.isFinite(a) || !Number.isFinite(b)) {
    throw new RangeError(`uniform_ expects finite bounds, got from=${a} to=${b}`)
  }
  if (!(a <= b)) throw new RangeError(`uniform_ expects to return a [from, to) range, but found from=${a} > to=${b}`)
  if (b - a > dtypeMax[dtype]) {
    throw new RangeError(`uniform_ expects to-from <= std::numeric_limits<${dtype}>::max(), but found to=${b} and from=${a}`)
  }
}

/**
 * Tensor.uniform_(a, b): one draw per element (two for float64), memory order. Bounds are doubles.
 */
export function uniformFill (gen: CpuGenerator, target: FillTarget, a = 0, b = 1, profile: InitProfile = defaultProfile): void {
  const n = numelOf(target)
  checkUniformBounds(target.dtype, a, b)
  const direct = directView(target, n)
  const v2 = profile.version !== '1.13'
  switch (target.dtype) {
    case 'float32': {
      const from = fround(a); const to = fround(b); const range = fround(to - from)
      produceInto(target, direct, n, (dst, off, count) => { uniformF32(gen, dst as Float32Array, off, count, from, range, to, v2) })
      return
    }
    case 'float64':
      produceInto(target, direct, n, (dst, off, count) => { uniformF64(gen, dst as Float64Array, off, count, a, b, v2) })
      return
    default: {
      const bits = target.dtype === 'float16' ? f16BitsFromF32 : bf16BitsFromF32
      const value = target.dtype === 'float16' ? f16FromBits : bf16FromBits
      if (v2) {
        // opmath float with 24 random bits, then cast; a cast that lands on `to` becomes `from`.
        const from = fround(a); const to = fround(b); const range = fround(to - from)
        const toBits = bits(to); const fromBits = bits(from)
        produceInto(target, direct, n, (dst, off, count) => {
          uniformLowp(gen, dst as Uint16Array, off, count, 0xffffff, twoPowM24, from, range, bits, toBits, fromBits)
        })
      } else {
        // torch 1.13: arithmetic on Half/BFloat16 bounds, only `digits` (11 / 8) random bits.
        const d = target.dtype === 'float16' ? 11 : 8
        const fromH = value(bits(fround(a))); const toH = value(bits(fround(b)))
        const rangeH = value(bits(fround(toH - fromH)))
        produceInto(target, direct, n, (dst, off, count) => {
          uniformLowp(gen, dst as Uint16Array, off, count, (1 << d) - 1, 2 ** -d, fromH, rangeH, bits, -1, 0)
        })
      }
    }
  }
}

/** ulp of a float32 value (2^-149 for zero and subnormals). */
function ulp32 (v: number): number {
  const e = (f32Bits(v) >>> 23) & 0xff
  return 2 ** (Math.max(e, 1) - 150)
}

/**
 * Whether x*range + from (x = k * scale, k < 2^bits) is exact in double for every k, so that
 * rounding the double sum once equals the float32 FMA. Every term is a multiple of
 * g = min(scale * ulp(range), ulp(from)); the sum is exact when its magnitude bound is < 2^53 g.
 * This holds for all practical bounds (e.g. [0, 1), ±b), and skips the tie check per element.
 */
function sumIsExact (scale: number, range: number, from: number): boolean {
  const g = from === 0 ? scale * ulp32(range) : Math.min(scale * ulp32(range), ulp32(from))
  return Math.abs(range) + Math.abs(from) <= 2 ** 53 * g
}

function uniformF32 (gen: CpuGenerator, dst: Float32Array, off: number, count: number,
  from: number, range: number, to: number, clampToFrom: boolean): void {
  if (!sumIsExact(twoPowM24, range, from)) {
    uniformF32Fma(gen, dst, off, count, from, range, to, clampToFrom)
    return
  }
  // Hot path: draws are tempered in registers straight from the engine's block.
  const eng = gen.engine
  const s = eng.state
  while (count > 0) {
    const k = eng.takeFromBlock(count)
    const base = eng.next - k
    for (let i = 0; i < k; i++) {
      let y = s[base + i]!
      y ^= y >>> 11
      y ^= (y << 7) & 0x9d2c5680
      y ^= (y << 15) & 0xefc60000
      y ^= y >>> 18
      // x = k * 2^-24 is exact and so is x*range + from (see sumIsExact): one rounding = the FMA.
      let v = fround((y & 0xffffff) * twoPowM24 * range + from)
      if (v === to && clampToFrom) v = from // 2.x: never return the upper bound
      dst[off + i] = v
    }
    off += k
    count -= k
  }
}

/** uniform_ float32 for bounds whose double sum can round: the emulated FMA per element. */
function uniformF32Fma (gen: CpuGenerator, dst: Float32Array, off: number, count: number,
  from: number, range: number, to: number, clampToFrom: boolean): void {
  const u = draws
  while (count > 0) {
    const k = count < drawLen ? count : drawLen
    gen.fillU32(u, 0, k)
    for (let i = 0; i < k; i++) {
      // GCC fuses x*range + from into one FMA.
      let v = fma32((u[i]! & 0xffffff) * twoPowM24, range, from)
      if (v === to && clampToFrom) v = from
      dst[off + i] = v
    }
    off += k
    count -= k
  }
}

function uniformF64 (gen: CpuGenerator, dst: Float64Array, off: number, count: number,
  a: number, b: number, clampToFrom: boolean): void {
  const u = draws
  const range = b - a
  const half = drawLen >>> 1
  while (count > 0) {
    const k = count < half ? count : half
    gen.fillU32(u, 0, 2 * k)
    for (let i = 0; i < k; i++) {
      // random64() & (2^53-1): 21 low bits of the first (high-word) draw, all of the second.
      const x = ((u[2 * i]! & 0x1fffff) * twoPow32 + u[2 * i + 1]!) * twoPowM53
      let v = fma64(x, range, a)
      if (v === b && clampToFrom) v = a
      dst[off + i] = v
    }
    off += k
    count -= k
  }
}

/**
 * float16 / bfloat16 uniform_: v = cast(fma32(x, range, from)) with x = (draw & mask) * scale.
 * toBits < 0 disables the 2.x "cast landed on `to`" replacement (1.13).
 */
function uniformLowp (gen: CpuGenerator, dst: Uint16Array, off: number, count: number, mask: number, scale: number,
  from: number, range: number, bits: (x: number) => number, toBits: number, fromBits: number): void {
  const u = draws
  const toIsZero = toBits >= 0 && (toBits & 0x7fff) === 0
  const exact = sumIsExact(scale, range, from)
  while (count > 0) {
    const k = count < drawLen ? count : drawLen
    gen.fillU32(u, 0, k)
    for (let i = 0; i < k; i++) {
      const x = (u[i]! & mask) * scale
      let h = bits(exact ? fround(x * range + from) : fma32(x, range, from))
      // Half == Half compares values, so -0 equals +0.
      if (h === toBits || (toIsZero && (h & 0x7fff) === 0)) h = fromBits
      dst[off + i] = h
    }
    off += k
    count -= k
  }
}

// ------------------------------------------------------------------------------------------------
// normal_
// ------------------------------------------------------------------------------------------------

function checkNormalArgs (mean: number, std: number): void {
  if (!(std >= 0) || !Number.isFinite(std)) throw new RangeError(`normal expects std >= 0.0, but found std ${std}`)
  if (!Number.isFinite(mean)) throw new RangeError(`normal expects a finite mean, but found mean ${mean}`)
}

/**
 * Tensor.normal_(mean, std) for a contiguous tensor: the vectorised fill when numel >= 16 (never
 * touches the generator's cached sample), otherwise the scalar Box-Muller path (uses and leaves
 * the cached double sample).
 */
export function normalFill (gen: CpuGenerator, target: FillTarget, mean = 0, std = 1, profile: InitProfile = defaultProfile): void {
  checkNormalArgs(mean, std)
  const n = numelOf(target)
  const direct = directView(target, n)
  if (n < 16) {
    normalScalarInto(gen, target, direct, n, mean, std, profile)
    return
  }
  const dtype = target.dtype
  const full = n - (n % 16)
  const ragged = n % 16 !== 0
  const tail = makeDense(dtype, new ArrayBuffer(16 * itemSize(dtype)), 0, 16)
  if (dtype === 'float32' || dtype === 'float64') {
    // All n uniforms are drawn first, then each 16-block is transformed in place. Block i only
    // depends on draws of its own positions, so blocks are drawn and transformed in one stream.
    const blocks: Producer = dtype === 'float32'
      ? (dst, off, count) => { normalBlocksF32(gen, dst as Float32Array, off, count >>> 4, fround(mean), fround(std)) }
      : (dst, off, count) => { normalBlocksF64(gen, dst as Float64Array, off, count >>> 4, mean, std) }
    produceInto(target, direct, full, blocks)
    if (ragged) {
      // The uniforms of the partial block were drawn (and then overwritten): skip them, then 16
      // fresh uniforms are transformed into the last 16 positions, overwriting some outputs of the
      // last full block.
      gen.discard(dtype === 'float64' ? 2 * (n - full) : n - full)
      blocks(tail, 0, 16)
      writeElements(target, direct, n - 16, tail, 16)
    }
    return
  }
  if (profile.version === '1.13') {
    throw new UnsupportedInitError(`normal_ for ${dtype} with numel >= 16 in the torch 1.13 profile needs glibc's logf/sinf/cosf`)
  }
  // 2.x float16 / bfloat16: per block, draw 16 float uniforms, transform in float, cast down. A
  // ragged tail draws 16 more for the last 16 positions (16 * ceil(n/16) draws in total).
  const bits = dtype === 'float16' ? f16BitsFromF32 : bf16BitsFromF32
  const meanF = fround(mean); const stdF = fround(std)
  const blocks: Producer = (dst, off, count) => { normalBlocksLowp(gen, dst as Uint16Array, off, count >>> 4, meanF, stdF, bits) }
  produceInto(target, direct, full, blocks)
  if (ragged) {
    blocks(tail, 0, 16)
    writeElements(target, direct, n - 16, tail, 16)
  }
}

const twoPi = 2 * Math.PI
const sincosOut = new Float64Array(2)
const lowpScratch = new Float32Array(drawLen)

/** normal_fill_16_AVX2 on consecutive blocks of 16 float32 uniforms drawn from the generator. */
function normalBlocksF32 (gen: CpuGenerator, dst: Float32Array, off: number, nBlocks: number, mean: number, std: number): void {
  const u = draws
  const perChunk = drawLen >>> 4
  while (nBlocks > 0) {
    const kb = nBlocks < perChunk ? nBlocks : perChunk
    gen.fillU32(u, 0, kb << 4)
    normalFillAvx2(u, kb, dst, off, mean, std)
    off += kb << 4
    nBlocks -= kb
  }
}

/**
 * 2.x float16/bfloat16 fill: per block, 16 float uniforms through the float32 AVX2 transform, each
 * result cast to the type. Blocks draw in order, so a chunk of blocks can be drawn at once.
 */
function normalBlocksLowp (gen: CpuGenerator, dst: Uint16Array, off: number, nBlocks: number,
  mean: number, std: number, bits: (x: number) => number): void {
  const tmp = lowpScratch
  const perChunk = tmp.length >>> 4
  while (nBlocks > 0) {
    const kb = nBlocks < perChunk ? nBlocks : perChunk
    normalBlocksF32(gen, tmp, 0, kb, mean, std)
    const n = kb << 4
    for (let i = 0; i < n; i++) dst[off + i] = bits(tmp[i]!)
    off += n
    nBlocks -= kb
  }
}

/** float64 fill: libm log/cos/sin (correctly rounded stand-ins for glibc's), explicit fma for *std + mean. */
function normalBlocksF64 (gen: CpuGenerator, dst: Float64Array, off: number, nBlocks: number, mean: number, std: number): void {
  const u = draws
  const sc = sincosOut
  const perChunk = drawLen >>> 5
  while (nBlocks > 0) {
    const kb = nBlocks < perChunk ? nBlocks : perChunk
    gen.fillU32(u, 0, kb << 5)
    for (let b = 0; b < kb; b++) {
      const base = b << 5
      const o = off + (b << 4)
      for (let j = 0; j < 8; j++) {
        const p1 = base + 2 * j
        const p2 = base + 2 * (j + 8)
        const u1 = 1 - ((u[p1]! & 0x1fffff) * twoPow32 + u[p1 + 1]!) * twoPowM53
        const u2 = ((u[p2]! & 0x1fffff) * twoPow32 + u[p2 + 1]!) * twoPowM53
        const radius = Math.sqrt(-2 * logCr(u1)) // the fill path uses log(1-u), also in 2.x
        sinCosCr(twoPi * u2, sc)
        dst[o + j] = fma64(radius * sc[1]!, std, mean)
        dst[o + j + 8] = fma64(radius * sc[0]!, std, mean)
      }
    }
    off += kb << 4
    nBlocks -= kb
  }
}

/**
 * One at::normal_distribution<double> draw (the scalar path): Box-Muller in double, returning one
 * sample and caching the other on the generator.
 */
export function normalScalarDouble (gen: CpuGenerator, mean: number, std: number, profile: InitProfile = defaultProfile): number {
  let z: number
  if (gen.hasDoubleNormal) {
    z = gen.doubleNormal
    gen.hasDoubleNormal = false
    gen.doubleNormal = 0
  } else {
    // u1 drives the angle and u2 the radius here (the opposite of the fill path).
    const u1 = gen.uniform01Double()
    const u2 = gen.uniform01Double()
    // glibc's log1p is fdlibm-derived like V8's Math.log1p; log/sin/cos are correctly rounded.
    const r = Math.sqrt(-2 * (profile.version === '1.13' ? logCr(1 - u2) : Math.log1p(-u2)))
    sinCosCr(twoPi * u1, sincosOut)
    gen.doubleNormal = r * sincosOut[0]!
    gen.hasDoubleNormal = true
    z = r * sincosOut[1]!
  }
  return fma64(z, std, mean)
}

function normalScalarInto (gen: CpuGenerator, target: FillTarget, direct: DenseArray | null, n: number,
  mean: number, std: number, profile: InitProfile): void {
  if (n === 0) return
  const dtype = target.dtype
  const out = direct ?? makeDense(dtype, new ArrayBuffer(n * itemSize(dtype)), 0, n)
  for (let i = 0; i < n; i++) {
    const v = normalScalarDouble(gen, mean, std, profile)
    // static_cast<scalar_t>(double); half/bfloat16 go through float first.
    switch (dtype) {
      case 'float32': out[i] = fround(v); break
      case 'float64': out[i] = v; break
      case 'float16': out[i] = f16BitsFromF32(fround(v)); break
      case 'bfloat16': out[i] = bf16BitsFromF32(fround(v)); break
    }
  }
  if (direct === null) writeBytes(target.data as Uint8Array, dtype, 0, out, n)
}

// ------------------------------------------------------------------------------------------------
// Value access helpers (shared with nn-init)
// ------------------------------------------------------------------------------------------------

/** A typed array of the dtype covering the target (aligned view or, when misaligned, a copy). */
export function readValues (target: FillTarget): Float32Array | Float64Array | Uint16Array {
  const n = numelOf(target)
  const direct = directView(target, n)
  if (direct !== null) return direct
  const out = makeDense(target.dtype, new ArrayBuffer(n * itemSize(target.dtype)), 0, n)
  const bytes = new Uint8Array(out.buffer)
  const src = target.data as Uint8Array
  const size = itemSize(target.dtype)
  for (let i = 0; i < n * size; i += size) {
    for (let b = 0; b < size; b++) bytes[i + b] = src[i + (hostIsLittleEndian ? b : size - 1 - b)]!
  }
  return out
}

/** Copy a full array of the dtype into the target (used by trunc_normal_ and constant fills). */
export function writeValues (target: FillTarget, src: DenseArray): void {
  const n = numelOf(target)
  const direct = directView(target, n)
  writeElements(target, direct, 0, src, n)
}

/** Decode one stored element (bits for the 16-bit types) to its value. */
export function decodeElement (dtype: FloatDtype, stored: number): number {
  if (dtype === 'float16') return f16FromBits(stored)
  if (dtype === 'bfloat16') return bf16FromBits(stored)
  return stored
}

/** static_cast<scalar_t>(double) as stored in a typed array of the dtype (bits for 16-bit types). */
export function encodeElement (dtype: FloatDtype, value: number): number {
  switch (dtype) {
    case 'float32': return fround(value)
    case 'float64': return value
    case 'float16': return f16BitsFromF32(fround(value))
    case 'bfloat16': return bf16BitsFromF32(fround(value))
  }
}

/** Allocate a fresh typed array of the dtype with n elements (helper for callers and tests). */
export function allocDense (dtype: FloatDtype, n: number): DenseArray {
  return makeDense(dtype, new ArrayBuffer(n * itemSize(dtype)), 0, n)
}
