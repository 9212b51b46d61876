// Fast batch form of torch's normal_fill_16_AVX2 (docs/torch-init.md §3.4) for the float32 normal_ fill.
//
// Bit-identical to running avx-mathfun.ts's exact logPs/sincosPs per lane, but much faster:
//
// 1. No FMA emulation inside log/sincos. On this kernel's domain (u1 = 1 - k·2^-24 and
//    θ = f32(2π_f · k·2^-24), k < 2^24) every contracted site a*b+c evaluated in double and rounded
//    once to float32 equals the single-rounding float32 FMA, for all 2^24 inputs of each function;
//    test/init/normal-fill-avx2.test.ts checks that exhaustively against the exact lane functions.
//    (In general double evaluation can double-round; here the double sums never land on a float32
//    midpoint.)
// 2. Stage-wise loops over many lanes (structure of arrays): each lane's Horner chain is a long
//    dependency chain; running one stage over hundreds of independent lanes lets the CPU overlap
//    them, like the 8-wide vector code does.
// 3. The log's exponent/mantissa split comes from the integer draw (clz32), not float bit aliasing.
//
// The final *std + mean keeps the exact fma32 unless mean == 0, where a*std is exact in double.

import { fma32 } from './fp.js'
import { avxConstants } from './avx-mathfun.js'

const fround = Math.fround
const { sqrtHf, logP0, logP1, logP2, logP3, logP4, logP5, logP6, logP7, logP8, logQ1, logQ2, dp1, dp2, dp3, sinP0, sinP1, sinP2, cosP0, cosP1, cosP2, fourOverPi } = avxConstants

const twoPiF = fround(2 * Math.PI)
const twoPowM24 = 2 ** -24

// 2^(c - 32) for c = clz32(K): scales K in [1, 2^24] to the mantissa in [0.5, 1).
const mantScale = Float64Array.from({ length: 33 }, (_, c) => 2 ** (c - 32))
// Smallest K with clz32(K) = c whose mantissa K·2^(c-32) is >= SQRTHF.
const sqrtHfThreshold = Int32Array.from({ length: 33 }, (_, c) => Math.ceil(sqrtHf * 2 ** (32 - c)))

// Per-lane scratch (structure of arrays), sized for one sub-batch so it stays in L1.
const lanes = 256
const mA = new Float64Array(lanes)
const eA = new Float64Array(lanes)
const yA = new Float64Array(lanes)
const radA = new Float64Array(lanes)
const sinA = new Float64Array(lanes)
const cosA = new Float64Array(lanes)
const xA = new Float64Array(lanes)
const jA = new Int32Array(lanes)

/**
 * Transform nBlocks blocks of 16 raw 32-bit draws (u[16b .. 16b+15], the float32 uniforms of block b
 * in memory order) into dst[off + 16b ..]: lanes j = 0..7 pair u1 = 1 - U[j] (radius) with
 * u2 = U[j+8] (angle); N[j] = r·cos θ·std + mean, N[j+8] = r·sin θ·std + mean.
 */
export function normalFillAvx2 (u: Uint32Array, nBlocks: number, dst: Float32Array, off: number, mean: number, std: number): void {
  const blocksPerBatch = lanes >>> 3
  for (let b0 = 0; b0 < nBlocks; b0 += blocksPerBatch) {
    const nb = Math.min(blocksPerBatch, nBlocks - b0)
    transformBatch(u, b0, nb, dst, off, mean, std)
  }
}

function transformBatch (u: Uint32Array, b0: number, nb: number, dst: Float32Array, off: number, mean: number, std: number): void {
  computeLanes(u, b0, nb)
  writeOutputs(b0, nb, dst, off, mean, std)
}

/** Per-lane results of the last computeLanes call (exposed for the exhaustive test). */
export const laneResults: { readonly radius: Float64Array, readonly sin: Float64Array, readonly cos: Float64Array } =
  { radius: radA, sin: sinA, cos: cosA }

/** Max blocks per computeLanes call. */
export const laneBlocks = lanes >>> 3

/**
 * radius = sqrt(-2 LOG(1 - U[j])) and SINCOS(2π U[j+8]) for the 8·nb lanes of blocks b0..b0+nb-1
 * (nb <= laneBlocks), into laneResults.
 */
