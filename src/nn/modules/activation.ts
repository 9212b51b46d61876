// torch/nn/modules/activation.py (MultiheadAttention lives in attention.ts)
import { arg } from '../args.js'
import { argError, type BoundArgs, type Signature } from '../bind-args.js'
import { pyFloatRepr, pyRepr } from '../py-repr.js'
import { DEFAULT_DTYPE } from '../../tensor/dtype.js'
import { type AnyModuleDef, defineModule, parameter, type ReprContext } from '../define.js'

const pyModule = 'torch.nn.modules.activation'

/** A parameter-free activation: only its arguments to check. */
function fn<S extends Signature> (name: string, doc: string, signature: S, repr?: (a: BoundArgs<S>, r: ReprContext) => string) {
  return defineModule({ name, pyModule, acceptsDevice: false, doc: `${doc} No tensors.`, signature, build: () => ({}), ...(repr !== undefined ? { repr } : {}) })
}

/** 'inplace=True' alone, or ', inplace=True' after other fields; nothing when False. */
const inplaceRepr = (a: { inplace: boolean }): string => a.inplace ? 'inplace=True' : ''
const withInplace = (s: string, a: { inplace: boolean }): string => a.inplace ? `${s}, inplace=True` : s
const dimRepr = (_a: unknown, r: ReprContext): string => `dim=${r.str('dim')}`

const inplace = { inplace: arg.bool(false) }

// Hardtanh prints its bounds: defaults are Python floats (-1.0, 1.0), given values print as JSON
// loads them in Python (2 stays an int).
const bound = (x: number, given: boolean): string => given ? pyRepr(x) : pyFloatRepr(x)

export const defs: AnyModuleDef[] = [
  fn('ReLU', 'max(0, x).', inplace, inplaceRepr),
  fn('ReLU6', 'min(max(0, x), 6), a Hardtanh(0.0, 6.0).', inplace, inplaceRepr),
  fn('RReLU', 'Randomized leaky ReLU with slope drawn from U(lower, upper) in training.', {
    lower: arg.float(1 / 8),
    upper: arg.float(1 / 3),
    ...inplace
  }, (a, r) => withInplace(`lower=${r.str('lower')}, upper=${r.str('upper')}`, a)),
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
    },
    // __init__ stores min_value/max_value (deprecated spellings) over min_val/max_val when given
    repr: (a, r) => withInplace(`min_val=${a.min_value !== null ? r.str('min_value') : r.str('min_val')}, ` +
      `max_val=${a.max_value !== null ? r.str('max_value') : r.str('max_val')}`, a)
  }),
  fn('GELU', "Gaussian error linear unit; approximate is 'none' or 'tanh'.", { approximate: arg.str('none') }, (_a, r) => `approximate=${r.repr('approximate')}`),
  fn('SiLU', 'x * sigmoid(x).', inplace, inplaceRepr),
  fn('Mish', 'x * tanh(softplus(x)).', inplace, inplaceRepr),
  fn('Tanh', 'tanh(x).', {}),
  fn('Sigmoid', '1 / (1 + exp(-x)).', {}),
  fn('Hardswish', 'x * relu6(x + 3) / 6.', inplace),
  fn('Hardsigmoid', 'relu6(x + 3) / 6.', inplace),
  fn('ELU', 'Exponential linear unit.', { alpha: arg.float(1.0), ...inplace }, (a, r) => withInplace(`alpha=${r.str('alpha')}`, a)),
  fn('CELU', 'Continuously differentiable ELU.', { alpha: arg.float(1.0), ...inplace }, (a, r) => withInplace(`alpha=${r.str('alpha')}`, a)),
  fn('SELU', 'Scaled ELU.', inplace, inplaceRepr),
  fn('GLU', 'Gated linear unit: splits dim in halves a, b and returns a * sigmoid(b).', { dim: arg.int(-1) }, dimRepr),
  fn('LeakyReLU', 'max(0, x) + negative_slope * min(0, x).', { negative_slope: arg.float(1e-2), ...inplace },
    (a, r) => withInplace(`negative_slope=${r.str('negative_slope')}`, a)),
  fn('Softplus', 'log(1 + exp(beta * x)) / beta, linear above threshold.', { beta: arg.float(1.0), threshold: arg.float(20.0) },
    (_a, r) => `beta=${r.str('beta')}, threshold=${r.str('threshold')}`),
  fn('Softsign', 'x / (1 + |x|).', {}),
  fn('Softmax', 'Softmax along dim.', { dim: arg.optional(arg.int()) }, dimRepr),
  fn('LogSoftmax', 'log(softmax(x)) along dim.', { dim: arg.optional(arg.int()) }, dimRepr),
  fn('Softmin', 'softmax(-x) along dim.', { dim: arg.optional(arg.int()) }, dimRepr),
  fn('Softmax2d', 'Softmax over channels at each spatial location.', {}),
  fn('Tanhshrink', 'x - tanh(x).', {}),
  fn('Threshold', 'x if x > threshold else value.', { threshold: arg.float(), value: arg.float(), ...inplace },
    (a, r) => withInplace(`threshold=${r.str('threshold')}, value=${r.str('value')}`, a)),
  fn('Hardshrink', 'x if |x| > lambd else 0.', { lambd: arg.float(0.5) }, (_a, r) => r.str('lambd')),
  fn('Softshrink', 'x - lambd, x + lambd or 0 by where x lies.', { lambd: arg.float(0.5) }, (_a, r) => r.str('lambd')),
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
    },
    repr: (_a, r) => `num_parameters=${r.str('num_parameters')}`
  })
]
