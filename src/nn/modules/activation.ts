// torch/nn/modules/activation.py (MultiheadAttention lives in attention.ts)
import { arg } from '../args.js'
import { argError, type Signature } from '../bind-args.js'
import { pyFloatRepr, pyRepr } from '../py-repr.js'
import { DEFAULT_DTYPE } from '../../tensor/dtype.js'
import { type AnyModuleDef, defineModule, parameter } from '../define.js'

const pyModule = 'torch.nn.modules.activation'

/** A parameter-free activation: only its arguments to check. */
function fn<S extends Signature> (name: string, doc: string, signature: S) {
  return defineModule({ name, pyModule, acceptsDevice: false, doc: `${doc} No tensors.`, signature, build: () => ({}) })
}

const inplace = { inplace: arg.bool(false) }

// Hardtanh prints its bounds: defaults are Python floats (-1.0, 1.0), given values print as JSON
// loads them in Python (2 stays an int).
const bound = (x: number, given: boolean): string => given ? pyRepr(x) : pyFloatRepr(x)

export const defs: AnyModuleDef[] = [
  fn('ReLU', 'max(0, x).', inplace),
  fn('ReLU6', 'min(max(0, x), 6), a Hardtanh(0.0, 6.0).', inplace),
  fn('RReLU', 'Randomized leaky ReLU with slope drawn from U(lower, upper) in training.', {
    lower: arg.float(1 / 8),
    upper: arg.float(1 / 3),
    ...inplace
  }),
  defineModule({
    name: 'Hardtanh',
    pyModule,
    acceptsDevice: false,
    doc: 'Clamps to [min_val, max_val] (min_value/max_value are deprecated spellings). No tensors.',
    signature: {
      min_val: arg.float(-1.0),
      max_val: arg.float(1.0),
      ...inplace,
      min_value: arg.optional(arg.float()),
      max_value: arg.optional(arg.float())
    },
    build (a, ctx) {
      const min = a.min_value ?? a.min_val
      const max = a.max_value ?? a.max_val
      if (max <= min) {
        const maxGiven = a.max_value !== null || ctx.given('max_val')
        const minGiven = a.min_value !== null || ctx.given('min_val')
        argError(`max_val (${bound(max, maxGiven)}) must be greater than min_val (${bound(min, minGiven)})`)
      }
      return {}
    }
  }),
  fn('GELU', "Gaussian error linear unit; approximate is 'none' or 'tanh'.", { approximate: arg.str('none') }),
  fn('SiLU', 'x * sigmoid(x).', inplace),
  fn('Mish', 'x * tanh(softplus(x)).', inplace),
  fn('Tanh', 'tanh(x).', {}),
  fn('Sigmoid', '1 / (1 + exp(-x)).', {}),
  fn('Hardswish', 'x * relu6(x + 3) / 6.', inplace),
  fn('Hardsigmoid', 'relu6(x + 3) / 6.', inplace),
  fn('ELU', 'Exponential linear unit.', { alpha: arg.float(1.0), ...inplace }),
  fn('CELU', 'Continuously differentiable ELU.', { alpha: arg.float(1.0), ...inplace }),
  fn('SELU', 'Scaled ELU.', inplace),
  fn('GLU', 'Gated linear unit: splits dim in halves a, b and returns a * sigmoid(b).', { dim: arg.int(-1) }),
  fn('LeakyReLU', 'max(0, x) + negative_slope * min(0, x).', { negative_slope: arg.float(1e-2), ...inplace }),
  fn('Softplus', 'log(1 + exp(beta * x)) / beta, linear above threshold.', { beta: arg.float(1.0), threshold: arg.float(20.0) }),
  fn('Softsign', 'x / (1 + |x|).', {}),
  fn('Softmax', 'Softmax along dim.', { dim: arg.optional(arg.int()) }),
  fn('LogSoftmax', 'log(softmax(x)) along dim.', { dim: arg.optional(arg.int()) }),
  fn('Softmin', 'softmax(-x) along dim.', { dim: arg.optional(arg.int()) }),
  fn('Softmax2d', 'Softmax over channels at each spatial location.', {}),
  fn('Tanhshrink', 'x - tanh(x).', {}),
  fn('Threshold', 'x if x > threshold else value.', { threshold: arg.float(), value: arg.float(), ...inplace }),
  fn('Hardshrink', 'x if |x| > lambd else 0.', { lambd: arg.float(0.5) }),
  fn('Softshrink', 'x - lambd, x + lambd or 0 by where x lies.', { lambd: arg.float(0.5) }),
  fn('LogSigmoid', 'log(sigmoid(x)).', {}),
  defineModule({
    name: 'PReLU',
    pyModule,
    acceptsDevice: true,
    doc: (init) => `max(0, x) + weight * min(0, x) with a learnable slope. weight: (num_parameters), ${init}.`,
    signature: {
      num_parameters: arg.dim(1),
      init: arg.float(0.25),
      device: arg.device(),
      dtype: arg.dtype()
    },
    build: (a) => ({ tensors: [parameter('weight', a.num_parameters, a.dtype ?? DEFAULT_DTYPE)] }),
    init: {
      doc: 'filled with init',
      reset: (a, m, init) => init.constant(m.tensor('weight'), a.init)
    }
  })
]
