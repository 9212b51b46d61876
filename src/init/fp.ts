// IEEE helpers for reproducing PyTorch's CPU kernels bit for bit in JavaScript doubles.
//
// A "float32 value" here is a double that is exactly representable as float32. Basic float32
// operations (+ - * / sqrt) are computed in double and rounded once with Math.fround; that is exact
// because a double has more than 2*24+2 significand bits, so no double-rounding error can occur.
// What doubles cannot give for free is a fused multiply-add, which GCC emits for the AVX2 kernels
// (-mfma, -ffp-contract=fast), hence fma32/fma64 below.

const fround = Math.fround

// Scratch views for bit access; module-level so hot paths never allocate.
const f32Scratch = new Float32Array(1)
const u32OfF32 = new Uint32Array(f32Scratch.buffer)
const f64Scratch = new Float64Array(1)
const u32OfF64 = new Uint32Array(f64Scratch.buffer)

/** Whether typed arrays use little-endian byte order (true on every platform Node ships for). */
export const hostIsLittleEndian: boolean = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1
// Word order of a double in u32OfF64: low word first on little-endian hosts.
const loWord = hostIsLittleEndian ? 0 : 1
const hiWord = 1 - loWord

/** Round a double to the nearest float32 (ties to even), as a C `(float)` cast does. */
export const f32 = fround

/** IEEE bits of the float32 nearest to x. */
export function f32Bits (x: number): number {
  f32Scratch[0] = x
  return u32OfF32[0]!
}

/** The float32 value with the given bit pattern (NaN payloads may be canonicalised by the engine). */
export function f32FromBits (bits: number): number {
  u32OfF32[0] = bits >>> 0
  return f32Scratch[0]!
}

/** IEEE bits of a double as [hi, lo] 32-bit words. */
export function f64Words (x: number): [number, number] {
  f64Scratch[0] = x
  return [u32OfF64[hiWord]!, u32OfF64[loWord]!]
}

/** IEEE bits of a double as a 16-digit lowercase hex string (test and debug helper). */
export function f64Hex (x: number): string {
  const [hi, lo] = f64Words(x)
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0')
}

/** The double with the given hi/lo words. */
export function f64FromWords (hi: number, lo: number): number {
  u32OfF64[hiWord] = hi >>> 0
  u32OfF64[loWord] = lo >>> 0
  return f64Scratch[0]!
}

/**
 * Single-rounding float32 a*b+c for float32 inputs (what vfmadd...ps computes).
 *
 * a*b is exact in a double (24+24 significand bits), so s = a*b + c carries one double rounding.
 * fround(s) is then the correct float32 result unless s landed exactly on the midpoint between two
 * floats while the exact sum was not: ties-to-even would then pick a side the exact value may not
 * be on. The midpoint test costs a subtract, an add and a fround; the exact error term (TwoSum) is
 * only computed in that rare case.
 */
export function fma32 (a: number, b: number, c: number): number {
  const p = a * b
  const s = p + c
  const r = fround(s)
  if (r === s) return r
  // When s is a midpoint, r2 is the other neighbour (a float); otherwise r2 lies strictly between
  // two floats. s - r and s + (s - r) are exact (s and r are within one float32 ulp).
  const r2 = s + (s - r)
  // Not a tie (the common case), NaN, or overflow: the plain rounding is right.
  if (fround(r2) !== r2 || !Number.isFinite(r)) return r
  // Exact error of the double sum (Knuth TwoSum): p + c == s + e exactly.
  const bb = s - p
  const e = (p - (s - bb)) + (c - bb)
  if (e === 0) return r
  // s is a tie; the exact value lies on the side of e: take the neighbour in that direction.
  if (e > 0) return r2 > r ? r2 : r
  return r2 < r ? r2 : r
}

/** float32 a*b+c with two roundings (the unfused form), for contrast with fma32. */
export function mulAdd32 (a: number, b: number, c: number): number {
  return fround(fround(a * b) + c)
}

// Veltkamp splitting constant for the exact double product: 2^27 + 1.
const splitter = 134217729

/**
 * Correctly rounded double a*b+c (what vfmadd...pd / std::fma compute).
 *
 * Boldo & Melquiond's emulation with rounding to odd: a*b = uh + ul exactly (Dekker), c + uh =
 * th + tl exactly (TwoSum), v = RO(tl + ul), result = RN(th + v). Valid barring overflow in the
 * product splitting and results deep in the subnormal range; neither occurs for init bounds, and
 * non-finite inputs fall back to plain arithmetic (which then gives the IEEE fma result).
 */
