// torch/nn/modules/linear.py
import { arg } from '../args.js'
import { argError } from '../bind-args.js'
import { DEFAULT_DTYPE, type DType } from '../../tensor/dtype.js'
import { type AnyModuleDef, defineModule, parameter } from '../define.js'

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

export const linear = defineModule({
  name: 'Linear',
  pyModule,
  acceptsDevice: true,
  doc: 'Applies an affine linear transformation y = xA^T + b. weight: (out_features, in_features), ' +
    'bias: (out_features), both initialized from U(-1/sqrt(in_features), 1/sqrt(in_features)).',
  signature: linearSignature,
  build: linearBuild
})

/** MultiheadAttention's out_proj class; a Linear under another name (its qualname is what PyTorch prints). */
export const nonDynamicallyQuantizableLinear = defineModule({
  name: 'NonDynamicallyQuantizableLinear',
  qualname: 'torch.nn.modules.linear.NonDynamicallyQuantizableLinear',
  pyModule,
  acceptsDevice: true,
  doc: 'A Linear that quantization tooling leaves alone; used as MultiheadAttention.out_proj. Same layout as Linear.',
  signature: linearSignature,
  build: linearBuild
})

export const bilinear = defineModule({
  name: 'Bilinear',
  pyModule,
  acceptsDevice: true,
  doc: 'Applies a bilinear transformation y = x1^T A x2 + b. weight: (out_features, in1_features, in2_features), ' +
    'bias: (out_features), both initialized from U(-1/sqrt(in1_features), 1/sqrt(in1_features)).',
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
  }
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
