// The exactly specified Box-Muller transform of rng: "philox" (docs/philox.md §5).
//
// Only + - * / and sqrt on doubles (correctly rounded in every IEEE implementation, and never
// contracted into fused multiply-adds by JavaScript or numpy), in a fixed order, plus frexp-style
// exponent extraction, which is exact. So every implementation that follows the spec gets the same
// bits; scripts/golden/make-philox-vectors.py is the numpy one. The polynomials are truncated
// Taylor series whose coefficients are single correctly rounded divisions (2/(2j+3), ±1/k!), so
// the spec needs no tables of magic constants. J terms of each series: J = 9 for float64 outputs,
// J = 6 for float32/float16/bfloat16 outputs (whose rounding hides the difference).

/** 2 * pi rounded to double: 0x1.921fb54442d18p+2. */
export const TWO_PI = 6.283185307179586
/** ln 2 rounded to double: 0x1.62e42fefa39efp-1. */
export const LN2 = 0.6931471805599453
/** sqrt(1/2) rounded to double: 0x1.6a09e667f3bcdp-1. */
export const SQRT1_2 = 0.7071067811865476

// ln m = 2 atanh(t), t = (m-1)/(m+1): 2t + t^3 * sum_j 2/(2j+3) t^(2j).
const L0 = 2 / 3; const L1 = 2 / 5; const L2 = 2 / 7; const L3 = 2 / 9; const L4 = 2 / 11
const L5 = 2 / 13; const L6 = 2 / 15; const L7 = 2 / 17; const L8 = 2 / 19
// sin a = a + a^3 * sum_j (-1)^(j+1)/(2j+3)! a^(2j).
const S0 = -1 / 6; const S1 = 1 / 120; const S2 = -1 / 5040; const S3 = 1 / 362880
const S4 = -1 / 39916800; const S5 = 1 / 6227020800; const S6 = -1 / 1307674368000; const S7 = 1 / 355687428096000
const S8 = -1 / 121645100408832000
// cos a = 1 + a^2 * sum_j (-1)^(j+1)/(2j+2)! a^(2j).
const C0 = -1 / 2; const C1 = 1 / 24; const C2 = -1 / 720; const C3 = 1 / 40320
const C4 = -1 / 3628800; const C5 = 1 / 479001600; const C6 = -1 / 87178291200; const C7 = 1 / 20922789888000
const C8 = -1 / 6402373705728000

const TWO_NEG32 = 2 ** -32

/** 2^-e for e = 0 .. 64 (exact). */
const pow2neg = new Float64Array(65)
for (let e = 0; e < 65; e++) pow2neg[e] = 2 ** -e

/**
 * Box-Muller radius sqrt(-2 ln(n / 2^53)), J = 9, for an integer 1 <= n <= 2^53 given with its
 * binary exponent e (n = m 2^e, 0.5 <= m < 1, as frexp).
 */
export function radius53 (n: number, e: number): number {
  let m = n * pow2neg[e]!
  // if (m < SQRT1_2) { m *= 2; e -= 1 }, without a branch: m - SQRT1_2 is 0 or at least 2^-53 in
  // magnitude, so floor((m - SQRT1_2) / 128) is -1 exactly when m < SQRT1_2, else 0.
  const adj = -Math.floor((m - SQRT1_2) * 0.0078125)
  m *= 1 + adj
  e -= adj
  const t = (m - 1) / (m + 1)
  const t2 = t * t
  const p = ((((((((L8 * t2 + L7) * t2 + L6) * t2 + L5) * t2 + L4) * t2 + L3) * t2 + L2) * t2 + L1) * t2 + L0)
  return Math.sqrt(-2 * ((e - 53) * LN2 + (2 * t + (t * t2) * p)))
}

/**
 * Box-Muller radius sqrt(-2 ln((ku + 1) / 2^32)), J = 6, for a u32 word ku (int32 bits). The same
 * arithmetic as radius53 with B = 32, with frexp and the m < SQRT1_2 test done on the integer:
 * for n = ku + 1 < 2^32 normalised to nn = n << clz32(n) in [2^31, 2^32), m = nn 2^-32 and
 * m < SQRT1_2 iff nn < 3037000500 (SQRT1_2 2^32 = 3037000499.976).
 */
export function radius32 (ku: number): number {
  const n = (ku >>> 0) + 1
  if (n === 4294967296) return -0 // m = 1, ln m = 0: sqrt(-2 * +0)
  const c = Math.clz32(n)
  const nn = (n << c) >>> 0
  const adj = ((nn - 3037000500) | 0) >>> 31 // 1 iff m < SQRT1_2, without a branch
  const m = nn * TWO_NEG32 * (1 + adj)
  const t = (m - 1) / (m + 1)
  const t2 = t * t
  const p = (((((L5 * t2 + L4) * t2 + L3) * t2 + L2) * t2 + L1) * t2 + L0)
  // e - 32 = -c - adj
  return Math.sqrt(-2 * ((-c - adj) * LN2 + (2 * t + (t * t2) * p)))
}

/**
 * The sine/cosine table of the angle 2 pi (q/4 + f 2^-B): after sinCos9/sinCos6, trig[0..3] hold
 * (cos a, sin a, -cos a, -sin a) of the reduced angle a = f 2^-B 2pi, |a| <= pi/4; then
 * cos(angle) = trig[(-q) & 3] and sin(angle) = trig[q ^ 1].
 */
export const trig = new Float64Array(4)

/** trig for a = (f * scale) * TWO_PI, J = 9. */
export function sinCos9 (f: number, scale: number): void {
  const a = f * scale * TWO_PI
  const a2 = a * a
  const s = ((((((((S8 * a2 + S7) * a2 + S6) * a2 + S5) * a2 + S4) * a2 + S3) * a2 + S2) * a2 + S1) * a2 + S0)
  const c = ((((((((C8 * a2 + C7) * a2 + C6) * a2 + C5) * a2 + C4) * a2 + C3) * a2 + C2) * a2 + C1) * a2 + C0)
  const sn = a + (a * a2) * s
  const cs = 1 + a2 * c
  trig[0] = cs; trig[1] = sn; trig[2] = -cs; trig[3] = -sn
}

/** trig for a = (f * scale) * TWO_PI, J = 6. */
export function sinCos6 (f: number, scale: number): void {
  const a = f * scale * TWO_PI
  const a2 = a * a
  const s = (((((S5 * a2 + S4) * a2 + S3) * a2 + S2) * a2 + S1) * a2 + S0)
  const c = (((((C5 * a2 + C4) * a2 + C3) * a2 + C2) * a2 + C1) * a2 + C0)
  const sn = a + (a * a2) * s
  const cs = 1 + a2 * c
  trig[0] = cs; trig[1] = sn; trig[2] = -cs; trig[3] = -sn
}