export function fma64 (a: number, b: number, c: number): number {
  const uh = a * b
  if (!Number.isFinite(a) || !Number.isFinite(b)) return uh + c // IEEE: the infinite product rules
  if (!Number.isFinite(c)) return c // finite exact product: an infinite (or NaN) c wins
  if (!Number.isFinite(uh)) return fma64Exact(a, b, c) // the product overflows, the sum may not
  if (c === 0) {
    // a*b + (±0): the product rounded once, and -0 + +0 = +0 as in IEEE.
    return uh + c
  }
  // Guard the splitting against overflow / underflow; exact fallback for those extremes.
  const aa = Math.abs(a); const ab = Math.abs(b)
  if (aa > 1e290 || ab > 1e290 || (Math.abs(uh) < 1e-280 && a !== 0 && b !== 0)) return fma64Exact(a, b, c)
  // Dekker TwoProduct.
  let t = splitter * a
  const ah = t - (t - a); const al = a - ah
  t = splitter * b
  const bh = t - (t - b); const bl = b - bh
  const ul = ((ah * bh - uh) + ah * bl + al * bh) + al * bl
  // TwoSum(c, uh).
  const th = c + uh
  const bv = th - c
  const tl = (c - (th - bv)) + (uh - bv)
  // v = RO(tl + ul).
  const vs = tl + ul
  const bv2 = vs - tl
  const ve = (tl - (vs - bv2)) + (ul - bv2)
  let v = vs
  if (ve !== 0) {
    f64Scratch[0] = vs
    const lo = u32OfF64[loWord]!
    if ((lo & 1) === 0) {
      // vs is even and inexact: step one ulp toward the exact value to make it odd.
      const awayFromZero = (ve > 0) === (vs > 0)
      let hi = u32OfF64[hiWord]!
      let nlo: number
      if (awayFromZero) {
        nlo = (lo + 1) >>> 0
        if (nlo === 0) hi = (hi + 1) >>> 0
      } else {
        nlo = (lo - 1) >>> 0
        if (lo === 0) hi = (hi - 1) >>> 0
      }
      v = f64FromWords(hi, nlo)
    }
  }
  return th + v
}

/** Exact fma via BigInt rationals; slow, only for extreme exponents. */
export function fma64Exact (a: number, b: number, c: number): number {
  if (!Number.isFinite(a) || !Number.isFinite(b)) return a * b + c
  if (!Number.isFinite(c)) return c
  const [ma, ea] = decompose(a)
  const [mb, eb] = decompose(b)
  const [mc, ec] = decompose(c)
  // value = mant * 2^exp with exp possibly negative; bring to a common exponent.
  const ep = ea + eb
  const mp = ma * mb
  const e = Math.min(ep, ec)
  const sum = (mp << BigInt(ep - e)) + (mc << BigInt(ec - e))
  if (sum === 0n) {
    // Exact zero: IEEE gives +0 unless both addends are -0 (product sign and c sign negative).
    const prodNeg = (a < 0 || Object.is(a, -0)) !== (b < 0 || Object.is(b, -0))
    return prodNeg && Object.is(c, -0) ? -0 : 0
  }
  return bigScaledToDouble(sum, e)
}

// x = m * 2^e exactly, with m a BigInt.
function decompose (x: number): [bigint, number] {
  if (x === 0) return [0n, 0]
  const [hi, lo] = f64Words(x)
  const exp = (hi >>> 20) & 0x7ff
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo)
  let e: number
  if (exp === 0) {
    e = -1074
  } else {
    mant |= 1n << 52n
    e = exp - 1075
  }
  return [hi >>> 31 === 1 ? -mant : mant, e]
}

// Round m * 2^e (m != 0) to the nearest double, ties to even, including subnormals.
function bigScaledToDouble (m: bigint, e: number): number {
  const neg = m < 0n
  let mag = neg ? -m : m
  const bits = mag.toString(2).length
  // Target: 53 significant bits, but not below 2^-1074.
  let shift = bits - 53
  if (e + shift < -1074) shift = -1074 - e
  if (shift > 0) {
    const sh = BigInt(shift)
    const rem = mag & ((1n << sh) - 1n)
    mag >>= sh
    const half = 1n << (sh - 1n)
    if (rem > half || (rem === half && (mag & 1n) === 1n)) mag += 1n
    e += shift
  }
  // mag * 2^e is now exactly representable (or overflows to Infinity).
  const v = Number(mag) * 2 ** Math.max(e, -1022) * 2 ** Math.min(0, e + 1022)
  return neg ? -v : v
}

// ---- float16 (IEEE binary16) ----

const twoPow112 = 2 ** 112
const twoPow110Inv = 2 ** -110

