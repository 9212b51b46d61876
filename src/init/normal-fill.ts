// normal_ kernels (docs/torch-init.md §3): the 16-block Box-Muller fill per dtype and the scalar path.
// Block kernels fill dst[off .. off + 16*nBlocks) and are stream-consistent across calls.

import { castF32BitsToBf16, castF32BitsToF16, fma64 } from './fp.js'
import { logCr, sinCosCr } from './libm.js'
import type { CpuGenerator } from './mt19937.js'
import { normalFillAvx2 } from './normal-fill-avx2.js'

const twoPow32 = 2 ** 32
const twoPowM53 = 2 ** -53
const twoPi = 2 * Math.PI // 2.0 * c10::pi<double>

const drawLen = 8192
const draws = new Uint32Array(drawLen)
const valuesF32 = new Float32Array(drawLen)
const valuesBits = new Uint32Array(valuesF32.buffer)
const sincosOut = new Float64Array(2)

/** float32: normal_fill_16_AVX2 on consecutive blocks of 16 uniforms drawn from the generator. */
export function normalBlocksF32 (gen: CpuGenerator, dst: Float32Array, off: number, nBlocks: number,
  mean: number, std: number): void {
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
 * 2.x float16/bfloat16: per block, 16 float uniforms through the float32 AVX2 transform, each
 * result cast to the type. Blocks draw in order, so chunks of blocks go through float32 at once.
 */
export function normalBlocksLowp (gen: CpuGenerator, dst: Uint16Array, off: number, nBlocks: number,
  mean: number, std: number, bf16: boolean): void {
  const perChunk = drawLen >>> 4
  while (nBlocks > 0) {
    const kb = nBlocks < perChunk ? nBlocks : perChunk
    normalBlocksF32(gen, valuesF32, 0, kb, mean, std)
    if (bf16) castF32BitsToBf16(valuesBits, dst, off, kb << 4)
    else castF32BitsToF16(valuesBits, dst, off, kb << 4)
    off += kb << 4
    nBlocks -= kb
  }
}

/**
 * float64: u1 = 1 - U[j], radius = sqrt(-2 log u1) (log, not log1p, also in 2.x), θ = 2π U[j+8],
 * N = fma(r cos θ, std, mean). log/sin/cos are correctly rounded stand-ins for glibc's (libm.ts),
 * so elements differ from torch only where glibc misrounds (~0.1%).
 */
export function normalBlocksF64 (gen: CpuGenerator, dst: Float64Array, off: number, nBlocks: number,
  mean: number, std: number): void {
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
        const radius = Math.sqrt(-2 * logCr(u1))
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
 * One at::normal_distribution<double> draw (the scalar path, numel < 16): Box-Muller in double,
 * returning one sample and caching the other on the generator; value = fma(z, std, mean).
 * Here u1 drives the angle and u2 the radius (the opposite of the fill path). The radius uses
 * log1p(-u2) in 2.x and log(1 - u2) in 1.13. glibc's log1p is fdlibm-derived like V8's
 * Math.log1p (they agree but for ~0.1% of inputs); log/sin/cos are correctly rounded (libm.ts).
 */
export function normalScalarDouble (gen: CpuGenerator, mean: number, std: number, legacyLog: boolean): number {
  let z: number
  if (gen.hasDoubleNormal) {
    z = gen.doubleNormal
    gen.hasDoubleNormal = false
    gen.doubleNormal = 0
  } else {
    const u1 = gen.uniform01Double()
    const u2 = gen.uniform01Double()
    const r = Math.sqrt(-2 * (legacyLog ? logCr(1 - u2) : Math.log1p(-u2)))
    sinCosCr(twoPi * u1, sincosOut)
    gen.doubleNormal = r * sincosOut[0]!
    gen.hasDoubleNormal = true
    z = r * sincosOut[1]!
  }
  return fma64(z, std, mean)
}
