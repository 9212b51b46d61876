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
  UnsupportedInitError, writeValues, type DenseArray, type FillTarget, type InitProfile
} from './distributions.js'
import { erf } from './libm.js'
import type { CpuGenerator } from './mt19937.js'
import type { FloatDType } from '../tensor/dtype.js'
import type { FanMode, Nonlinearity } from '../schemas/vocabulary.js'

/** A contiguous (row-major) tensor: its shape plus the storage filled in place. */
export interface InitTensor extends FillTarget {
  readonly shape: readonly number[]
}

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

/** xavier_*'s std: gain * sqrt(2 / (fan_in + fan_out)). Also what the init replay records (module-init.ts). */
export function xavierStd (shape: readonly number[], gain: number): number {
  const { fanIn, fanOut } = calculateFanInAndFanOut(shape)
  return gain * Math.sqrt(pyDiv(2.0, fanIn + fanOut))
}

/** kaiming_*'s std: calculate_gain(nonlinearity, a) / sqrt(fan), fan by mode. For a shape without a zero dimension. */
export function kaimingStd (shape: readonly number[], a: number, mode: FanMode | string, nonlinearity: Nonlinearity | string): number {
  const fan = correctFan(shape, mode)
  const gain = calculateGain(nonlinearity, a)
  return gain / Math.sqrt(fan)
}

/** nn.init.xavier_uniform_: a = sqrt(3) * gain * sqrt(2 / (fan_in + fan_out)), U(-a, a). */
export function xavierUniform (gen: CpuGenerator, t: InitTensor, gain = 1.0, profile: InitProfile = defaultProfile): InitTensor {
  const a = Math.sqrt(3.0) * xavierStd(t.shape, gain)
  return uniform(gen, t, -a, a, profile)
}

/** nn.init.xavier_normal_: N(0, gain * sqrt(2 / (fan_in + fan_out))). */
export function xavierNormal (gen: CpuGenerator, t: InitTensor, gain = 1.0, profile: InitProfile = defaultProfile): InitTensor {
  return normal(gen, t, 0.0, xavierStd(t.shape, gain), profile)
}

/**
 * nn.init.kaiming_uniform_: bound = sqrt(3) * gain / sqrt(fan), U(-bound, bound). A tensor with a
 * zero dimension is left alone and draws nothing (torch only warns).
 */
export function kaimingUniform (gen: CpuGenerator, t: InitTensor, a = 0, mode: FanMode | string = 'fan_in',
  nonlinearity: Nonlinearity | string = 'leaky_relu', profile: InitProfile = defaultProfile): InitTensor {
  if (t.shape.includes(0)) return t
  const bound = Math.sqrt(3.0) * kaimingStd(t.shape, a, mode, nonlinearity)
  return uniform(gen, t, -bound, bound, profile)
}

