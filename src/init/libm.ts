// Double log / sin / cos for the float64 normal_ paths, rounded correctly (to ~2^-90 relative
// accuracy before the final rounding), and an erf for trunc_normal_'s branch decision.
//
// Why: torch calls glibc's log/sin/cos, V8 ships fdlibm ports. On Box-Muller inputs V8's Math.log
// differs from glibc in ~7% of cases and Math.sin/cos in ~3%, while glibc itself returns the
// correctly rounded result in all but ~0.1% of cases (measured against 200-bit mpmath: log 0.08%,
// sin/cos 0.14%). Correct rounding is therefore the closest reproducible target; the residual
// mismatch is glibc's own misrounding, documented in distributions.ts.
//
// (glibc's log1p is not correctly rounded (~7% of inputs) and agrees with V8's fdlibm log1p in all
// but ~0.08% of cases, so the scalar path keeps Math.log1p.)
//
// Technique: double-double (hi + lo) arithmetic with table-driven argument reduction; the tables
// are computed at load time from series in double-double, so there are no magic tables here.

// ---- double-double kernels; a result's low word is left in ddLo[0] ----
// (A typed-array slot rather than a module `let`: a mutable module variable holding a double is
// boxed, so every write would allocate.)

const ddLo = new Float64Array(1)
const splitter = 134217729 // 2^27 + 1

/** Exact error of the double product p = fl(a*b) (Dekker). */
function prodErr (a: number, b: number, p: number): number {
  let t = splitter * a
  const ah = t - (t - a); const al = a - ah
  t = splitter * b
  const bh = t - (t - b); const bl = b - bh
  return ((ah * bh - p) + ah * bl + al * bh) + al * bl
}

function ddAdd (ah: number, al: number, bh: number, bl: number): number {
  const s = ah + bh
  const bb = s - ah
  const e = ((ah - (s - bb)) + (bh - bb)) + (al + bl)
  const h = s + e
  ddLo[0] = e - (h - s)
  return h
}

function ddMul (ah: number, al: number, bh: number, bl: number): number {
  const p = ah * bh
  const e = prodErr(ah, bh, p) + (ah * bl + al * bh)
  const h = p + e
  ddLo[0] = e - (h - p)
  return h
}

function ddMulD (ah: number, al: number, b: number): number {
  const p = ah * b
  const e = prodErr(ah, b, p) + al * b
  const h = p + e
  ddLo[0] = e - (h - p)
  return h
}

function ddDiv (ah: number, al: number, bh: number, bl: number): number {
  const q1 = ah / bh
  let ph = ddMulD(bh, bl, q1); let pl = ddLo[0]!
  let rh = ddAdd(ah, al, -ph, -pl); let rl = ddLo[0]!
  const q2 = rh / bh
  ph = ddMulD(bh, bl, q2); pl = ddLo[0]!
  rh = ddAdd(rh, rl, -ph, -pl); rl = ddLo[0]!
  const q3 = rh / bh
  const h = ddAdd(q1, 0, q2, q3)
  return h
}

// ---- constants (mpmath, 300 bits) ----

const ln2Hi = 0.6931471805599453
const ln2Lo = 2.3190468138462996e-17
const sqrt2 = Math.SQRT2
// π/2 = pio2a + pio2b + pio2c to ~2^-122; pio2a and pio2b have 33 significant bits so k*pio2a and
// k*pio2b are exact for |k| < 2^20 (Cody-Waite).
const pio2a = 1.5707963267341256
const pio2b = 6.077100506303966e-11
const pio2c = 2.0222662487959506e-21
const twoOverPi = 0.6366197723675814
const maxReducible = 1e6 // |x| beyond this falls back to Math.sin/cos (never reached by the kernels)

// ---- log ----

const logSteps = 256 // table step 1/256 for the mantissa in (sqrt(1/2), sqrt(2)]
const logIdxMin = 181
const logIdxMax = 363
const logTabHi = new Float64Array(logIdxMax - logIdxMin + 1)
const logTabLo = new Float64Array(logIdxMax - logIdxMin + 1)

