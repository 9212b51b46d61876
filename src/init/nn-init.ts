// torch.nn.init on contiguous tensors, with the generator passed explicitly.
//
// Scalar arithmetic (gains, fans, bounds) is done in doubles in exactly the order torch/nn/init.py
// writes it, because the kernels see the rounded bounds: e.g. Linear(20, ·) has the kaiming bound
// sqrt(3) * (sqrt(2 / (1 + 5.000000000000001)) / sqrt(20)) = 0.22360679774997894, not
// 1/sqrt(20) = 0.22360679774997896. Python's `x ** 2` is written x * x (C pow is exact for
// exponent 2; V8's Math.pow is not guaranteed to be).
//
// Name map (torch -> here): uniform_ -> uniform, normal_ -> normal, constant_ -> constant,
// ones_ -> ones, zeros_ -> zeros, eye_ -> eye, dirac_ -> dirac, xavier_uniform_ -> xavierUniform,
// xavier_normal_ -> xavierNormal, kaiming_uniform_ -> kaimingUniform, kaiming_normal_ ->
// kaimingNormal, trunc_normal_ -> truncNormal, calculate_gain -> calculateGain,
// _calculate_fan_in_and_fan_out -> calculateFanInAndFanOut.

import {
  allocDense, decodeElement, defaultProfile, encodeElement, normalFill, numelOf, readValues, uniformFill,
  UnsupportedInitError, writeValues, type FillTarget, type InitProfile
} from './distributions.js'
import { erf } from './libm.js'
import type { CpuGenerator } from './mt19937.js'

/** A contiguous (row-major) tensor: its shape plus the storage filled in place. */
export interface InitTensor extends FillTarget {
  readonly shape: readonly number[]
}

export type Nonlinearity =
  | 'linear' | 'conv1d' | 'conv2d' | 'conv3d' | 'conv_transpose1d' | 'conv_transpose2d' | 'conv_transpose3d'
  | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu' | 'selu'

export type FanMode = 'fan_in' | 'fan_out'

const linearFns = new Set<string>([
  'linear', 'conv1d', 'conv2d', 'conv3d', 'conv_transpose1d', 'conv_transpose2d', 'conv_transpose3d'
])

/** torch.nn.init.calculate_gain. `param` is leaky_relu's negative slope (booleans are rejected, as in torch). */
export function calculateGain (nonlinearity: Nonlinearity | string, param?: number | boolean | null): number {
  if (linearFns.has(nonlinearity) || nonlinearity === 'sigmoid') return 1
  if (nonlinearity === 'tanh') return 5.0 / 3
  if (nonlinearity === 'relu') return Math.sqrt(2.0)
  if (nonlinearity === 'leaky_relu') {
    let slope: number
    if (param === undefined || param === null) slope = 0.01
    else if (typeof param === 'number') slope = param
    else throw new RangeError(`negative_slope ${param ? 'True' : 'False'} not a valid number`)
    return Math.sqrt(2.0 / (1 + slope * slope))
  }
  if (nonlinearity === 'selu') return 3.0 / 4
  throw new RangeError(`Unsupported nonlinearity ${nonlinearity}`)
}

/** torch's _calculate_fan_in_and_fan_out: fan_in = size(1) * receptive, fan_out = size(0) * receptive. */
export function calculateFanInAndFanOut (shape: readonly number[]): { fanIn: number, fanOut: number } {
  if (shape.length < 2) {
    throw new RangeError('Fan in and fan out can not be computed for tensor with fewer than 2 dimensions')
  }
  let receptive = 1
  for (let i = 2; i < shape.length; i++) receptive *= shape[i]!
  return { fanIn: shape[1]! * receptive, fanOut: shape[0]! * receptive }
}

function correctFan (shape: readonly number[], mode: string): number {
  const m = mode.toLowerCase()
  if (m !== 'fan_in' && m !== 'fan_out') {
    throw new RangeError(`Mode ${mode} not supported, please use one of ['fan_in', 'fan_out']`)
  }
  const { fanIn, fanOut } = calculateFanInAndFanOut(shape)
  return m === 'fan_in' ? fanIn : fanOut
}

function checkShape (t: InitTensor): number {
  const n = numelOf(t)
  let prod = 1
  for (const s of t.shape) {
    if (!Number.isSafeInteger(s) || s < 0) throw new RangeError(`invalid dimension ${s} in shape [${t.shape.join(', ')}]`)
    prod *= s
  }
  if (prod !== n) throw new RangeError(`shape [${t.shape.join(', ')}] has ${prod} elements but the storage holds ${n}`)
  return n
}