/** nn.init.kaiming_normal_: N(0, gain / sqrt(fan)); zero-size tensors draw nothing. */
export function kaimingNormal (gen: CpuGenerator, t: InitTensor, a = 0, mode: FanMode | string = 'fan_in',
  nonlinearity: Nonlinearity | string = 'leaky_relu', profile: InitProfile = defaultProfile): InitTensor {
  if (t.shape.includes(0)) return t
  return normal(gen, t, 0, kaimingStd(t.shape, a, mode, nonlinearity), profile)
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
 *
 * The loop runs in constant extra memory (truncNormalRun, docs/trunc-normal.md).
 */
export function truncNormal (gen: CpuGenerator, t: InitTensor, mean = 0.0, std = 1.0, a = -2.0, b = 2.0,
  profile: InitProfile = defaultProfile): InitTensor {
  const n = checkShape(t)
  const params = truncNormalParams(t.dtype, n, mean, std, a, b, profile)
  const values = readValues(t)
  truncNormalRun(gen, params, new TruncOutput(values, t.dtype, params), truncNormalStart(), Infinity)
  writeValues(t, values) // no-op when values is the target's own storage
  return t
}

/** What the rejection loop needs: the op's dtype, size, distribution and the bounds cast to the dtype. */
export interface TruncNormalParams {
  readonly dtype: FloatDType
  readonly n: number
  readonly mean: number
  readonly std: number
  readonly lo: number
  readonly hi: number
  readonly profile: InitProfile
}

/** Checks trunc_normal_'s arguments as truncNormal does (throws UnsupportedInitError, RangeError). */
export function truncNormalParams (dtype: FloatDType, n: number, mean: number, std: number, a: number, b: number,
  profile: InitProfile = defaultProfile): TruncNormalParams {
  if (profile.version === '1.13') {
    throw new UnsupportedInitError('trunc_normal_ before torch 2.12 uses erfinv (MKL on official wheels); not reproducible')
  }
  const p = normCdf(pyDiv(b - mean, std)) - normCdf(pyDiv(a - mean, std))
  if (!(p > 0.3)) {
    throw new UnsupportedInitError(`trunc_normal_ with kept mass p = ${p} <= 0.3 uses a vector log; not reproducible`)
  }
  const lo = decodeElement(dtype, encodeElement(dtype, a))
  const hi = decodeElement(dtype, encodeElement(dtype, b))
  return { dtype, n, mean, std, lo, hi, profile }
}

/**
 * Where the loop is: round 0 is the first normal_ fill, round r >= 1 the r-th redraw; `unit` is the
 * next 16-element block of the round (the ragged tail is the last unit); `left` counts the
 * elements of the round's units so far that are still outside [a, b]. Plain data: a worker task
 * hands it on with the generator state.
 */
export interface TruncNormalState { round: number, unit: number, left: number }

export const truncNormalStart = (): TruncNormalState => ({ round: 0, unit: 0, left: 0 })

/** The loop's per-element state: which elements still need a value, and taking fresh values. */
export interface TruncStore {
  /** whether an element of [s, e) is still outside [a, b] */
  anyPending: (s: number, e: number) => boolean
  /** elements s.. of [s, e) take fresh[0..] where pending (all of them if `all`); returns how many stay outside */
  take: (s: number, e: number, fresh: DenseArray, all: boolean) => number
}

const nanBits: Record<FloatDType, number> = { float32: NaN, float64: NaN, float16: 0x7e00, bfloat16: 0x7fc0 }

/**
 * The output tensor is the state: an element still outside [a, b] holds NaN (a normal draw never
 * is NaN), an accepted one its value cast to the output dtype. No index list, no extra memory.
 */
export class TruncOutput implements TruncStore {
  private readonly nan: number
  private readonly same: boolean
  constructor (private readonly out: DenseArray, private readonly outDtype: FloatDType, private readonly p: TruncNormalParams) {
    this.nan = nanBits[outDtype]
    this.same = outDtype === p.dtype
  }

  private pending (i: number): boolean {
    const x = this.out[i]!
    switch (this.outDtype) {
      case 'float16': return (x & 0x7fff) > 0x7c00
      case 'bfloat16': return (x & 0x7fff) > 0x7f80
      default: return x !== x // eslint-disable-line no-self-compare
    }
  }

  anyPending (s: number, e: number): boolean {
    for (let i = s; i < e; i++) if (this.pending(i)) return true
    return false
  }

  take (s: number, e: number, fresh: DenseArray, all: boolean): number {
    const { lo, hi, dtype } = this.p
    const out = this.out
    let left = 0
    if (this.same && dtype === 'float32') { // the common case, without decode calls
      const o = out as Float32Array
      const f = fresh as Float32Array
      for (let i = s, j = 0; i < e; i++, j++) {
        if (!all && o[i] === o[i]) continue // eslint-disable-line no-self-compare
        const v = f[j]!
        if (v < lo || v > hi) { o[i] = NaN; left++ } else o[i] = v
      }
      return left
    }
    for (let i = s, j = 0; i < e; i++, j++) {
      if (!all && !this.pending(i)) continue
      const v = decodeElement(dtype, fresh[j]!)
      if (v < lo || v > hi) { out[i] = this.nan; left++ } else out[i] = this.same ? fresh[j]! : encodeElement(this.outDtype, v)
    }
    return left
  }
}

/** For a draw no tensor keeps (overwritten later): one bit per element, set while it is outside [a, b]. */
export class TruncBits implements TruncStore {
  constructor (private readonly bits: Uint8Array, private readonly p: TruncNormalParams) {}
  static bytes (n: number): number { return Math.ceil(n / 8) }

  anyPending (s: number, e: number): boolean {
    for (let i = s; i < e; i++) if ((this.bits[i >>> 3]! & (1 << (i & 7))) !== 0) return true
    return false
  }

  take (s: number, e: number, fresh: DenseArray, all: boolean): number {
    const { lo, hi, dtype } = this.p
    const bits = this.bits
    let left = 0
    for (let i = s, j = 0; i < e; i++, j++) {
      const m = 1 << (i & 7)
      if (!all && (bits[i >>> 3]! & m) === 0) continue
      const v = decodeElement(dtype, fresh[j]!)
      if (v < lo || v > hi) { bits[i >>> 3]! |= m; left++ } else bits[i >>> 3]! &= ~m
    }
    return left
  }
}

// Rough costs (ns) for cutting the loop into steps: a drawn element, a scanned one, a discarded draw.
const drawCost = (dtype: FloatDType): number => dtype === 'float64' ? 250 : 30
const scanCost = 1
const skipCost = 0.3
/** Largest run of 16-element blocks drawn by one normal_ call (the scratch size). */
const RUN_ELEMS = 1 << 14

const scratch = new Map<FloatDType, DenseArray>()
function freshBuffer (dtype: FloatDType): DenseArray {
  let b = scratch.get(dtype)
  if (b === undefined) { b = allocDense(dtype, RUN_ELEMS); scratch.set(dtype, b) }
  return b
}

/**
 * Advances the rejection loop by about `budget` ns of work; returns true when it is over. The
 * generator sees exactly what one full-size normal_ per round would draw (n >= 16: the fill path,
 * blocks of 16 uniforms per 16 elements, a ragged tail drawing its own block after skipping the
 * partial one; see distributions.ts normalFill), so any split of a round into blocks gives the
 * same stream. In a redraw round a block with no element outside [a, b] is skipped with
 * MT19937.discard (its values would be thrown away), which makes late rounds cheap. n < 16 is
 * normal_'s scalar path (it uses the cached Box-Muller sample): every round draws it whole.
 */
export function truncNormalRun (gen: CpuGenerator, p: TruncNormalParams, store: TruncStore, state: TruncNormalState, budget: number): boolean {
  const { n, dtype, mean, std, profile } = p
  if (n === 0) return true
  const fresh = freshBuffer(dtype)
  const fill = (count: number): DenseArray => {
    const view = fresh.subarray(0, count)
    normalFill(gen, { dtype, data: view }, mean, std, profile)
    return view
  }
  let spent = 0
  if (n < 16) {
    while (spent < budget) {
      const left = store.take(0, n, fill(n), state.round === 0)
      spent += n * drawCost(dtype)
      if (left === 0) return true
      state.round++
    }
    return false
  }
  const k = dtype === 'float64' ? 2 : 1
  const full = n - (n % 16)
  const ragged = full !== n
  const blocks = full / 16
  const units = ragged ? blocks + 1 : blocks
  const tailStart = ragged ? n - 16 : n
  let skip = 0 // draws to discard before the next drawn block
  const flush = (): void => { if (skip > 0) { gen.discard(skip); skip = 0 } }
  while (spent < budget) {
    const all = state.round === 0
    let u = state.unit
    if (u < blocks) {
      // a run of blocks: all drawn (round 0), or drawn / skipped by whether they hold a pending element
      const end = Math.min(blocks, u + (RUN_ELEMS >>> 4))
      while (u < end) {
        const s = 16 * u
        if (all || store.anyPending(s, Math.min(s + 16, tailStart))) {
          let v = u + 1
          // eslint-disable-next-line no-unmodified-loop-condition -- `all` is fixed for the op; `v` moves
          while (v < end && (all || store.anyPending(16 * v, Math.min(16 * v + 16, tailStart)))) v++
          flush()
          const count = 16 * (v - u)
          state.left += store.take(s, Math.min(16 * v, tailStart), fill(count), all)
          spent += count * drawCost(dtype)
          u = v
        } else {
          skip += 16 * k
          u++
        }
      }
      spent += (end - state.unit) * 16 * scanCost
      state.unit = u
    } else if (u < units) {
      // the ragged tail: normal_ skips the partial block's uniforms (float32/64) and draws 16 for the last 16 elements
      const skipped = dtype === 'float32' || dtype === 'float64' ? (n - full) * k : 0
      if (all || store.anyPending(tailStart, n)) {
        skip += skipped
        flush()
        state.left += store.take(tailStart, n, fill(16), all)
        spent += 16 * drawCost(dtype)
      } else {
        skip += skipped + 16 * k
      }
      state.unit = units
    }
    if (state.unit === units) {
      flush()
      if (state.left === 0) return true
      state.round++
      state.unit = 0
      state.left = 0
    }
  }
  spent += skip * skipCost
  flush()
  return false
}

/** Φ(x) = (1 + erf(x / sqrt(2))) / 2, as torch/nn/init.py writes it. */
function normCdf (x: number): number {
  return (1.0 + erf(x / Math.sqrt(2.0))) / 2.0
}