/** log(c) = 2 atanh(s), s = (c-1)/(c+1), summed in double-double (load time only). */
function logSeries (c: number): number {
  const sh = ddDiv(c - 1, 0, c + 1, 0); const sl = ddLo[0]! // c±1 exact for c = i/256
  const s2h = ddMul(sh, sl, sh, sl); const s2l = ddLo[0]!
  let th = sh; let tl = sl // s^(2n+1)
  let acch = 0; let accl = 0
  for (let n = 0; n < 40; n++) {
    const qh = ddDiv(th, tl, 2 * n + 1, 0); const ql = ddLo[0]!
    acch = ddAdd(acch, accl, qh, ql); accl = ddLo[0]!
    if (Math.abs(qh) < 1e-40) break
    th = ddMul(th, tl, s2h, s2l); tl = ddLo[0]!
  }
  return ddMulD(acch, accl, 2)
}

for (let i = logIdxMin; i <= logIdxMax; i++) {
  logTabHi[i - logIdxMin] = logSeries(i / logSteps)
  logTabLo[i - logIdxMin] = ddLo[0]!
}

const twoPow54 = 2 ** 54
const minNormal = 2 ** -1022
const f64 = new Float64Array(1)
const u32 = new Uint32Array(f64.buffer)
const hiIdx = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0

/**
 * Correctly rounded natural logarithm (same special cases as Math.log).
 *
 * The hot path spells the double-double steps out inline: calls between optimised functions pass
 * doubles boxed, so a helper per step would allocate.
 */
export function logCr (x: number): number {
  if (!(x > 0) || x === Infinity) return Math.log(x) // NaN, ±0, negatives, +Infinity
  if (x === 1) return 0
  let k = 0
  if (x < minNormal) {
    x *= twoPow54
    k = -54
  }
  // x = 2^e * m, m in [1, 2), then folded into (sqrt(1/2), sqrt(2)].
  f64[0] = x
  const hi = u32[hiIdx]!
  k += ((hi >>> 20) & 0x7ff) - 1023
  u32[hiIdx] = (hi & 0x800fffff) | 0x3ff00000
  let m = f64[0]!
  if (m > sqrt2) {
    m *= 0.5
    k += 1
  }
  const i = Math.round(m * logSteps)
  const c = i / logSteps
  const d = m - c // exact (Sterbenz)
  // log(m) = log(c) + log1p(d/c) = log(c) + 2 atanh(s), s = d / (2c + d); |s| < 2^-9.5.
  // den = 2c + d exactly as a pair (TwoSum).
  const c2 = 2 * c
  const denh = c2 + d
  const bb = denh - c2
  const denl = (c2 - (denh - bb)) + (d - bb)
  // s = d / den to ~2^-104: one correction step.
  const q1 = d / denh
  const p1 = q1 * denh
  const q2 = (((d - p1) - prodErr(q1, denh, p1)) - q1 * denl) / denh
  const sh = q1 + q2
  const sl = q2 - (sh - q1)
  // 2s^3/3 to ~2^-100 relative (it is 2^-19 of the result): s^2 and s^3 with their product errors.
  const s2 = sh * sh
  const s2l = prodErr(sh, sh, s2) + 2 * sh * sl
  const s3 = s2 * sh
  const s3l = prodErr(s2, sh, s3) + (s2 * sl + s2l * sh)
  const t3h = s3 / 1.5
  const t3l = ((s3 - t3h * 1.5) - prodErr(t3h, 1.5, t3h * 1.5) + s3l) / 1.5
  // The s^5.. tail (relative size < 2^-38) in plain double.
  const tail = 2 * s3 * s2 * (1 / 5 + s2 * (1 / 7 + s2 * (1 / 9 + s2 * (1 / 11))))
  // r = 2s + t3 + tail + log(c) + k ln2, accumulated as (hi, lo) with TwoSum at each big addition.
  let rh = 2 * sh + t3h
  let bv = rh - 2 * sh
  let rl = ((2 * sh - (rh - bv)) + (t3h - bv)) + (2 * sl + t3l + tail)
  const th = logTabHi[i - logIdxMin]!
  let sum = th + rh
  bv = sum - th
  rl += ((th - (sum - bv)) + (rh - bv)) + logTabLo[i - logIdxMin]!
  rh = sum
  if (k !== 0) {
    const kh = k * ln2Hi
    const kl = prodErr(k, ln2Hi, kh) + k * ln2Lo
    sum = kh + rh
    bv = sum - kh
    rl += ((kh - (sum - bv)) + (rh - bv)) + kl
    rh = sum
  }
  return rh + rl
}

