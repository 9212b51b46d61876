// Tensor.uniform_ and Tensor.normal_ as PyTorch's CPU kernels compute them (docs/torch-init.md §2, §3),
// for contiguous float32 / float64 / float16 / bfloat16 tensors filled in memory order.
//
// Profile: the (2.x, avx2) behaviour is the contract (x86-64 Linux GCC builds on AVX2 CPUs without
// AVX-512); the 1.13 family is available where it needs no glibc float libm. Exactness:
//   * uniform_, all dtypes, both versions: bit-exact.
//   * normal_ float32 (fill path, n >= 16): bit-exact; pure float32 arithmetic, no libm.
//   * normal_ float16/bfloat16, 2.x: bit-exact (float32 transform, then cast).
//   * normal_ float32/float16/bfloat16 scalar path (n < 16): the Box-Muller pair is computed in
//     double with stand-ins for glibc's log1p/log/sin/cos (normal-fill.ts). A last-bit double
//     difference almost never survives the rounding to float (0 of 800 000 samples in
//     docs/torch-init.md §8.4); the cached second sample can differ in its last bit (then the next
//     scalar draw of a float64 tensor would too).
//   * normal_ float64 (both paths): NOT guaranteed exact. log/sin/cos are correctly rounded, which
//     glibc is too except for ~0.1% of inputs; where glibc misrounds, the element's last bits
//     differ (measured: ~0.1% of elements). Exactness would need ports of glibc's double libm.
//   * normal_ float16/bfloat16 fill path, 1.13: unsupported (needs glibc logf/sinf/cosf).
//
// Targets are written in place (storage.ts): a typed array or the little-endian bytes, e.g. a
// slice of a SharedArrayBuffer arena.

import { bf16BitsFromF32, f16BitsFromF32 } from './fp.js'
import type { CpuGenerator } from './mt19937.js'
import { normalBlocksF32, normalBlocksF64, normalBlocksLowp, normalScalarDouble } from './normal-fill.js'
import {
  allocDense, decodeElement, type DenseArray, directView, encodeElement, type FillTarget, numelOf, produceInto,
  type Producer, writeElements
} from './storage.js'
import { type LowpUniform, uniformF32, uniformF64, uniformLowp } from './uniform-fill.js'
import type { FloatDType } from '../tensor/dtype.js'

export {
  allocDense, decodeElement, encodeElement, itemSize, numelOf, readValues, writeValues,
  type DenseArray, type FillTarget, type FloatStorage
} from './storage.js'

const fround = Math.fround

/** PyTorch version family whose kernels to reproduce (docs/torch-init.md §6). */
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

export class UnsupportedInitError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'UnsupportedInitError'
  }
}

// The largest finite value of each dtype (std::numeric_limits<T>::max()), for torch's range check.
const dtypeMax: Record<FloatDType, number> = {
  float32: 3.4028234663852886e38,
  float64: Number.MAX_VALUE,
  float16: 65504,
  bfloat16: 3.3895313892515355e38
}

function checkUniformBounds (dtype: FloatDType, a: number, b: number): void {
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
 * `wasm: false` keeps to the JS kernels, the reference the WebAssembly kernel is checked against.
 */
export function uniformFill (gen: CpuGenerator, target: FillTarget, a = 0, b = 1, profile: InitProfile = defaultProfile, wasm = true): void {
  const n = numelOf(target)
  checkUniformBounds(target.dtype, a, b)
  const direct = directView(target, n)
  const v2 = profile.version !== '1.13'
  const dtype = target.dtype
  let produce: Producer
  if (dtype === 'float32') {
    const from = fround(a); const to = fround(b); const range = fround(to - from)
    const clampTo = v2 ? to : NaN
    produce = (dst, off, count) => { uniformF32(gen, dst as Float32Array, off, count, 0xffffff, 2 ** -24, from, range, clampTo, wasm) }
  } else if (dtype === 'float64') {
    produce = (dst, off, count) => { uniformF64(gen, dst as Float64Array, off, count, a, b, v2) }
  } else {
    const bf16 = dtype === 'bfloat16'
    const bits = bf16 ? bf16BitsFromF32 : f16BitsFromF32
    let p: LowpUniform
    if (v2) {
      // opmath float with 24 random bits, then cast; a cast that lands on `to` becomes `from`.
      const from = fround(a); const to = fround(b)
      p = { bf16, mask: 0xffffff, scale: 2 ** -24, from, range: fround(to - from), toBits: bits(to), fromBits: bits(from) }
    } else {
      // torch 1.13: arithmetic on Half/BFloat16 bounds and only `digits` (11 / 8) random bits.
      const d = bf16 ? 8 : 11
      const round = (x: number): number => decodeElement(dtype, encodeElement(dtype, x))
      const fromH = round(fround(a)); const toH = round(fround(b))
      p = { bf16, mask: (1 << d) - 1, scale: 2 ** -d, from: fromH, range: round(fround(toH - fromH)), toBits: -1, fromBits: 0 }
    }
    produce = (dst, off, count) => { uniformLowp(gen, dst as Uint16Array, off, count, p, wasm) }
  }
  produceInto(target, direct, n, produce)
}

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
  const dtype = target.dtype
  if (n < 16) {
    normalScalarInto(gen, target, direct, n, mean, std, profile)
    return
  }
  const full = n - (n % 16)
  const ragged = n % 16 !== 0
  const tail = allocDense(dtype, 16)
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
  const bf16 = dtype === 'bfloat16'
  const meanF = fround(mean); const stdF = fround(std)
  const blocks: Producer = (dst, off, count) => { normalBlocksLowp(gen, dst as Uint16Array, off, count >>> 4, meanF, stdF, bf16) }
  produceInto(target, direct, full, blocks)
  if (ragged) {
    blocks(tail, 0, 16)
    writeElements(target, direct, n - 16, tail, 16)
  }
}

/** One scalar-path normal draw (double, before the cast to the dtype); see normal-fill.ts. */
export function normalScalar (gen: CpuGenerator, mean = 0, std = 1, profile: InitProfile = defaultProfile): number {
  return normalScalarDouble(gen, mean, std, profile.version === '1.13')
}

function normalScalarInto (gen: CpuGenerator, target: FillTarget, direct: DenseArray | null, n: number,
  mean: number, std: number, profile: InitProfile): void {
  if (n === 0) return
  const dtype = target.dtype
  const out = direct ?? allocDense(dtype, n)
  const legacyLog = profile.version === '1.13'
  // static_cast<scalar_t>(double); half/bfloat16 go through float first.
  for (let i = 0; i < n; i++) out[i] = encodeElement(dtype, normalScalarDouble(gen, mean, std, legacyLog))
  if (direct === null) writeElements(target, null, 0, out, n)
}