export function computeLanes (u: Uint32Array, b0: number, nb: number): void {
  const n = nb << 3
  // Stage 1: u1 = K·2^-24 with K = 2^24 - k in [1, 2^24]; m in [0.5, 1) times 2^e (exact steps).
  // The m < SQRTHF test is done branch-free on the integer K (it is a coin flip per lane).
  for (let p = 0; p < n; p++) {
    const K = 0x1000000 - (u[((b0 + (p >>> 3)) << 4) + (p & 7)]! & 0xffffff)
    const c = Math.clz32(K)
    const m0 = K * mantScale[c]!
    const lt = (K - sqrtHfThreshold[c]!) >>> 31 // 1 when m0 < SQRTHF
    eA[p] = 8 - c - lt
    mA[p] = (m0 - 1) + lt * m0 // m0 - 1, or (m0 - 1) + m0: exact either way
  }
  // Stage 2: the Horner chain (contracted FMAs in the kernel; exact in double here, see header).
  for (let p = 0; p < n; p++) {
    const m = mA[p]!
    let y = fround(logP0 * m + logP1)
    y = fround(y * m + logP2)
    y = fround(y * m + logP3)
    y = fround(y * m + logP4)
    y = fround(y * m + logP5)
    y = fround(y * m + logP6)
    y = fround(y * m + logP7)
    yA[p] = fround(y * m + logP8)
  }
  // Stage 3: finish the log, radius = sqrt(-2 log u1).
  for (let p = 0; p < n; p++) {
    const m = mA[p]!
    const e = eA[p]!
    const z = fround(m * m)
    let y = fround(yA[p]! * m)
    y = fround(y * z + fround(e * logQ1))
    y = fround(y - z * 0.5)
    const lg = fround(fround(m + y) + e * logQ2)
    radA[p] = fround(Math.sqrt(-2 * lg))
  }
  // Stage 4: sincos(θ), θ = f32(2π_f · u2) in [0, 2π). The octant logic is branch-free (j is
  // uniformly spread, so branches would mispredict): selects and sign flips are arithmetic, exact
  // here (multiplying by 0, 1 or -1 and adding ±0).
  // Split in two loops: smaller bodies let the CPU overlap more lanes' dependency chains.
  for (let p = 0; p < n; p++) {
    let x = fround(twoPiF * ((u[((b0 + (p >>> 3)) << 4) + (p & 7) + 8]! & 0xffffff) * twoPowM24))
    let j = fround(x * fourOverPi) | 0 // cvttps: truncation (x >= 0)
    j = (j + 1) & ~1
    x = fround(j * dp1 + x)
    x = fround(j * dp2 + x)
    xA[p] = fround(j * dp3 + x)
    jA[p] = j
  }
  for (let p = 0; p < n; p++) {
    const x = xA[p]!
    const j = jA[p]!
    const z = fround(x * x)
    let yc = fround(fround(cosP0 * z + cosP1) * z + cosP2)
    yc = fround(yc * z)
    yc = fround(fround(yc * z - z * 0.5) + 1)
    let ys = fround(fround(sinP0 * z + sinP1) * z + sinP2)
    ys = fround(ys * z)
    ys = fround(ys * x + x)
    // poly = (j & 2) == 0 selects (sin, cos) = (ys, yc), else (yc, ys); the kernel's mask-and-add
    // turns -0 into +0, as the trailing + 0 does. Then sin ^= (j & 4), cos ^= (~(j - 2) & 4).
    const q = (j >>> 1) & 1
    const sinSign = 1 - ((j >>> 1) & 2)
    const cosSign = 1 - ((~(j - 2) >>> 1) & 2)
    sinA[p] = ((ys * (1 - q) + yc * q) + 0) * sinSign
    cosA[p] = ((yc * (1 - q) + ys * q) + 0) * cosSign
  }
}

function writeOutputs (b0: number, nb: number, dst: Float32Array, off: number, mean: number, std: number): void {
  const n = nb << 3
  if (mean === 0) {
    for (let p = 0; p < n; p++) {
      const r = radA[p]!
      const o = off + ((b0 + (p >>> 3)) << 4) + (p & 7)
      dst[o] = fround(r * cosA[p]!) * std + 0 // exact product, +0 as the fma's +mean
      dst[o + 8] = fround(r * sinA[p]!) * std + 0
    }
  } else {
    for (let p = 0; p < n; p++) {
      const r = radA[p]!
      const o = off + ((b0 + (p >>> 3)) << 4) + (p & 7)
      dst[o] = fma32(fround(r * cosA[p]!), std, mean)
      dst[o + 8] = fma32(fround(r * sinA[p]!), std, mean)
    }
  }
}
