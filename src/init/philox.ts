// rng: "philox" — order-free random streams for init: "default" (docs/philox.md is the spec).
//
// Every tensor draws from its own counter-based Philox4x32-10 stream keyed by (seed, tensor name).
// Element i of a tensor is a fixed function of (seed, name, distribution, dtype, i): it needs only
// the one Philox block that holds it, so any element range can be filled on its own, in any order,
// on any thread or replica, with the same bytes. The distributions follow PyTorch's default init
// (uniform(low, high) with 24 random bits in float32 and 53 in float64; normal(mean, std) via
// Box-Muller), but the bits are this spec's, not torch's MT19937 ones.
//
// Layout (block b has counter (b mod 2^32, floor(b / 2^32), purpose, 0), purpose 1 = uniform,
// 2 = normal; its 128 output bits are w0..w3, bit j of the block = bit j mod 32 of w[j >> 5]):
//   uniform float32/float16/bfloat16: 5 elements per block, element 5b+s = bits [24s, 24s+24).
//   uniform float64:                  2 elements per block, element 2b+s from w[2s] >> 11, w[2s+1].
//   normal float32/float16/bfloat16:  4 elements per block, Box-Muller on (w0, w1) -> 4b, 4b+1 and
//                                     on (w2, w3) -> 4b+2, 4b+3 (cos, sin).
//   normal float64:                   2 elements per block, Box-Muller on 53-bit (w0:w1, w2:w3).

import { createHash } from 'node:crypto'

import { castF32BitsToBf16, hostIsLittleEndian } from './fp.js'
import { philoxBlocks } from './philox-core.js'
import { castF32BitsToF16Fast } from './philox-half.js'
import { radius32, radius53, sinCos6, sinCos9, trig } from './philox-math.js'
import { philoxWasmUniform } from './philox-wasm.js'
import { DTYPES, isFloatDType, type FloatDType } from '../tensor/dtype.js'

export { philox4x32x10, philoxBlocks } from './philox-core.js'

export type PhiloxDist = { kind: 'uniform', low: number, high: number } | { kind: 'normal', mean: number, std: number }

/** Counter word 2 of each distribution's blocks. */
export const PHILOX_PURPOSE = Object.freeze({ uniform: 1, normal: 2 })

/** Domain-separation prefix of the key hash: "materia-philox-v1" and a NUL byte. */
export const PHILOX_KEY_PREFIX = 'materia-philox-v1\u0000'

/** Elements per Philox block for each (distribution, dtype family). */
export function elementsPerBlock (kind: PhiloxDist['kind'], dtype: FloatDType): number {
  if (dtype === 'float64') return 2
  return kind === 'uniform' ? 5 : 4
}

const TWO32 = 4294967296
const TWO_NEG24 = 2 ** -24
const TWO_NEG32 = 2 ** -32
const TWO_NEG53 = 2 ** -53
const fround = Math.fround

// ---- key ----

const keyCache = new Map<string, Uint32Array>()
const keyCacheLimit = 4096
const loneSurrogate = /\p{Cs}/u

/**
 * The 64-bit Philox key of (seed, name) as two u32 words: the first 8 bytes of
 * SHA-256("materia-philox-v1\0" || seed mod 2^64 as u64 little-endian || UTF-8(name)), read as two
 * little-endian u32. seed: an integer in [-2^63, 2^64) (negative seeds wrap as in torch.manual_seed).
 */
export function philoxKey (seed: number, name: string): Uint32Array {
  return keyWords(seed, name).slice()
}

function keyWords (seed: number, name: string): Uint32Array {
  if (typeof seed !== 'number' || typeof name !== 'string') throw new TypeError('philox key: seed must be a number and name a string')
  const cacheKey = `${seed}\u0000${name}`
  const hit = keyCache.get(cacheKey)
  if (hit !== undefined) return hit
  if (!Number.isInteger(seed) || seed < -(2 ** 63) || seed >= 2 ** 64) {
    throw new RangeError(`philox seed must be an integer in [-2^63, 2^64), got ${seed}`)
  }
  if (loneSurrogate.test(name)) throw new TypeError('philox key name is not well-formed UTF-16 (lone surrogate)')
  const head = Buffer.alloc(PHILOX_KEY_PREFIX.length + 8)
  head.write(PHILOX_KEY_PREFIX, 0, 'latin1')
  head.writeBigUInt64LE(BigInt.asUintN(64, BigInt(seed)), PHILOX_KEY_PREFIX.length)
  const digest = createHash('sha256').update(head).update(name, 'utf8').digest()
  const key = Uint32Array.of(digest.readUInt32LE(0), digest.readUInt32LE(4))
  if (keyCache.size >= keyCacheLimit) keyCache.clear()
  keyCache.set(cacheKey, key)
  return key
}

