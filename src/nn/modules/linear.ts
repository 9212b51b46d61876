// torch/nn/modules/linear.py
import { arg } from '../args.js'
import { argError } from '../bind-args.js'
import { DEFAULT_DTYPE, type DType } from '../../tensor/dtype.js'
import type { InitRecorder } from '../../init/init-recorder.js'
import type { Instance } from '../../init/module-instance.js'
import { type AnyModuleDef, defineModule, type ModuleInit, parameter, type ReprContext } from '../define.js'

const pyModule = 'torch.nn.modules.linear'

const linearSignature = {
  in_features: arg.dim(),
  out_features: arg.dim(),
  bias: arg.bool(true),
  device: arg.device(),
  dtype: arg.dtype()
}

function linearBuild (a: { in_features: number, out_features: number, bias: boolean, dtype: DType | null }) {
  const dtype = a.dtype ?? DEFAULT_DTYPE
  return {
    tensors: [
      parameter('weight', [a.out_features, a.in_features], dtype),
      ...(a.bias ? [parameter('bias', a.out_features, dtype)] : [])
    ]
  }
}

/**
 * Linear.reset_parameters(), which _ConvNd's repeats: kaiming_uniform_(a=sqrt(5)) on the weight is
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)); the bias gets the same bound, U(0, 0) when fan_in is 0.
 */
export function resetLinear (_a: unknown, m: Instance, init: InitRecorder): void {
  const weight = m.tensor('weight')
  init.kaimingUniform(weight, Math.sqrt(5), 'fan_in', 'leaky_relu', `kaiming_uniform_(a=sqrt(5)) on ${m.name}.weight`)
  const bias = m.own('bias')
  if (bias === undefined) return
  const fanIn = init.fanIn(weight)
  const what = `uniform_(-1/sqrt(fan_in), 1/sqrt(fan_in)) on ${m.name}.bias`
  if (fanIn > 0) init.uniform(bias, -1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn), what)
  else init.uniform(bias, 0, 0, what) // `bound = 0` is a Python int: -0 == 0
}

const linearInit: ModuleInit = { doc: 'U(-1/sqrt(in_features), 1/sqrt(in_features))', reset: resetLinear }

const linearRepr = (_a: unknown, r: ReprContext): string =>
  `in_features=${r.str('in_features')}, out_features=${r.str('out_features')}, bias=${r.has('bias') ? 'True' : 'False'}`

export const linear = defineModule({
  name: 'Linear',
  pyModule,
  acceptsDevice: true,
  doc: (init) => 'Applies an affine linear transformation y = xA^T + b. weight: (out_features, in_features), ' +
    `bias: (out_features), both initialized from ${init}.`,
  signature: linearSignature,
  build: linearBuild,
  init: linearInit,
  repr: linearRepr
})

/** MultiheadAttention's out_proj class; a Linear under another name (its qualname is what PyTorch prints). */
export const nonDynamicallyQuantizableLinear = defineModule({
  name: 'NonDynamicallyQuantizableLinear',
  qualname: 'torch.nn.modules.linear.NonDynamicallyQuantizableLinear',
  pyModule,
  acceptsDevice: true,
  doc: () => 'A Linear that quantization tooling leaves alone; used as MultiheadAttention.out_proj. Same layout as Linear.',
  signature: linearSignature,
  build: linearBuild,
  init: linearInit,
  repr: linearRepr
})

export const bilinear = defineModule({
  name: 'Bilinear',
  pyModule,
  acceptsDevice: true,
  doc: (init) => 'Applies a bilinear transformation y = x1^T A x2 + b. weight: (out_features, in1_features, in2_features), ' +
    `bias: (out_features), both initialized from ${init}.`,
  signature: {
    in1_features: arg.dim(),
    in2_features: arg.dim(),
    out_features: arg.dim(),
    bias: arg.bool(true),
    device: arg.device(),
    dtype: arg.dtype()
  },
  build (a) {
    const dtype = a.dtype ?? DEFAULT_DTYPE
    const tensors = [
      parameter('weight', [a.out_features, a.in1_features, a.in2_features], dtype),
      ...(a.bias ? [parameter('bias', a.out_features, dtype)] : [])
    ]
    // reset_parameters() runs in __init__ and divides by sqrt(in1_features)
    if (a.in1_features <= 0) argError(`in1_features must be > 0, but got (in1_features=${a.in1_features})`)
    return { tensors }
  },
  init: {
    doc: 'U(-1/sqrt(in1_features), 1/sqrt(in1_features))',
    reset (a, m, init) {
      const bound = 1 / Math.sqrt(a.in1_features)
      const what = (t: string): string => `uniform_(-1/sqrt(in1), 1/sqrt(in1)) on Bilinear.${t}`
      init.uniform(m.tensor('weight'), -bound, bound, what('weight'))
      const bias = m.own('bias')
      if (bias !== undefined) init.uniform(bias, -bound, bound, what('bias'))
    }
  },
  repr: (_a, r) => `in1_features=${r.str('in1_features')}, in2_features=${r.str('in2_features')}, out_features=${r.str('out_features')}, ` +
    `bias=${r.has('bias') ? 'True' : 'False'}`
})

export const identity = defineModule({
  name: 'Identity',
  pyModule,
  acceptsDevice: false,
  doc: 'A placeholder that returns its input; takes any arguments and ignores them. No tensors.',
  signature: {
    args: arg.varArgs(arg.any()),
    kwargs: arg.varKwargs(arg.any())
  },
  build: () => ({})
})

export const defs: AnyModuleDef[] = [linear, nonDynamicallyQuantizableLinear, bilinear, identity]