function pyDiv (a: number, b: number): number {
  if (b === 0) throw new RangeError('float division by zero') // Python raises ZeroDivisionError
  return a / b
}

// ---- primitive fills ----

/** nn.init.uniform_(tensor, a, b). */
export function uniform (gen: CpuGenerator, t: InitTensor, a = 0.0, b = 1.0, profile: InitProfile = defaultProfile): InitTensor {
  checkShape(t)
  uniformFill(gen, t, a, b, profile)
  return t
}

/** nn.init.normal_(tensor, mean, std). */
export function normal (gen: CpuGenerator, t: InitTensor, mean = 0.0, std = 1.0, profile: InitProfile = defaultProfile): InitTensor {
  checkShape(t)
  normalFill(gen, t, mean, std, profile)
  return t
}

/** nn.init.constant_: every element := val cast to the dtype (double -> float -> 16-bit type). No RNG. */
export function constant (t: InitTensor, val: number): InitTensor {
  checkShape(t)
  const values = readValues(t)
  values.fill(encodeElement(t.dtype, val))
  writeValues(t, values) // no-op when values is the target's own storage
  return t
}

/** nn.init.ones_. */
export function ones (t: InitTensor): InitTensor {
  return constant(t, 1.0)
}

/** nn.init.zeros_. */
export function zeros (t: InitTensor): InitTensor {
  return constant(t, 0.0)
}

/** nn.init.eye_: a 2-D identity (ones on the main diagonal). No RNG. */
export function eye (t: InitTensor): InitTensor {
  if (t.shape.length !== 2) throw new RangeError('Only tensors with 2 dimensions are supported')
  checkShape(t)
  const [rows, cols] = t.shape as [number, number]
  const values = readValues(t)
  values.fill(encodeElement(t.dtype, 0))
  const one = encodeElement(t.dtype, 1)
  for (let i = 0; i < Math.min(rows, cols); i++) values[i * cols + i] = one
  writeValues(t, values) // no-op when values is the target's own storage
  return t
}

/** nn.init.dirac_(tensor, groups): identity-preserving 3/4/5-D conv weights. No RNG. */
export function dirac (t: InitTensor, groups = 1): InitTensor {
  const dims = t.shape.length
  if (dims < 3 || dims > 5) throw new RangeError('Only tensors with 3, 4, or 5 dimensions are supported')
  checkShape(t)
  const sizes = t.shape
  if (sizes[0]! % groups !== 0) throw new RangeError('dim 0 must be divisible by groups')
  const outPerGroup = sizes[0]! / groups
  const minDim = Math.min(outPerGroup, sizes[1]!)
  const strides = new Array<number>(dims).fill(1)
  for (let k = dims - 2; k >= 0; k--) strides[k] = strides[k + 1]! * sizes[k + 1]!
  let centre = 0
  for (let k = 2; k < dims; k++) centre += Math.floor(sizes[k]! / 2) * strides[k]!
  const values = readValues(t)
  values.fill(encodeElement(t.dtype, 0))
  const one = encodeElement(t.dtype, 1)
  for (let g = 0; g < groups; g++) {
    for (let d = 0; d < minDim; d++) values[(g * outPerGroup + d) * strides[0]! + d * strides[1]! + centre] = one
  }
  writeValues(t, values) // no-op when values is the target's own storage
  return t
}

// ---- variance-scaling initialisers ----

/** nn.init.xavier_uniform_: a = sqrt(3) * gain * sqrt(2 / (fan_in + fan_out)), U(-a, a). */
export function xavierUniform (gen: CpuGenerator, t: InitTensor, gain = 1.0, profile: InitProfile = defaultProfile): InitTensor {
  const { fanIn, fanOut } = calculateFanInAndFanOut(t.shape)
  const std = gain * Math.sqrt(pyDiv(2.0, fanIn + fanOut))
  const a = Math.sqrt(3.0) * std
  return uniform(gen, t, -a, a, profile)
}

