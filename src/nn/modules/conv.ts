// torch/nn/modules/conv.py: Conv1d/2d/3d and ConvTranspose1d/2d/3d share _ConvNd.__init__'s checks.
import { arg, toIntTuple } from '../args.js'
import { argError, type CoerceCtx } from '../bind-args.js'
import { DEFAULT_DTYPE, type DType } from '../../tensor/dtype.js'
import { type AnyModuleDef, type BuildResult, defineModule, type ModuleInit, parameter, type ReprContext } from '../define.js'
import { resetLinear } from './linear.js'
import { pyTuple } from '../repr.js'

const pyModule = 'torch.nn.modules.conv'

// PyTorch prints these Python sets in hash order, which changes per process; we use source order.
const PADDING_MODES = ['zeros', 'reflect', 'replicate', 'circular']
const setRepr = (xs: string[]): string => `{${xs.map((x) => `'${x}'`).join(', ')}}`

interface ConvArgs {
  in_channels: number
  out_channels: number
  kernel_size: number[]
  stride: number[]
  padding: number[] | string
  dilation: number[]
  groups: number
  bias: boolean
  padding_mode: string
  dtype: DType | null
}

/** _ConvNd.__init__ after the subclass normalized its tuples. */
function convNd (a: ConvArgs, transposed: boolean): BuildResult {
  if (a.groups <= 0) argError('groups must be a positive integer')
  if (a.in_channels % a.groups !== 0) argError('in_channels must be divisible by groups')
  if (a.out_channels % a.groups !== 0) argError('out_channels must be divisible by groups')
  if (typeof a.padding === 'string' && !transposed) {
    if (a.padding !== 'same' && a.padding !== 'valid') {
      argError(`Invalid padding string '${a.padding}', should be one of ${setRepr(['same', 'valid'])}`)
    }
    if (a.padding === 'same' && a.stride.some((s) => s !== 1)) argError("padding='same' is not supported for strided convolutions")
  }
  if (!PADDING_MODES.includes(a.padding_mode)) {
    argError(`padding_mode must be one of ${setRepr(PADDING_MODES)}, but got padding_mode='${a.padding_mode}'`)
  }
  const dtype = a.dtype ?? DEFAULT_DTYPE
  const weight = transposed
    ? [a.in_channels, a.out_channels / a.groups, ...a.kernel_size]
    : [a.out_channels, a.in_channels / a.groups, ...a.kernel_size]
  return {
    tensors: [
      parameter('weight', weight, dtype),
      ...(a.bias ? [parameter('bias', a.out_channels, dtype)] : [])
    ]
  }
}

function convPadding (n: number) {
  // Conv keeps a string as is (checked in _ConvNd); ConvTranspose runs it through _ntuple, which
  // turns 'same' into a tuple of characters without complaint, so a string constructs there too.
  return (v: unknown, c: CoerceCtx): number[] | string => typeof v === 'string' ? v : toIntTuple(n, v, c)
}

/** _ConvNd.reset_parameters() is Linear's, with fan_in from the weight's shape. */
const convInit: ModuleInit = { doc: 'U(-1/sqrt(fan_in), 1/sqrt(fan_in))', reset: resetLinear }

/** _ConvNd.extra_repr: the sizes as normalized tuples, each optional part only when not its default. */
function convRepr (a: ConvArgs & { output_padding?: number[] }, r: ReprContext): string {
  const zeros = (xs: number[] | string): boolean => Array.isArray(xs) && xs.every((x) => x === 0)
  let s = `${r.str('in_channels')}, ${r.str('out_channels')}, kernel_size=${r.tuple('kernel_size')}, stride=${r.tuple('stride')}`
  // ConvTranspose ran a padding string through _ntuple: a tuple of its characters
  const padding = typeof a.padding !== 'string' ? r.tuple('padding') : a.output_padding !== undefined ? pyTuple([...a.padding]) : a.padding
  if (!zeros(a.padding)) s += `, padding=${padding}`
  if (!a.dilation.every((x) => x === 1)) s += `, dilation=${r.tuple('dilation')}`
  if (a.output_padding !== undefined && !zeros(a.output_padding)) s += `, output_padding=${r.tuple('output_padding')}`
  if (a.groups !== 1) s += `, groups=${r.str('groups')}`
  if (!r.has('bias')) s += ', bias=False'
  if (a.padding_mode !== 'zeros') s += `, padding_mode=${a.padding_mode}`
  return s
}

const sizeType = (n: number): string => n === 1 ? '_size_1_t' : `_size_${n}_t`

function conv (n: 1 | 2 | 3) {
  return defineModule({
    name: `Conv${n}d`,
    pyModule,
    acceptsDevice: true,
    doc: (init) => `Applies a ${n}D convolution. weight: (out_channels, in_channels / groups, *kernel_size), bias: (out_channels); ` +
      `both initialized from ${init} with fan_in = in_channels / groups * prod(kernel_size). ` +
      "padding may be an int, a tuple, 'valid' or 'same' (stride 1 only).",
    signature: {
      in_channels: arg.int(),
      out_channels: arg.int(),
      kernel_size: arg.intTuple(n),
      stride: arg.intTuple(n, 1),
      padding: arg.custom(`Union[str, ${sizeType(n)}]`, convPadding(n), 0),
      dilation: arg.intTuple(n, 1),
      groups: arg.int(1),
      bias: arg.bool(true),
      padding_mode: arg.typed("Literal['zeros', 'reflect', 'replicate', 'circular']", arg.str('zeros')),
      device: arg.device(),
      dtype: arg.dtype()
    },
    build: (a) => convNd(a, false),
    init: convInit,
    repr: convRepr
  })
}

function convTranspose (n: 1 | 2 | 3) {
  const name = `ConvTranspose${n}d`
  return defineModule({
    name,
    pyModule,
    acceptsDevice: true,
    doc: (init) => `Applies a ${n}D transposed convolution. weight: (in_channels, out_channels / groups, *kernel_size), ` +
      `bias: (out_channels); both from ${init} with fan_in computed from weight.size(1) * prod(kernel_size). ` +
      "Only padding_mode='zeros' is supported.",
    signature: {
      in_channels: arg.int(),
      out_channels: arg.int(),
      kernel_size: arg.intTuple(n),
      stride: arg.intTuple(n, 1),
      padding: arg.custom(sizeType(n), convPadding(n), 0),
      output_padding: arg.intTuple(n, 0),
      groups: arg.int(1),
      bias: arg.bool(true),
      dilation: arg.intTuple(n, 1),
      padding_mode: arg.typed("Literal['zeros', 'reflect', 'replicate', 'circular']", arg.str('zeros')),
      device: arg.device(),
      dtype: arg.dtype()
    },
    build (a) {
      if (a.padding_mode !== 'zeros') argError(`Only "zeros" padding mode is supported for ${name}`)
      return convNd(a, true)
    },
    init: convInit,
    repr: convRepr
  })
}

export const defs: AnyModuleDef[] = [conv(1), conv(2), conv(3), convTranspose(1), convTranspose(2), convTranspose(3)]
