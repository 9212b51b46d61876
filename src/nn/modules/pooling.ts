// torch/nn/modules/pooling.py: no tensors anywhere; only argument checks.
import { materiaError } from '../../errors.js'
import { arg, toFloatOrFloats, toIntOrInts, toOptIntOrInts } from '../args.js'
import { argError, type BoundArgs, type Signature } from '../bind-args.js'
import { pyValueRepr } from '../py-repr.js'
import { type AnyModuleDef, type BuildResult, defineModule, type ReprContext } from '../define.js'
import { pyTuple } from '../repr.js'

const pyModule = 'torch.nn.modules.pooling'

const size = (n: number | 'any', ...def: [unknown?]) =>
  arg.custom(n === 'any' ? '_size_any_t' : `_size_${n}_t`, toIntOrInts, ...def)
const optSize = (n: number | 'any') => arg.optional(size(n))

type Repr<S extends Signature> = (a: BoundArgs<S>, r: ReprContext) => string

function pool<S extends Signature> (name: string, initClass: string | undefined, doc: string, signature: S,
  repr?: Repr<S>, build: (a: BoundArgs<S>) => BuildResult = () => ({})) {
  return defineModule({
    name,
    pyModule,
    ...(initClass === undefined ? {} : { initClass }),
    acceptsDevice: false,
    doc: `${doc} No tensors.`,
    signature,
    build,
    ...(repr !== undefined ? { repr } : {})
  })
}

/** `stride if stride is not None else kernel_size`, as the module stores it. */
const strideStr = (a: { stride: unknown }, r: ReprContext): string => a.stride !== null ? r.str('stride') : r.str('kernel_size')
/** _single/_pair/_triple of a size as given. */
const ntuple = (v: unknown, n: number): string => pyTuple(Array.isArray(v) ? v : new Array<unknown>(n).fill(v))
/** AvgPool1d and MaxUnpoolNd store their sizes as tuples; AvgPool2d/3d as given. */
const avgUnpoolRepr = (n: number, tuples: boolean) => (a: { kernel_size: unknown, stride: unknown, padding: unknown }, r: ReprContext): string => tuples
  ? `kernel_size=${ntuple(a.kernel_size, n)}, stride=${ntuple(a.stride ?? a.kernel_size, n)}, padding=${ntuple(a.padding, n)}`
  : `kernel_size=${r.str('kernel_size')}, stride=${strideStr(a, r)}, padding=${r.str('padding')}`

function maxPool (n: number) {
  return pool(`MaxPool${n}d`, '_MaxPoolNd', `${n}D max pooling; stride defaults to kernel_size.`, {
    kernel_size: size('any'),
    stride: optSize('any'),
    padding: size('any', 0),
    dilation: size('any', 1),
    return_indices: arg.bool(false),
    ceil_mode: arg.bool(false)
  }, (a, r) => `kernel_size=${r.str('kernel_size')}, stride=${strideStr(a, r)}, padding=${r.str('padding')}, dilation=${r.str('dilation')}, ` +
    `ceil_mode=${r.str('ceil_mode')}`)
}

function avgPool (n: number) {
  return pool(`AvgPool${n}d`, undefined, `${n}D average pooling; stride defaults to kernel_size.`, {
    kernel_size: size(n),
    stride: optSize(n),
    padding: size(n, 0),
    ceil_mode: arg.bool(false),
    count_include_pad: arg.bool(true),
    ...(n === 1 ? {} : { divisor_override: arg.optional(arg.int()) })
  }, avgUnpoolRepr(n, n === 1))
}

function maxUnpool (n: number) {
  return pool(`MaxUnpool${n}d`, undefined, `Partial inverse of MaxPool${n}d.`, {
    kernel_size: size(n),
    stride: optSize(n),
    padding: size(n, 0)
  }, avgUnpoolRepr(n, true))
}

function adaptiveAvg (n: number) {
  return pool(`AdaptiveAvgPool${n}d`, '_AdaptiveAvgPoolNd', `${n}D adaptive average pooling to output_size (None keeps an input size).`, {
    output_size: arg.custom('_size_any_opt_t', toOptIntOrInts)
  }, (_a, r) => `output_size=${r.str('output_size')}`)
}

function adaptiveMax (n: number) {
  return pool(`AdaptiveMaxPool${n}d`, '_AdaptiveMaxPoolNd', `${n}D adaptive max pooling to output_size (None keeps an input size).`, {
    output_size: arg.custom('_size_any_opt_t', toOptIntOrInts),
    return_indices: arg.bool(false)
  }, (_a, r) => `output_size=${r.str('output_size')}`)
}

function lpPool (n: number) {
  return pool(`LPPool${n}d`, '_LPPoolNd', `${n}D power-average pooling.`, {
    norm_type: arg.float(),
    kernel_size: size('any'),
    stride: optSize('any'),
    ceil_mode: arg.bool(false)
  }, (_a, r) => `norm_type=${r.str('norm_type')}, kernel_size=${r.str('kernel_size')}, stride=${r.str('stride')}, ceil_mode=${r.str('ceil_mode')}`)
}

function fractionalMax (n: 2 | 3) {
  const name = `FractionalMaxPool${n}d`
  return pool(name, undefined, `${n}D fractional max pooling; give exactly one of output_size and output_ratio (each in (0, 1)).`, {
    kernel_size: size(n),
    output_size: optSize(n),
    output_ratio: arg.optional(arg.custom(`_ratio_${n}_t`, toFloatOrFloats)),
    return_indices: arg.bool(false),
    _random_samples: arg.typed('Optional[Tensor]', arg.any(null))
  }, undefined, (a) => {
    const k = a.kernel_size
    if (n === 3 && (typeof k === 'number' ? k <= 0 : !k.every((x) => x > 0))) {
      argError(`kernel_size must be greater than 0, but got ${pyValueRepr(k)}`)
    }
    if (a._random_samples !== null) throw materiaError('tensorArgument', { param: '_random_samples' })
    if (a.output_size === null && a.output_ratio === null) {
      argError(`${name} requires specifying either an output size, or a pooling ratio`)
    }
    if (a.output_size !== null && a.output_ratio !== null) argError('only one of output_size and output_ratio may be specified')
    if (a.output_ratio !== null) {
      const r = a.output_ratio
      // _pair/_triple of the ratio; only the first n entries are compared, as PyTorch indexes them
      const rs = typeof r === 'number' ? new Array<number>(n).fill(r) : r
      if (!Array.from({ length: n }, (_, i) => rs[i]).every((x) => x !== undefined && x > 0 && x < 1)) {
        argError(`output_ratio must be between 0 and 1 (got ${pyValueRepr(r)})`)
      }
    }
    return {}
  })
}

export const defs: AnyModuleDef[] = [
  maxPool(1), maxPool(2), maxPool(3),
  avgPool(1), avgPool(2), avgPool(3),
  adaptiveAvg(1), adaptiveAvg(2), adaptiveAvg(3),
  adaptiveMax(1), adaptiveMax(2), adaptiveMax(3),
  lpPool(1), lpPool(2), lpPool(3),
  fractionalMax(2), fractionalMax(3),
  maxUnpool(1), maxUnpool(2), maxUnpool(3)
]