// ---- scratch (module-level: fills allocate nothing per block) ----

const chunkBlocks = 512 // multiple of 4 (philoxBlocks works in groups of four)
const maxPiece = 2 ** 30 // elements per internal piece of one fill
const words = new Int32Array(chunkBlocks * 4)
const f32Scratch = new Float32Array(chunkBlocks * 5)
const f32ScratchBits = new Uint32Array(f32Scratch.buffer)
const radii = new Float64Array(chunkBlocks * 2)

// ---- element conversions: local element index l counts from the first block of the chunk ----

/** 24-bit field s (0..4) of the block at words[o..o+3]. */
function field24 (o: number, s: number): number {
  switch (s) {
    case 0: return words[o]! & 0xffffff
    case 1: return (words[o]! >>> 24) | ((words[o + 1]! & 0xffff) << 8)
    case 2: return (words[o + 1]! >>> 16) | ((words[o + 2]! & 0xff) << 16)
    case 3: return words[o + 2]! >>> 8
    default: return words[o + 3]! & 0xffffff
  }
}

/**
 * float32 uniforms: dst[d + i] = f32(f32(u * range) + lo), u = k * 2^-24, elements l0 .. l0+cnt-1.
 * k * (range * 2^-24) is the same exact product as (k * 2^-24) * range. Partial blocks at either
 * end go through uniform32Part, so the whole-block loop stays one small, stable function.
 */
function uniform32 (l0: number, cnt: number, dst: Float32Array, d: number, lo: number, range: number): void {
  const rs = range * TWO_NEG24
  const end = l0 + cnt
  let j = Math.floor(l0 / 5)
  let l = l0
  const s = l0 - 5 * j
  if (s !== 0) {
    const m = Math.min(5, end - l + s)
    uniform32Part(j, s, m, dst, d, lo, rs)
    d += m - s; l += m - s; j++
  }
  const full = Math.floor((end - l) / 5)
  uniform32Blocks(j, full, dst, d, lo, rs)
  j += full; d += 5 * full; l += 5 * full
  if (l < end) uniform32Part(j, 0, end - l, dst, d, lo, rs)
}

function uniform32Blocks (j0: number, nb: number, dst: Float32Array, d: number, lo: number, rs: number): void {
  for (let o = j0 << 2, oEnd = (j0 + nb) << 2; o < oEnd; o += 4, d += 5) {
    const w0 = words[o]!; const w1 = words[o + 1]!; const w2 = words[o + 2]!; const w3 = words[o + 3]!
    dst[d] = fround((w0 & 0xffffff) * rs) + lo
    dst[d + 1] = fround(((w0 >>> 24) | ((w1 & 0xffff) << 8)) * rs) + lo
    dst[d + 2] = fround(((w1 >>> 16) | ((w2 & 0xff) << 16)) * rs) + lo
    dst[d + 3] = fround((w2 >>> 8) * rs) + lo
    dst[d + 4] = fround((w3 & 0xffffff) * rs) + lo
  }
}

/** Fields s0 .. s1-1 of block j. */
function uniform32Part (j: number, s0: number, s1: number, dst: Float32Array, d: number, lo: number, rs: number): void {
  for (let s = s0; s < s1; s++) dst[d++] = fround(field24(j << 2, s) * rs) + lo
}

/** float64 uniforms: u = k * 2^-53 with k = (w[2s] >>> 11) * 2^32 + w[2s+1]; x = u * range + lo. */
function uniform64 (l0: number, cnt: number, dst: Float64Array, d: number, lo: number, range: number): void {
  const end = l0 + cnt
  for (let l = l0; l < end; l++) {
    const o = l << 1
    const k = (words[o]! >>> 11) * TWO32 + (words[o + 1]! >>> 0)
    dst[d++] = k * TWO_NEG53 * range + lo
  }
}

/**
 * float32 normals: pair p uses (words[2p], words[2p+1]) for elements 2p (cos) and 2p+1 (sin).
 * Two passes (radii, then angles and output) keep each loop small enough to overlap iterations.
 */
