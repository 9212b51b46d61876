// One lane of log256_ps and sincos256_ps from ATen/native/cpu/avx_mathfun.h (Garberoglio's AVX
// port of Pommier's Cephes-based sse_mathfun), as PyTorch's AVX2 normal_ kernel runs them.
//
// Everything is float32 arithmetic (Math.fround after every operation). The AVX2 kernels are
// compiled by GCC with -mfma and -ffp-contract=fast, so some mul/add intrinsic pairs were
// contracted into FMAs; which ones is fixed below (docs/torch-init.md §3.4, verified exhaustively over
// all 2^24 inputs against torch 1.13 and 2.13). Changing any of the marked fma32 sites breaks
// bit-exactness.

import { fma32 } from './fp.js'

const fround = Math.fround

/* eslint-disable @typescript-eslint/no-loss-of-precision -- the constants are written as avx_mathfun.h writes them */
/** The cephes / avx_mathfun float32 constants, shared with the fast fill kernel (normal-fill-avx2.ts). */
export const avxConstants = {
  sqrtHf: fround(0.707106781186547524),
  logP0: fround(7.0376836292e-2),
  logP1: fround(-1.1514610310e-1),
  logP2: fround(1.1676998740e-1),
  logP3: fround(-1.2420140846e-1),
  logP4: fround(1.4249322787e-1),
  logP5: fround(-1.6668057665e-1),
  logP6: fround(2.0000714765e-1),
  logP7: fround(-2.4999993993e-1),
  logP8: fround(3.3333331174e-1),
  logQ1: fround(-2.12194440e-4),
  logQ2: fround(0.693359375),
  dp1: fround(-0.78515625),
  dp2: fround(-2.4187564849853515625e-4),
  dp3: fround(-3.77489497744594108e-8),
  sinP0: fround(-1.9515295891e-4),
  sinP1: fround(8.3321608736e-3),
  sinP2: fround(-1.6666654611e-1),
  cosP0: fround(2.443315711809948e-5),
  cosP1: fround(-1.388731625493765e-3),
  cosP2: fround(4.166664568298827e-2),
  fourOverPi: fround(1.27323954473516)
} as const
const { sqrtHf, logP0, logP1, logP2, logP3, logP4, logP5, logP6, logP7, logP8, logQ1, logQ2, dp1, dp2, dp3, sinP0, sinP1, sinP2, cosP0, cosP1, cosP2, fourOverPi } = avxConstants

const minNormF32 = 2 ** -126

// Bit access for the exponent/mantissa split in logPs.
const f32View = new Float32Array(1)
const u32View = new Uint32Array(f32View.buffer)

/** log256_ps for one lane; x a float32 value. NaN for x <= 0 (the kernel's invalid mask). */
export function logPs (x0: number): number {
  if (!(x0 > 0)) return NaN
  f32View[0] = x0 < minNormF32 ? minNormF32 : x0 // the kernel clamps to the smallest normal
  const bits = u32View[0]!
  // Mantissa with the exponent of 0.5, so m is in [0.5, 1); e = unbiased exponent + 1 (exact).
  u32View[0] = (bits & 0x807fffff) | 0x3f000000
  let m = f32View[0]!
  let e = (bits >>> 23) - 127 + 1
  // if m < SQRTHF: e -= 1, m = (m - 1) + m; else m = m - 1. Every step is exact in float32.
  if (m < sqrtHf) {
    e -= 1
    m = fround(fround(m - 1) + m)
  } else {
    m = fround(m - 1)
  }
  const z = fround(m * m)
  // Horner: each step contracted into an FMA by GCC.
  let y = fma32(logP0, m, logP1)
  y = fma32(y, m, logP2)
  y = fma32(y, m, logP3)
  y = fma32(y, m, logP4)
  y = fma32(y, m, logP5)
  y = fma32(y, m, logP6)
  y = fma32(y, m, logP7)
  y = fma32(y, m, logP8)
  y = fround(y * m)
  // y*z + e*q1: the y*z product is the fused one; e*q1 is rounded on its own.
  y = fma32(y, z, fround(e * logQ1))
  y = fround(y - z * 0.5) // z*0.5 is exact
  m = fround(m + y)
  return fround(m + e * logQ2) // e*q2 is exact for |e| < 2^15
}

/**
 * sincos256_ps for one lane. Writes sin to out[0] and cos to out[1] (no allocation per call).
 * Valid for any finite float32 x; the kernel only feeds it [0, 2π).
 */
export function sincosPs (x0: number, out: Float64Array): void {
  const negIn = x0 < 0 || (x0 === 0 && 1 / x0 < 0)
  let x = Math.abs(x0)
  // j = trunc(x * 4/π), rounded up to even (cvttps then integer ops).
  let j = Math.trunc(fround(x * fourOverPi)) | 0
  j = (j + 1) & ~1
  const y = j
  // Extended-precision range reduction (fusing these never changes a result on [0, 2π); fused
  // here as GCC does).
  x = fma32(y, dp1, x)
  x = fma32(y, dp2, x)
  x = fma32(y, dp3, x)
  const flipSin = negIn !== ((j & 4) !== 0)
  const flipCos = ((~(j - 2)) & 4) !== 0
  const polyMask = (j & 2) === 0
  const z = fround(x * x)
  // cos polynomial: fma(fma(C0, z, C1), z, C2) * z, then yc*z - z/2 fused, then + 1.
  let yc = fma32(fma32(cosP0, z, cosP1), z, cosP2)
  yc = fround(yc * z)
  yc = fma32(yc, z, -(z * 0.5))
  yc = fround(yc + 1)
  // sin polynomial: fma(fma(S0, z, S1), z, S2) * z, then ys*x + x fused.
  let ys = fma32(fma32(sinP0, z, sinP1), z, sinP2)
  ys = fround(ys * z)
  ys = fma32(ys, x, x)
  // The kernel selects with masks and adds +0, which turns -0 into +0; adding 0 reproduces that.
  let s = (polyMask ? ys : yc) + 0
  let c = (polyMask ? yc : ys) + 0
  if (flipSin) s = -s
  if (flipCos) c = -c
  out[0] = s
  out[1] = c
}
