// torch/nn/modules/normalization.py, batchnorm.py, instancenorm.py
import type { InitRecorder } from '../../init/init-recorder.js'
import type { Instance } from '../../init/module-instance.js'
import { arg } from '../args.js'
import { argError } from '../bind-args.js'
import { DEFAULT_DTYPE, type DType } from '../../tensor/dtype.js'
import { type AnyModuleDef, type BuildResult, buffer, defineModule, type ModuleInit, type OwnTensor, parameter, type ReprContext } from '../define.js'

const normalization = 'torch.nn.modules.normalization'

// reset_parameters() of LayerNorm, GroupNorm, RMSNorm and _NormBase (with reset_running_stats()):
// ones_(weight), zeros_(bias), the running statistics back to their constructor values
const RESET: Readonly<Record<string, number>> = { weight: 1, bias: 0, running_mean: 0, running_var: 1, num_batches_tracked: 0 }

function resetNorm (_a: unknown, m: Instance, init: InitRecorder): void {
  for (const t of m.tensors) {
    const value = RESET[t.name]
    if (value !== undefined) init.constant(t.storage, value)
  }
}

const affineInit: ModuleInit = { doc: 'weight (ones) and bias (zeros)', reset: resetNorm }

export const layerNorm = defineModule({
  name: 'LayerNorm',
  pyModule: normalization,
  acceptsDevice: true,
  doc: (init) => `Layer normalization over the trailing normalized_shape dims. ${init} of shape ` +
    'normalized_shape when elementwise_affine; bias=False drops the bias.',
  signature: {
    normalized_shape: arg.typed('Union[int, List[int], torch.Size]', arg.shape()),
    eps: arg.float(1e-5),
    elementwise_affine: arg.bool(true),
    bias: arg.bool(true),
    device: arg.device(),
    dtype: arg.dtype()
  },
  build (a) {
    const dtype = a.dtype ?? DEFAULT_DTYPE
    if (!a.elementwise_affine) return {}
    return {
      tensors: [
        parameter('weight', a.normalized_shape, dtype),
        ...(a.bias ? [parameter('bias', a.normalized_shape, dtype)] : [])
      ]
    }
  },
  init: affineInit,
  repr: (_a, r) => `${r.tuple('normalized_shape')}, eps=${r.str('eps')}, elementwise_affine=${r.str('elementwise_affine')}, bias=${useBias(r)}`
})

export const groupNorm = defineModule({
  name: 'GroupNorm',
  pyModule: normalization,
  acceptsDevice: true,
  doc: (init) => `Group normalization of num_channels channels in num_groups groups. ${init}: (num_channels) when affine.`,
  signature: {
    num_groups: arg.int(),
    num_channels: arg.int(),
    eps: arg.float(1e-5),
    affine: arg.bool(true),
    device: arg.device(),
    dtype: arg.dtype(),
    bias: arg.kwOnly(arg.bool(true))
  },
  build (a) {
    if (a.num_groups === 0) argError('integer modulo by zero')
    if (a.num_channels % a.num_groups !== 0) {
      argError(`num_channels (${a.num_channels}) must be divisible by num_groups (${a.num_groups})`)
    }
    const dtype = a.dtype ?? DEFAULT_DTYPE
    if (!a.affine) return {}
    return {
      tensors: [
        parameter('weight', a.num_channels, dtype),
        ...(a.bias ? [parameter('bias', a.num_channels, dtype)] : [])
      ]
    }
  },
  init: affineInit,
  repr: (_a, r) => `${r.str('num_groups')}, ${r.str('num_channels')}, eps=${r.str('eps')}, affine=${r.str('affine')}, bias=${useBias(r)}`
})

export const rmsNorm = defineModule({
  name: 'RMSNorm',
  pyModule: normalization,
  acceptsDevice: true,
  doc: (init) => `Root mean square layer normalization. ${init} of shape normalized_shape when elementwise_affine; no bias. ` +
    'eps None means torch.finfo(dtype).eps.',
  signature: {
    normalized_shape: arg.typed('Union[int, List[int], torch.Size]', arg.shape()),
    eps: arg.optional(arg.float()),
    elementwise_affine: arg.bool(true),
    device: arg.device(),
    dtype: arg.dtype()
  },
  build (a) {
    return a.elementwise_affine ? { tensors: [parameter('weight', a.normalized_shape, a.dtype ?? DEFAULT_DTYPE)] } : {}
  },
  init: { doc: 'weight (ones)', reset: resetNorm },
  repr: (_a, r) => `${r.tuple('normalized_shape')}, eps=${r.str('eps')}, elementwise_affine=${r.str('elementwise_affine')}`
})

/** `bias={use_bias}` in extra_repr: self.bias is not None. */
const useBias = (r: ReprContext): string => r.has('bias') ? 'True' : 'False'