function normal32 (l0: number, cnt: number, dst: Float32Array, d: number, mean: number, std: number): void {
  const end = l0 + cnt
  const p0 = l0 >> 1
  const p1 = (end + 1) >> 1
  for (let p = p0; p < p1; p++) radii[p] = radius32(words[2 * p]!)
  for (let p = p0; p < p1; p++) {
    const r = radii[p]!
    const h = (words[2 * p + 1]! + 0x20000000) | 0
    const q = h >>> 30
    sinCos6((h & 0x3fffffff) - 0x20000000, TWO_NEG32)
    const i = 2 * p
    if (i >= l0) dst[d + i - l0] = r * trig[(-q) & 3]! * std + mean
    if (i + 1 < end) dst[d + i + 1 - l0] = r * trig[q ^ 1]! * std + mean
  }
}

/** float64 normals: block j gives elements 2j (cos) and 2j+1 (sin) from 53-bit (w0:w1, w2:w3). */
function normal64 (l0: number, cnt: number, dst: Float64Array, d: number, mean: number, std: number): void {
  const end = l0 + cnt
  const j0 = l0 >> 1
  const j1 = (end + 1) >> 1
  for (let j = j0; j < j1; j++) {
    const uh = words[j << 2]! >>> 11
    const ul = words[(j << 2) + 1]! >>> 0
    // Exponent of n = uh 2^32 + ul + 1 <= 2^53 (a carry out of ul can only raise uh).
    const hi = ul === 0xffffffff ? uh + 1 : uh
    const e = hi !== 0 ? 64 - Math.clz32(hi) : 32 - Math.clz32(ul + 1)
    radii[j] = radius53(uh * TWO32 + ul + 1, e)
  }
  for (let j = j0; j < j1; j++) {
    const o = j << 2
    const hh = ((words[o + 2]! >>> 11) + 0x40000) & 0x1fffff
    const q = hh >>> 19
    sinCos9(((hh & 0x7ffff) - 0x40000) * TWO32 + (words[o + 3]! >>> 0), TWO_NEG53)
    const r = radii[j]!
    const i = 2 * j
    if (i >= l0) dst[d + i - l0] = r * trig[(-q) & 3]! * std + mean
    if (i + 1 < end) dst[d + i + 1 - l0] = r * trig[q ^ 1]! * std + mean
  }
}

// ---- fill ----

/** floor(x / y) for 0 <= x <= 2^53 and small y, exact (the double quotient may round). */
function floorDiv (x: number, y: number): number {
  let q = Math.floor(x / y)
  while (q * y > x) q--
  while ((q + 1) * y <= x) q++
  return q
}

function ceilDiv (x: number, y: number): number {
  const q = floorDiv(x, y)
  return q * y < x ? q + 1 : q
}

function checkParams (dtype: FloatDType, dist: PhiloxDist): { a: number, b: number } {
  if (dist.kind === 'uniform') {
    const { low, high } = dist
    if (!Number.isFinite(low) || !Number.isFinite(high) || !(low <= high)) {
      throw new RangeError(`philox uniform expects finite low <= high, got low=${low} high=${high}`)
    }
    if (dtype === 'float64') {
      const range = high - low
      if (!Number.isFinite(range)) throw new RangeError(`philox uniform range high-low overflows float64 (low=${low} high=${high})`)
      return { a: low, b: range }
    }
    const lo = fround(low)
    const range = fround(fround(high) - lo)
    if (!Number.isFinite(range) || !Number.isFinite(lo)) {
      throw new RangeError(`philox uniform bounds overflow float32 (low=${low} high=${high})`)
    }
    return { a: lo, b: range }
  }
  if (dist.kind === 'normal') {
    const { mean, std } = dist
    if (!Number.isFinite(mean) || !Number.isFinite(std) || !(std >= 0)) {
      throw new RangeError(`philox normal expects finite mean and std >= 0, got mean=${mean} std=${std}`)
    }
    return { a: mean, b: std }
  }
  throw new TypeError(`philox: unknown distribution kind ${(dist as { kind: unknown }).kind as string}`)
}

/** Fills target with elements [firstElement, firstElement + n) of the tensor's stream, n = target.byteLength / element size, little-endian. */
export function philoxFill (target: Uint8Array, dtype: FloatDType, dist: PhiloxDist, key: { seed: number, name: string }, firstElement: number): void {
  fill(target, dtype, dist, key, firstElement, true)
}