// ---- sin / cos ----

const trigSteps = 128 // table step 1/128 over [-π/4, π/4]
const trigIdxMax = 101
const sinTabHi = new Float64Array(2 * trigIdxMax + 1)
const sinTabLo = new Float64Array(2 * trigIdxMax + 1)
const cosTabHi = new Float64Array(2 * trigIdxMax + 1)
const cosTabLo = new Float64Array(2 * trigIdxMax + 1)

/** Taylor series of sin (odd = true) or cos at a = i/128 in double-double (load time only). */
function trigSeries (a: number, odd: boolean): number {
  const a2 = a * a // exact: i^2 / 2^14
  let th = odd ? a : 1; let tl = 0
  let acch = 0; let accl = 0
  for (let n = odd ? 1 : 0; n < 80; n += 2) {
    acch = ddAdd(acch, accl, th, tl); accl = ddLo[0]!
    if (Math.abs(th) < 1e-40) break
    th = ddMulD(th, tl, -a2); tl = ddLo[0]!
    th = ddDiv(th, tl, (n + 1) * (n + 2), 0); tl = ddLo[0]!
  }
  return ddAdd(acch, accl, 0, 0)
}

for (let i = -trigIdxMax; i <= trigIdxMax; i++) {
  sinTabHi[i + trigIdxMax] = trigSeries(i / trigSteps, true)
  sinTabLo[i + trigIdxMax] = ddLo[0]!
  cosTabHi[i + trigIdxMax] = trigSeries(i / trigSteps, false)
  cosTabLo[i + trigIdxMax] = ddLo[0]!
}

const sixthH = ddDiv(1, 0, 6, 0)
const sixthL = ddLo[0]!

/**
 * Correctly rounded sin and cos of x: out[0] = sin x, out[1] = cos x. For |x| > 1e6 (never used by
 * the kernels, which only take [0, 2π)) this falls back to Math.sin / Math.cos.
 */