/** _NormBase.extra_repr */
const normRepr = (_a: unknown, r: ReprContext): string => `${r.str('num_features')}, eps=${r.str('eps')}, momentum=${r.str('momentum')}, ` +
  `affine=${r.str('affine')}, bias=${useBias(r)}, track_running_stats=${r.str('track_running_stats')}`

/** kDefault is the Python default as written: 1.0 (a float) for LocalResponseNorm, 1 (an int) for CrossMapLRN2d. */
function lrn (name: string, kDefault: string) {
  return defineModule({
    name,
    pyModule: normalization,
    acceptsDevice: false,
    doc: 'Local response normalization across channels. No tensors.',
    signature: { size: arg.int(), alpha: arg.float(1e-4), beta: arg.float(0.75), k: arg.float(Number(kDefault)) },
    build: () => ({}),
    repr: (_a, r) => `${r.str('size')}, alpha=${r.str('alpha')}, beta=${r.str('beta')}, k=${r.given('k') ? r.str('k') : kDefault}`
  })
}

interface NormArgs {
  num_features: number
  affine: boolean
  track_running_stats: boolean
  bias: boolean
  dtype: DType | null
}

/** _NormBase.__init__: affine parameters, then running statistics as buffers. */
function normBase (a: NormArgs): BuildResult {
  const dtype = a.dtype ?? DEFAULT_DTYPE
  // torch.empty(num_features): the scalar form
  const n = a.num_features
  const tensors: OwnTensor[] = []
  if (a.affine) {
    tensors.push(parameter('weight', n, dtype))
    if (a.bias) tensors.push(parameter('bias', n, dtype))
  }
  if (a.track_running_stats) {
    tensors.push(buffer('running_mean', n, dtype, 0), buffer('running_var', n, dtype, 1))
    // torch.tensor(0, dtype=torch.long): a 0-dim counter whatever the module dtype
    tensors.push(buffer('num_batches_tracked', [], 'int64', 0))
  }
  return { tensors }
}

const bnDoc = (what: string) => (init: string): string => `${what}. ${init}: (num_features) when affine; ` +
  'buffers running_mean (zeros), running_var (ones), num_batches_tracked (int64 scalar 0) when track_running_stats.'

function batchNorm (n: 1 | 2 | 3) {
  return defineModule({
    name: `BatchNorm${n}d`,
    pyModule: 'torch.nn.modules.batchnorm',
    initClass: '_BatchNorm',
    acceptsDevice: true,
    doc: bnDoc(`Batch normalization over a ${n + 1}D or ${n + 2}D input`),
    signature: {
      num_features: arg.dim(),
      eps: arg.float(1e-5),
      momentum: arg.optional(arg.float(), 0.1),
      affine: arg.bool(true),
      track_running_stats: arg.bool(true),
      device: arg.device(),
      dtype: arg.dtype(),
      bias: arg.kwOnly(arg.bool(true))
    },
    build: normBase,
    init: affineInit,
    repr: normRepr
  })
}

export const syncBatchNorm = defineModule({
  name: 'SyncBatchNorm',
  pyModule: 'torch.nn.modules.batchnorm',
  acceptsDevice: true,
  doc: bnDoc('Batch normalization synchronized across processes (process_group is accepted and ignored here)'),
  signature: {
    num_features: arg.dim(),
    eps: arg.float(1e-5),
    momentum: arg.optional(arg.float(), 0.1),
    affine: arg.bool(true),
    track_running_stats: arg.bool(true),
    process_group: arg.typed('Optional[Any]', arg.any(null)),
    device: arg.device(),
    dtype: arg.dtype(),
    bias: arg.kwOnly(arg.bool(true))
  },
  build: normBase,
  init: affineInit,
  repr: normRepr
})

function instanceNorm (n: 1 | 2 | 3) {
  return defineModule({
    name: `InstanceNorm${n}d`,
    pyModule: 'torch.nn.modules.instancenorm',
    initClass: '_InstanceNorm',
    acceptsDevice: true,
    doc: bnDoc(`Instance normalization over a ${n + 1}D or ${n + 2}D input (affine and track_running_stats default to False)`),
    signature: {
      num_features: arg.dim(),
      eps: arg.float(1e-5),
      momentum: arg.typed('float', arg.optional(arg.float(), 0.1)),
      affine: arg.bool(false),
      track_running_stats: arg.bool(false),
      device: arg.device(),
      dtype: arg.dtype(),
      bias: arg.kwOnly(arg.bool(true))
    },
    build: normBase,
    init: affineInit,
    repr: normRepr
  })
}

export const defs: AnyModuleDef[] = [
  layerNorm, groupNorm, rmsNorm, lrn('LocalResponseNorm', '1.0'), lrn('CrossMapLRN2d', '1'),
  batchNorm(1), batchNorm(2), batchNorm(3), syncBatchNorm,
  instanceNorm(1), instanceNorm(2), instanceNorm(3)
]