/** nn.init.xavier_normal_: N(0, gain * sqrt(2 / (fan_in + fan_out))). */
export function xavierNormal (gen: CpuGenerator, t: InitTensor, gain = 1.0, profile: InitProfile = defaultProfile): InitTensor {
  const { fanIn, fanOut } = calculateFanInAndFanOut(t.shape)
  const std = gain * Math.sqrt(pyDiv(2.0, fanIn + fanOut))
  return normal(gen, t, 0.0, std, profile)
}

/**
 * nn.init.kaiming_uniform_: bound = sqrt(3) * gain / sqrt(fan), U(-bound, bound). A tensor with a
 * zero dimension is left alone and draws nothing (torch only warns).
 */
export function kaimingUniform (gen: CpuGenerator, t: InitTensor, a = 0, mode: FanMode | string = 'fan_in',
  nonlinearity: Nonlinearity | string = 'leaky_relu', profile: InitProfile = defaultProfile): InitTensor {
  if (t.shape.includes(0)) return t
  const fan = correctFan(t.shape, mode)
  const gain = calculateGain(nonlinearity, a)
  const std = gain / Math.sqrt(fan)
  const bound = Math.sqrt(3.0) * std
  return uniform(gen, t, -bound, bound, profile)
}

/** nn.init.kaiming_normal_: N(0, gain / sqrt(fan)); zero-size tensors draw nothing. */
export function kaimingNormal (gen: CpuGenerator, t: InitTensor, a = 0, mode: FanMode | string = 'fan_in',
  nonlinearity: Nonlinearity | string = 'leaky_relu', profile: InitProfile = defaultProfile): InitTensor {
  if (t.shape.includes(0)) return t
  const fan = correctFan(t.shape, mode)
  const gain = calculateGain(nonlinearity, a)
  const std = gain / Math.sqrt(fan)
  return normal(gen, t, 0, std, profile)
}

// ---- truncated normal ----

/**
 * nn.init.trunc_normal_ as torch >= 2.12 does it (rejection sampling): when the kept mass
 * p = Φ((b-mean)/std) - Φ((a-mean)/std) exceeds 0.3, fill with normal_(mean, std), then while any
 * element lies outside [a, b] (bounds cast to the dtype) draw a fresh full-size normal_ tensor
 * and take its values at those positions. Bit-exact wherever normal_ is.
 *
 * Not supported (UnsupportedInitError): p <= 0.3 (torch accepts with Tensor.log_ of uniforms, a
 * SLEEF/MKL vector log), and the torch <= 2.11 inverse-CDF algorithm (profile 1.13), whose erfinv
 * is MKL's on official wheels. Φ uses libm.ts's erf (within ~2 ulp of glibc's), which only
 * decides the p > 0.3 branch. torch's "mean is more than 2 std from [a, b]" warning is not emitted.
 */
export function truncNormal (gen: CpuGenerator, t: InitTensor, mean = 0.0, std = 1.0, a = -2.0, b = 2.0,
  profile: InitProfile = defaultProfile): InitTensor {
  if (profile.version === '1.13') {
    throw new UnsupportedInitError('trunc_normal_ before torch 2.12 uses erfinv (MKL on official wheels); not reproducible')
  }
  const n = checkShape(t)
  const p = normCdf(pyDiv(b - mean, std)) - normCdf(pyDiv(a - mean, std))
  if (!(p > 0.3)) {
    throw new UnsupportedInitError(`trunc_normal_ with kept mass p = ${p} <= 0.3 uses a vector log; not reproducible`)
  }
  const dtype = t.dtype
  const lo = decodeElement(dtype, encodeElement(dtype, a))
  const hi = decodeElement(dtype, encodeElement(dtype, b))
  normalFill(gen, t, mean, std, profile)
  const values = readValues(t)
  let fresh: ReturnType<typeof allocDense> | null = null
  const rejected: number[] = []
  for (;;) {
    rejected.length = 0
    for (let i = 0; i < n; i++) {
      const v = decodeElement(dtype, values[i]!)
      if (v < lo || v > hi) rejected.push(i)
    }
    if (rejected.length === 0) break
    fresh ??= allocDense(dtype, n)
    normalFill(gen, { dtype, data: fresh }, mean, std, profile)
    for (const i of rejected) values[i] = fresh[i]!
  }
  writeValues(t, values) // no-op when values is the target's own storage
  return t
}

/** Φ(x) = (1 + erf(x / sqrt(2))) / 2, as torch/nn/init.py writes it. */
function normCdf (x: number): number {
  return (1.0 + erf(x / Math.sqrt(2.0))) / 2.0
}
