// uniform_ kernels (docs/torch-init.md §2): one draw per element (two for float64), memory order.
// Each kernel fills dst[off .. off+count) and is stream-consistent: calling it on consecutive
// pieces draws exactly what one call over the whole range would.

import { castF32BitsToBf16, castF32BitsToF16, f32Bits, fma32, fma64 } from './fp.js'
import { mtUniformWasmF32 } from './mt-uniform-wasm.js'
import type { CpuGenerator } from './mt19937.js'

const twoPowM53 = 2 ** -53
const twoPow32 = 2 ** 32
/** Below this many elements the JS loop beats the WASM call (state copy in and out). */
const wasmMinCount = 64

// Reusable buffers (hot loops never allocate).
const drawLen = 8192
const draws = new Uint32Array(drawLen)
const valuesF32 = new Float32Array(drawLen)
const valuesBits = new Uint32Array(valuesF32.buffer)

/** ulp of a float32 value (2^-149 for zero and subnormals). */
function ulp32 (v: number): number {
  const e = (f32Bits(v) >>> 23) & 0xff
  return 2 ** (Math.max(e, 1) - 150)
}

/**
 * Whether x*range + from (x = k * scale, integer k < 2^24) is exact in double for every k, so that
 * rounding the double sum once equals the float32 FMA. Every term is a multiple of
 * g = min(scale * ulp(range), ulp(from)); the sum is exact when its magnitude bound is <= 2^53 g.
 * True for all practical bounds ([0, 1), ±b, ...); otherwise the kernels emulate the FMA.
 */
export function sumIsExact (scale: number, range: number, from: number): boolean {
  const g = from === 0 ? scale * ulp32(range) : Math.min(scale * ulp32(range), ulp32(from))
  return Math.abs(range) + Math.abs(from) <= 2 ** 53 * g
}

/**
 * float32 values fma32((draw & mask) * scale, range, from), with torch 2.x's "v == to -> from"
 * when clampTo is set (pass NaN to disable). `wasm: false` keeps to the JS kernels (the reference
 * the WebAssembly kernel is checked against).
 */
export function uniformF32 (gen: CpuGenerator, dst: Float32Array, off: number, count: number,
  mask: number, scale: number, from: number, range: number, clampTo: number, wasm = true): void {
  if (!sumIsExact(scale, range, from)) {
    uniformF32Fma(gen, dst, off, count, mask, scale, from, range, clampTo)
    return
  }
  // Hot path: draws are tempered in registers straight from the engine's block, and x*range is
  // formed as k * (range*scale) (exact: scaling by a power of two, then a <= 48-bit product). The
  // store into the Float32Array is the single rounding.
  const eng = gen.engine
  const scaled = range * scale
  // WebAssembly SIMD (mt-uniform-wasm.ts): the same arithmetic, bit for bit; false -> JS below.
  if (wasm && count >= wasmMinCount && mtUniformWasmF32(eng, dst, off, count, mask, scaled, from, clampTo)) return
  const s = eng.state
  while (count > 0) {
    const k = eng.takeFromBlock(count)
    const end = eng.next
    let o = off
    for (let i = end - k; i < end; i++) {
      let y = s[i]!
      y ^= y >>> 11
      y ^= (y << 7) & 0x9d2c5680
      y ^= (y << 15) & 0xefc60000
      y ^= y >>> 18
      dst[o++] = (y & mask) * scaled + from
    }
    // 2.x: never return the upper bound (only reachable when rounding lands exactly on it).
    if (!Number.isNaN(clampTo)) for (let i = off; i < o; i++) if (dst[i] === clampTo) dst[i] = from
    off = o
    count -= k
  }
}

function uniformF32Fma (gen: CpuGenerator, dst: Float32Array, off: number, count: number,
  mask: number, scale: number, from: number, range: number, clampTo: number): void {
  const u = draws
  while (count > 0) {
    const k = count < drawLen ? count : drawLen
    gen.fillU32(u, 0, k)
    for (let i = 0; i < k; i++) {
      const v = fma32((u[i]! & mask) * scale, range, from) // GCC fuses x*range + from
      dst[off + i] = v === clampTo ? from : v
    }
    off += k
    count -= k
  }
}

/** float64: x = (random64() & (2^53-1)) * 2^-53, v = fma(x, b - a, a); 2.x: v == b -> a. */
export function uniformF64 (gen: CpuGenerator, dst: Float64Array, off: number, count: number,
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

/** Parameters of a float16 / bfloat16 uniform_ (docs/torch-init.md §2.3). */
export interface LowpUniform {
  readonly bf16: boolean
  readonly mask: number // 0xFFFFFF (2.x) or 2^digits - 1 (1.13: 11 / 8 bits)
  readonly scale: number
  readonly from: number
  readonly range: number
  /** 2.x: a cast result equal to toBits (by value, so ±0 match) becomes fromBits; -1 disables. */
  readonly toBits: number
  readonly fromBits: number
}

/** float16 / bfloat16: the float32 formula, then a bulk cast of each chunk, then 2.x's bound rule. */
export function uniformLowp (gen: CpuGenerator, dst: Uint16Array, off: number, count: number, p: LowpUniform, wasm = true): void {
  const toIsZero = p.toBits >= 0 && (p.toBits & 0x7fff) === 0
  while (count > 0) {
    const k = count < drawLen ? count : drawLen
    uniformF32(gen, valuesF32, 0, k, p.mask, p.scale, p.from, p.range, NaN, wasm)
    if (p.bf16) castF32BitsToBf16(valuesBits, dst, off, k)
    else castF32BitsToF16(valuesBits, dst, off, k)
    if (p.toBits >= 0) {
      for (let i = off; i < off + k; i++) {
        const h = dst[i]!
        if (h === p.toBits || (toIsZero && (h & 0x7fff) === 0)) dst[i] = p.fromBits
      }
    }
    off += k
    count -= k
  }
}