/**
 * IEEE binary16 bits of a float32 value (round to nearest even, subnormals, overflow to inf,
 * NaN -> 0x7E00 with the sign), the same float-arithmetic trick c10's fp16_ieee_from_fp32_value
 * uses so every case matches it.
 */
export function f16BitsFromF32 (x: number): number {
  f32Scratch[0] = x
  const w = u32OfF32[0]!
  const shl1W = (w * 2) >>> 0
  const sign = w & 0x80000000
  let bias = (shl1W & 0xff000000) >>> 0
  if (bias < 0x71000000) bias = 0x71000000
  let base = fround(fround(Math.abs(f32Scratch[0]!) * twoPow112) * twoPow110Inv)
  u32OfF32[0] = (bias >>> 1) + 0x07800000
  base = fround(f32Scratch[0]! + base)
  f32Scratch[0] = base
  const bits = u32OfF32[0]!
  const nonsign = ((bits >>> 13) & 0x00007c00) + (bits & 0x00000fff)
  return (sign >>> 16) | (shl1W > 0xff000000 ? 0x7e00 : nonsign)
}

/** The value of binary16 bits (exact in a double). */
export function f16FromBits (h: number): number {
  const sign = (h & 0x8000) !== 0 ? -1 : 1
  const exp = (h >>> 10) & 0x1f
  const mant = h & 0x3ff
  if (exp === 0) return sign * mant * 2 ** -24
  if (exp === 31) return mant === 0 ? sign * Infinity : NaN
  return sign * (1024 + mant) * 2 ** (exp - 25)
}

/** Round a float32 value to the nearest binary16 value (returned as a double). */
export function f16Round (x: number): number {
  return f16FromBits(f16BitsFromF32(x))
}

// ---- bfloat16 ----

/** c10::BFloat16(float): round to nearest even on the float32 bit pattern; NaN -> 0x7FC0. */
export function bf16BitsFromF32 (x: number): number {
  if (Number.isNaN(x)) return 0x7fc0
  f32Scratch[0] = x
  const u = u32OfF32[0]!
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff
}

/** The value of bfloat16 bits (exact in a double). */
export function bf16FromBits (h: number): number {
  u32OfF32[0] = (h & 0xffff) << 16
  return f32Scratch[0]!
}

/** Round a float32 value to the nearest bfloat16 value (returned as a double). */
export function bf16Round (x: number): number {
  return bf16FromBits(bf16BitsFromF32(x))
}

// ---- bulk casts for fill loops (integer-only, no per-element aliasing) ----

/**
 * float32 bits -> binary16 bits, round to nearest even (subnormals, overflow to inf, NaN -> 0x7E00
 * with the sign): the same results as f16BitsFromF32, with integer operations only.
 */
export function f16BitsFromF32Bits (x: number): number {
  const sign = (x >>> 16) & 0x8000
  const abs = x & 0x7fffffff
  if (abs >= 0x477ff000) { // >= 65520 rounds to inf; also inf and NaN
    return sign | (abs > 0x7f800000 ? 0x7e00 : 0x7c00)
  }
  if (abs >= 0x38800000) { // normal half: rebias the exponent, round away 13 mantissa bits
    let q = (abs - 0x38000000) >>> 13
    const rem = abs & 0x1fff
    if (rem > 0x1000 || (rem === 0x1000 && (q & 1) === 1)) q++
    return sign | q
  }
  if (abs <= 0x33000000) return sign // <= 2^-25 (the tie rounds to even zero)
  // Subnormal half: value = m * 2^(e-150) = q units of 2^-24, q = m >> (126 - e), rounded.
  const e = abs >>> 23
  const m = (abs & 0x7fffff) | 0x800000
  const sh = 126 - e
  let q = m >>> sh
  const rem = m & ((1 << sh) - 1)
  const half = 1 << (sh - 1)
  if (rem > half || (rem === half && (q & 1) === 1)) q++
  return sign | q
}

/** Cast n float32 values (given as their bits) to binary16 bits. */
export function castF32BitsToF16 (src: Uint32Array, dst: Uint16Array, dstOff: number, n: number): void {
  for (let i = 0; i < n; i++) dst[dstOff + i] = f16BitsFromF32Bits(src[i]!)
}

/** Cast n float32 values (given as their bits) to bfloat16 bits (c10 rounding, NaN -> 0x7FC0). */
export function castF32BitsToBf16 (src: Uint32Array, dst: Uint16Array, dstOff: number, n: number): void {
  for (let i = 0; i < n; i++) {
    const u = src[i]!
    dst[dstOff + i] = (u & 0x7fffffff) > 0x7f800000 ? 0x7fc0 : (u + 0x7fff + ((u >>> 16) & 1)) >>> 16
  }
}