export function sinCosCr (x: number, out: Float64Array): void {
  if (x === 0) {
    out[0] = x // keeps the sign of zero, as glibc does
    out[1] = 1
    return
  }
  if (!(Math.abs(x) <= maxReducible)) {
    out[0] = Math.sin(x)
    out[1] = Math.cos(x)
    return
  }
  // r = x - k π/2, |r| <= ~π/4, as (rh, rl). k*pio2a and k*pio2b are exact; x - k*pio2a is exact.
  const k = Math.round(x * twoOverPi)
  const r0 = x - k * pio2a
  const b2 = -k * pio2b
  let rh = r0 + b2
  let bv = rh - r0
  let rl = (r0 - (rh - bv)) + (b2 - bv)
  const ph = k * pio2c
  const r1 = rh - ph
  bv = r1 - rh
  rl += ((rh - (r1 - bv)) + (-ph - bv)) - prodErr(k, pio2c, ph)
  rh = r1 + rl
  rl -= rh - r1
  // r = a + d, a = i/128 from the table, |d| <= 2^-8.
  const i = Math.round(rh * trigSteps)
  const d0 = rh - i / trigSteps // exact
  const dh = d0 + rl
  const dl = rl - (dh - d0)
  const d2 = dh * dh
  const d2l = prodErr(dh, dh, d2) + 2 * dh * dl
  // sin d = d - d^3/6 + d^5 (1/5! - d^2/7! + d^4/9!), the d^3 term to ~2^-100.
  const d3 = d2 * dh
  const d3l = prodErr(d2, dh, d3) + (d2 * dl + d2l * dh)
  const s3 = d3 * sixthH
  const s3l = prodErr(d3, sixthH, s3) + (d3 * sixthL + d3l * sixthH)
  const sinTail = d3 * d2 * (1 / 120 - d2 * (1 / 5040 - d2 * (1 / 362880)))
  const sdh = dh - s3
  bv = sdh - dh
  const sdl = ((dh - (sdh - bv)) + (-s3 - bv)) + (dl - s3l + sinTail)
  // cos d = 1 - d^2/2 + d^4 (1/4! - d^2/6! + d^4/8!)
  const cosTail = d2 * d2 * (1 / 24 - d2 * (1 / 720 - d2 * (1 / 40320)))
  const cdh = 1 - 0.5 * d2 // exact: 0.5 d2 < 2^-17
  const cdl = (1 - cdh - 0.5 * d2) + (cosTail - 0.5 * d2l)
  // sin(a + d) = sa cd + ca sd, cos(a + d) = ca cd - sa sd, each product with its error.
  const t = i + trigIdxMax
  const sah = sinTabHi[t]!; const sal = sinTabLo[t]!
  const cah = cosTabHi[t]!; const cal = cosTabLo[t]!
  const pa = sah * cdh
  const pal = prodErr(sah, cdh, pa) + (sah * cdl + sal * cdh)
  const pb = cah * sdh
  const pbl = prodErr(cah, sdh, pb) + (cah * sdl + cal * sdh)
  let h = pa + pb
  bv = h - pa
  const sinR = h + (((pa - (h - bv)) + (pb - bv)) + (pal + pbl))
  const pc = cah * cdh
  const pcl = prodErr(cah, cdh, pc) + (cah * cdl + cal * cdh)
  const pd = -(sah * sdh)
  const pdl = -(prodErr(sah, sdh, -pd) + (sah * sdl + sal * sdh))
  h = pc + pd
  bv = h - pc
  const cosR = h + (((pc - (h - bv)) + (pd - bv)) + (pcl + pdl))
  switch (k & 3) {
    case 0: out[0] = sinR; out[1] = cosR; break
    case 1: out[0] = cosR; out[1] = -sinR; break
    case 2: out[0] = -sinR; out[1] = -cosR; break
    default: out[0] = -cosR; out[1] = sinR; break
  }
}

// ---- erf ----

const twoOverSqrtPiH = 1.1283791670955126
const twoOverSqrtPiL = 1.533545961316588e-17
const oneOverSqrtPi = 0.5641895835477563

/**
 * erf within ~2 ulp of glibc's (it only decides trunc_normal_'s p > 0.3 branch). For |x| < 2.5:
 * erf x = 2/sqrt(π) e^(-x²) Σ 2^n x^(2n+1) / (1·3···(2n+1)), an all-positive series summed in
 * double-double, so the only sizeable error is Math.exp's. Beyond: 1 - erfc(x) with erfc from its
 * continued fraction (erfc < 5e-4 there, so its error is far below an ulp of the result).
 */
export function erf (x: number): number {
  if (Number.isNaN(x)) return NaN
  const ax = Math.abs(x)
  if (ax >= 6) return x > 0 ? 1 : -1
  if (ax === 0) return x
  const x2h = ax * ax; const x2l = prodErr(ax, ax, ax * ax)
  // exp(-x²) with the rounding error of x² folded back in.
  const e = Math.exp(-x2h) * (1 - x2l)
  let r: number
  if (ax < 2.5) {
    let th = ax; let tl = 0
    let sh = ax; let sl = 0
    for (let n = 1; n < 300; n++) {
      th = ddMul(th, tl, 2 * x2h, 2 * x2l); tl = ddLo[0]!
      th = ddDiv(th, tl, 2 * n + 1, 0); tl = ddLo[0]!
      sh = ddAdd(sh, sl, th, tl); sl = ddLo[0]!
      if (th < sh * 1e-33) break
    }
    const ch = ddMul(sh, sl, twoOverSqrtPiH, twoOverSqrtPiL)
    r = (ch + ddLo[0]!) * e
  } else {
    // erfc(x) = e^(-x²)/sqrt(π) · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...)))))
    let f = ax
    for (let k = 80; k >= 1; k--) f = ax + (k / 2) / f
    r = 1 - oneOverSqrtPi * e / f
  }
  return x < 0 ? -r : r
}
