// torch.nn.init over storages without memory: each call records the RNG operation torch would run
// (RngOp, in stream order) and the value the storage holds afterwards. The bounds are computed by
// nn-init.ts's functions, in Python's order, so they round as torch's do.
import type { MateriaError } from '../errors.js'
import { DTYPES, isFloatDType as isFloat, type DType, type FloatDType } from '../tensor/dtype.js'
import { calculateFanInAndFanOut, kaimingStd, xavierStd } from './nn-init.js'

export type Dist =
  | { readonly kind: 'uniform', readonly low: number, readonly high: number }
  | { readonly kind: 'normal', readonly mean: number, readonly std: number }
  | { readonly kind: 'trunc_normal', readonly mean: number, readonly std: number, readonly a: number, readonly b: number }

/** One RNG-consuming operation on a whole contiguous tensor, in stream order. */
export interface RngOp {
  readonly dtype: FloatDType
  readonly numel: number
  readonly dist: Dist
  /** e.g. "kaiming_uniform_(a=sqrt(5)) on Linear.weight", for messages and debugging */
  readonly what: string
}

export type Base =
  | { readonly kind: 'empty' }
  | { readonly kind: 'const', readonly value: number }
  | { readonly kind: 'draw', readonly op: number }

/** A partial write after the base: elements [start, start + count) := value. */
export interface Patch { readonly start: number, readonly count: number, readonly value: number }

/** Immutable: a deep copy shares it, so the copy has the same values without drawing. */
export interface Value { readonly base: Base, readonly patches: readonly Patch[] }

export class Storage {
  constructor (
    readonly id: number,
    readonly dtype: DType,
    readonly shape: readonly number[],
    readonly numel: number,
    public value: Value
  ) {}

  get floating (): boolean { return DTYPES[this.dtype].floating }
}

/**
 * The error for arguments torch.nn.init would refuse, from the check's own message: the caller
 * knows which init was running (the module's own, or which override on which tensor), so it says
 * how the error reads and which code it answers with.
 */
export type Reject = (message: string) => MateriaError

// std::numeric_limits<T>::max(): torch's range checks of uniform_ bounds
const dtypeMax: Record<FloatDType, number> = { float32: 3.4028234663852886e38, float64: Number.MAX_VALUE, float16: 65504, bfloat16: 3.3895313892515355e38 }

export class InitRecorder {
  readonly ops: RngOp[] = []

  constructor (private reject: Reject) {}

  /** Runs `f` with refused arguments reported by `reject` (an override on one tensor). */
  rejecting<T> (reject: Reject, f: () => T): T {
    const outer = this.reject
    this.reject = reject
    try {
      return f()
    } finally {
      this.reject = outer
    }
  }

  /** nn-init.ts's scalar math throws RangeError where Python raises (fans of a 1-D tensor, division by zero). */
  private pyMath (f: () => number): number {
    try {
      return f()
    } catch (err) {
      if (err instanceof RangeError) throw this.reject(err.message)
      throw err
    }
  }

  private floating (s: Storage, fn: string): FloatDType {
    if (!isFloat(s.dtype)) throw this.reject(`${fn} needs a floating-point tensor, got ${s.dtype}`)
    return s.dtype
  }

  private draw (s: Storage, dist: Dist, what: string): void {
    const dtype = this.floating(s, what)
    if (s.numel === 0) { // torch: CHECK_EMPTY_AND_RETURN, no draws
      s.value = { base: { kind: 'empty' }, patches: [] }
      return
    }
    this.ops.push({ dtype, numel: s.numel, dist, what })
    s.value = { base: { kind: 'draw', op: this.ops.length - 1 }, patches: [] }
  }

  /** nn.init.uniform_(t, a, b); bounds as Python doubles. */
  uniform (s: Storage, a: number, b: number, what = 'uniform_'): void {
    const dtype = this.floating(s, what)
    if (!Number.isFinite(a) || !Number.isFinite(b)) throw this.reject(`uniform_ expects finite bounds, got from=${a} to=${b}`)
    if (Math.abs(a) > dtypeMax[dtype] || Math.abs(b) > dtypeMax[dtype]) {
      throw this.reject(`uniform_ bounds ${a}, ${b} are outside the range of ${dtype}`)
    }
    if (!(a <= b)) throw this.reject(`uniform_ expects to return a [from, to) range, but found from=${a} > to=${b}`)
    if (b - a > dtypeMax[dtype]) {
      throw this.reject(`uniform_ expects to-from <= std::numeric_limits<${dtype}>::max(), but found to=${b} and from=${a}`)
    }
    this.draw(s, { kind: 'uniform', low: a, high: b }, what)
  }