/** The same fill in portable JS only (the reference the WebAssembly kernel is checked against). */
export function philoxFillJs (target: Uint8Array, dtype: FloatDType, dist: PhiloxDist, key: { seed: number, name: string }, firstElement: number): void {
  fill(target, dtype, dist, key, firstElement, false)
}

function fill (target: Uint8Array, dtype: FloatDType, dist: PhiloxDist, key: { seed: number, name: string }, firstElement: number, wasm: boolean): void {
  if (!isFloatDType(dtype)) throw new TypeError(`philox: unsupported dtype ${String(dtype)}`)
  const size = DTYPES[dtype].bytes
  if (target.byteLength % size !== 0) {
    throw new RangeError(`philox: target byteLength ${target.byteLength} is not a multiple of the ${dtype} element size ${size}`)
  }
  const n = target.byteLength / size
  if (!Number.isSafeInteger(firstElement) || firstElement < 0 || n > 2 ** 53 - firstElement) {
    throw new RangeError(`philox: elements [${firstElement}, ${firstElement} + ${n}) are not within [0, 2^53)`)
  }
  const { a, b } = checkParams(dtype, dist)
  const kw = keyWords(key.seed, key.name)
  const k0 = kw[0]! | 0
  const k1 = kw[1]! | 0
  if (n === 0) return
  // float32/bfloat16 uniform: the WebAssembly SIMD kernel (same bits) when it is available.
  if (wasm && (dtype === 'float32' || dtype === 'bfloat16') && dist.kind === 'uniform' && philoxWasmUniform(target, dtype, firstElement, n, a, b, k0, k1)) return
  if (n > maxPiece) {
    // Keep every index below 2^31 (int32 arithmetic in the loops): fill in pieces.
    for (let i = 0; i < n; i += maxPiece) {
      const m = Math.min(maxPiece, n - i)
      fill(target.subarray(i * size, (i + m) * size), dtype, dist, key, firstElement + i, wasm)
    }
    return
  }

  // Destination: a typed view of the target when aligned on a little-endian host, else a temporary.
  const direct = hostIsLittleEndian && target.byteOffset % size === 0
  const buf = direct ? target.buffer : new ArrayBuffer(target.byteLength)
  const off = direct ? target.byteOffset : 0
  const f64 = dtype === 'float64' ? new Float64Array(buf, off, n) : null
  const f32 = dtype === 'float32' ? new Float32Array(buf, off, n) : null
  const u16 = dtype === 'float16' || dtype === 'bfloat16' ? new Uint16Array(buf, off, n) : null

  const kind = dist.kind
  const purpose = PHILOX_PURPOSE[kind]
  const per = elementsPerBlock(kind, dtype)
  const end = firstElement + n
  let elem = firstElement
  while (elem < end) {
    const block = floorDiv(elem, per)
    const hiWord = Math.floor(block / TWO32)
    const loWord = block - hiWord * TWO32
    // Blocks in this chunk: up to chunkBlocks, to the last needed block, and not across 2^32.
    const nb = Math.min(chunkBlocks, ceilDiv(end, per) - block, TWO32 - loWord)
    philoxBlocks(words, nb, loWord | 0, hiWord | 0, purpose, k0, k1)
    // Small integers, passed as int32 so the converters keep integer-specialised code.
    const l0 = (elem - block * per) | 0
    const cnt = (Math.min(end, (block + nb) * per) - elem) | 0
    const d = (elem - firstElement) | 0
    if (f64 !== null) {
      if (kind === 'uniform') uniform64(l0, cnt, f64, d, a, b)
      else normal64(l0, cnt, f64, d, a, b)
    } else if (f32 !== null) {
      if (kind === 'uniform') uniform32(l0, cnt, f32, d, a, b)
      else normal32(l0, cnt, f32, d, a, b)
    } else {
      if (kind === 'uniform') uniform32(l0, cnt, f32Scratch, 0, a, b)
      else normal32(l0, cnt, f32Scratch, 0, a, b)
      if (dtype === 'float16') castF32BitsToF16Fast(f32ScratchBits, u16!, d, cnt)
      else castF32BitsToBf16(f32ScratchBits, u16!, d, cnt)
    }
    elem += cnt
  }

  if (!direct) {
    const bytes = new Uint8Array(buf)
    if (!hostIsLittleEndian && size > 1) {
      for (let i = 0; i < bytes.length; i += size) bytes.subarray(i, i + size).reverse()
    }
    target.set(bytes)
  }
}
