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

// ---- double-double kernels; a result's low word is left in `lo` to avoid allocation ----

let lo = 0
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
  lo = e - (h - s)
  return h
}

function ddMul (ah: number, al: number, bh: number, bl: number): number {
  const p = ah * bh
  const e = prodErr(ah, bh, p) + (ah * bl + al * bh)
  const h = p + e
  lo = e - (h - p)
  return h
}

function ddMulD (ah: number, al: number, b: number): number {
  const p = ah * b
  const e = prodErr(ah, b, p) + al * b
  const h = p + e
  lo = e - (h - p)
  return h
}

function ddDiv (ah: number, al: number, bh: number, bl: number): number {
  const q1 = ah / bh
  let ph = ddMulD(bh, bl, q1); let pl = lo
  let rh = ddAdd(ah, al, -ph, -pl); let rl = lo
  const q2 = rh / bh
  ph = ddMulD(bh, bl, q2); pl = lo
  rh = ddAdd(rh, rl, -ph, -pl); rl = lo
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
  const sh = ddDiv(c - 1, 0, c + 1, 0); const sl = lo // c±1 exact for c = i/256
  const s2h = ddMul(sh, sl, sh, sl); const s2l = lo
  let th = sh; let tl = sl // s^(2n+1)
  let acch = 0; let accl = 0
  for (let n = 0; n < 40; n++) {
    const qh = ddDiv(th, tl, 2 * n + 1, 0); const ql = lo
    acch = ddAdd(acch, accl, qh, ql); accl = lo
    if (Math.abs(qh) < 1e-40) break
    th = ddMul(th, tl, s2h, s2l); tl = lo
  }
  return ddMulD(acch, accl, 2)
}

for (let i = logIdxMin; i <= logIdxMax; i++) {
  logTabHi[i - logIdxMin] = logSeries(i / logSteps)
  logTabLo[i - logIdxMin] = lo
}

const twoPow54 = 2 ** 54
const minNormal = 2 ** -1022
const f64 = new Float64Array(1)
const u32 = new Uint32Array(f64.buffer)
const hiIdx = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0

/** Correctly rounded natural logarithm (same special cases as Math.log). */
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
  const denh = ddAdd(2 * c, 0, d, 0); const denl = lo
  const sh = ddDiv(d, 0, denh, denl); const sl = lo
  const s2 = sh * sh
  // 2s + 2s^3/3 in double-double; the s^5.. tail (relative size < 2^-38) in double.
  const s3h = ddMul(sh, sl, s2, prodErr(sh, sh, s2) + 2 * sh * sl); const s3l = lo
  const t3h = ddDiv(s3h, s3l, 1.5, 0); const t3l = lo // 2 s^3 / 3
  const tail = 2 * s3h * s2 * (1 / 5 + s2 * (1 / 7 + s2 * (1 / 9 + s2 * (1 / 11))))
  let rh = ddAdd(2 * sh, 2 * sl, t3h, t3l + tail); let rl = lo
  rh = ddAdd(rh, rl, logTabHi[i - logIdxMin]!, logTabLo[i - logIdxMin]!); rl = lo
  if (k !== 0) {
    const kh = ddMulD(ln2Hi, ln2Lo, k); const kl = lo
    rh = ddAdd(kh, kl, rh, rl); rl = lo
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
    acch = ddAdd(acch, accl, th, tl); accl = lo
    if (Math.abs(th) < 1e-40) break
    th = ddMulD(th, tl, -a2); tl = lo
    th = ddDiv(th, tl, (n + 1) * (n + 2), 0); tl = lo
  }
  return ddAdd(acch, accl, 0, 0)
}

for (let i = -trigIdxMax; i <= trigIdxMax; i++) {
  sinTabHi[i + trigIdxMax] = trigSeries(i / trigSteps, true)
  sinTabLo[i + trigIdxMax] = lo
  cosTabHi[i + trigIdxMax] = trigSeries(i / trigSteps, false)
  cosTabLo[i + trigIdxMax] = lo
}

const sixthH = ddDiv(1, 0, 6, 0)
const sixthL = lo

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
  // r = x - k π/2, |r| <= ~π/4, in double-double.
  const k = Math.round(x * twoOverPi)
  let rh = x - k * pio2a // exact
  let rl = 0
  rh = ddAdd(rh, rl, -k * pio2b, 0); rl = lo // k*pio2b exact
  const ph = k * pio2c
  rh = ddAdd(rh, rl, -ph, -prodErr(k, pio2c, ph)); rl = lo
  // r = a + d, a = i/128 from the table, |d| <= 2^-8.
  const i = Math.round(rh * trigSteps)
  const dh0 = rh - i / trigSteps // exact
  const dh = ddAdd(dh0, rl, 0, 0); const dl = lo
  const d2h = ddMul(dh, dl, dh, dl); const d2l = lo
  const d2 = d2h
  // sin d = d - d^3/6 + d^5 (1/5! - d^2/7! + d^4/9!)
  const d3h = ddMul(d2h, d2l, dh, dl); const d3l = lo
  const s3h = ddMul(d3h, d3l, sixthH, sixthL); const s3l = lo
  const sinTail = d3h * d2 * (1 / 120 - d2 * (1 / 5040 - d2 * (1 / 362880)))
  const sdh = ddAdd(dh, dl, -s3h, sinTail - s3l); const sdl = lo
  // cos d = 1 - d^2/2 + d^4 (1/4! - d^2/6! + d^4/8!)
  const cosTail = d2 * d2 * (1 / 24 - d2 * (1 / 720 - d2 * (1 / 40320)))
  const cdh = ddAdd(1, 0, -0.5 * d2h, cosTail - 0.5 * d2l); const cdl = lo
  // sin(a + d), cos(a + d)
  const t = i + trigIdxMax
  const sah = sinTabHi[t]!; const sal = sinTabLo[t]!
  const cah = cosTabHi[t]!; const cal = cosTabLo[t]!
  let ah = ddMul(sah, sal, cdh, cdl); let al = lo
  let bh = ddMul(cah, cal, sdh, sdl); let bl = lo
  const sinH = ddAdd(ah, al, bh, bl); const sinL = lo
  ah = ddMul(cah, cal, cdh, cdl); al = lo
  bh = ddMul(sah, sal, sdh, sdl); bl = lo
  const cosH = ddAdd(ah, al, -bh, -bl); const cosL = lo
  const sinR = sinH + sinL
  const cosR = cosH + cosL
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
  if (x !== x) return NaN
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
      th = ddMul(th, tl, 2 * x2h, 2 * x2l); tl = lo
      th = ddDiv(th, tl, 2 * n + 1, 0); tl = lo
      sh = ddAdd(sh, sl, th, tl); sl = lo
      if (th < sh * 1e-33) break
    }
    const ch = ddMul(sh, sl, twoOverSqrtPiH, twoOverSqrtPiL)
    r = (ch + lo) * e
  } else {
    // erfc(x) = e^(-x²)/sqrt(π) · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...)))))
    let f = ax
    for (let k = 80; k >= 1; k--) f = ax + (k / 2) / f
    r = 1 - oneOverSqrtPi * e / f
  }
  return x < 0 ? -r : r
}