  /** nn.init.normal_(t, mean, std). */
  normal (s: Storage, mean: number, std: number, what = 'normal_'): void {
    this.floating(s, what)
    if (!(std >= 0) || !Number.isFinite(std)) throw this.reject(`normal expects std >= 0.0, but found std ${std}`)
    if (!Number.isFinite(mean)) throw this.reject(`normal expects a finite mean, but found mean ${mean}`)
    this.draw(s, { kind: 'normal', mean, std }, what)
  }

  /** nn.init.trunc_normal_ (torch >= 2.12 rejection sampling; the p <= 0.3 branch is refused by the caller). */
  truncNormal (s: Storage, mean: number, std: number, a: number, b: number, what = 'trunc_normal_'): void {
    this.floating(s, what)
    if (!(std > 0) || !Number.isFinite(std) || !Number.isFinite(mean) || !Number.isFinite(a) || !Number.isFinite(b)) {
      throw this.reject(`trunc_normal_ needs finite mean, a, b and std > 0, got mean=${mean} std=${std} a=${a} b=${b}`)
    }
    this.draw(s, { kind: 'trunc_normal', mean, std, a, b }, what)
  }

  /** nn.init.constant_ / ones_ / zeros_ (and the fills of torch.zeros / torch.ones buffers). No RNG. */
  constant (s: Storage, value: number): void {
    s.value = { base: { kind: 'const', value }, patches: [] }
  }

  /** constant_ as a user calls it: fill_ refuses a value the dtype cannot hold (c10::checked_convert). */
  checkedConstant (s: Storage, value: number): void {
    if (isFloat(s.dtype) && Number.isFinite(value) && Math.abs(value) > dtypeMax[s.dtype]) {
      const c10 = { float32: 'float', float64: 'double', float16: 'c10::Half', bfloat16: 'c10::BFloat16' }[s.dtype]
      throw this.reject(`value cannot be converted to type ${c10} without overflow`)
    }
    this.constant(s, value)
  }

  /** Tensor[row].fill_(value) on a 2-D tensor (Embedding's padding_idx). */
  fillRow (s: Storage, row: number, value: number): void {
    const width = s.shape[1] ?? 1
    if (width === 0) return
    s.value = { base: s.value.base, patches: [...s.value.patches, { start: row * width, count: width, value }] }
  }

  /** The fan_in of nn.init._calculate_fan_in_and_fan_out(t). */
  fanIn (s: Storage): number {
    return this.pyMath(() => calculateFanInAndFanOut(s.shape).fanIn)
  }

  /** nn.init.kaiming_uniform_: a zero-size dimension makes it a no-op (torch warns, draws nothing). */
  kaimingUniform (s: Storage, a = 0, mode = 'fan_in', nonlinearity = 'leaky_relu', what = 'kaiming_uniform_'): void {
    if (s.shape.includes(0)) return
    const bound = Math.sqrt(3.0) * this.pyMath(() => kaimingStd(s.shape, a, mode, nonlinearity))
    this.uniform(s, -bound, bound, what)
  }

  /** nn.init.kaiming_normal_ (same zero-size rule). */
  kaimingNormal (s: Storage, a = 0, mode = 'fan_in', nonlinearity = 'leaky_relu', what = 'kaiming_normal_'): void {
    if (s.shape.includes(0)) return
    this.normal(s, 0, this.pyMath(() => kaimingStd(s.shape, a, mode, nonlinearity)), what)
  }

  /** nn.init.xavier_uniform_: U(-a, a) with a = sqrt(3) * gain * sqrt(2 / (fan_in + fan_out)). */
  xavierUniform (s: Storage, gain = 1.0, what = 'xavier_uniform_'): void {
    const a = Math.sqrt(3.0) * this.pyMath(() => xavierStd(s.shape, gain))
    this.uniform(s, -a, a, what)
  }

  /** nn.init.xavier_normal_: N(0, gain * sqrt(2 / (fan_in + fan_out))). */
  xavierNormal (s: Storage, gain = 1.0, what = 'xavier_normal_'): void {
    this.normal(s, 0.0, this.pyMath(() => xavierStd(s.shape, gain)), what)
  }
}
