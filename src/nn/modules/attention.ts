// torch/nn/modules/activation.py: MultiheadAttention.
// PyTorch checks embed_dim and num_heads itself (a ValueError, then an AssertionError), so they are
// bound raw and checked here in the same order; kdim/vdim are only ever checked by torch.empty.
import { DEFAULT_DTYPE } from '../../tensor/dtype.js'
import { arg } from '../args.js'
import { type AnyModuleDef, defineModule, type OwnTensor } from '../define.js'
import { emptyParameter, pyCompare, pyNum, pyStr, py } from './recurrent.js'

/** `a // b * b != a` in Python, for positive numbers (float_floor_div for floats). */
function notDivisible (a: number, b: number): boolean {
  if (Number.isInteger(a) && Number.isInteger(b)) return a % b !== 0
  const mod = a % b
  const div = (a - mod) / b
  let floor = Math.floor(div)
  if (div - floor > 0.5) floor += 1
  return floor * b !== a
}

export const multiheadAttention = defineModule({
  name: 'MultiheadAttention',
  pyModule: 'torch.nn.modules.activation',
  acceptsDevice: true,
  doc: (init) => 'Multi-head attention (Attention Is All You Need). With kdim == vdim == embed_dim: in_proj_weight ' +
    '(3*embed_dim, embed_dim); otherwise q_proj_weight (embed_dim, embed_dim), k_proj_weight (embed_dim, kdim), ' +
    'v_proj_weight (embed_dim, vdim). bias: in_proj_bias (3*embed_dim) and out_proj.bias; add_bias_kv: bias_k, bias_v ' +
    `(1, 1, embed_dim). out_proj is a NonDynamicallyQuantizableLinear(embed_dim, embed_dim). ${init}`,
  signature: {
    embed_dim: py('int'),
    num_heads: py('int'),
    dropout: py('float', 0),
    bias: arg.bool(true),
    add_bias_kv: arg.bool(false),
    add_zero_attn: arg.bool(false),
    kdim: py('Optional[int]', null),
    vdim: py('Optional[int]', null),
    batch_first: arg.bool(false),
    device: arg.device(),
    dtype: arg.dtype()
  },
  build (a, ctx) {
    const fail: (m: string) => never = ctx.fail
    const E = a.embed_dim
    const H = a.num_heads
    if (pyCompare(E, '<=', 0, fail) || pyCompare(H, '<=', 0, fail)) {
      fail(`embed_dim and num_heads must be greater than 0, got embed_dim=${pyStr(E)} and num_heads=${pyStr(H)} instead`)
    }
    // both are Python numbers now (pyCompare rejects anything else)
    const e = pyNum(E as number | boolean)
    const h = pyNum(H as number | boolean)
    const kdim = a.kdim ?? E
    const vdim = a.vdim ?? E
    const same = pyEquals(kdim, e) && pyEquals(vdim, e)
    if (notDivisible(e, h)) fail('embed_dim must be divisible by num_heads')

    const dtype = a.dtype ?? DEFAULT_DTYPE
    const tensors: OwnTensor[] = []
    if (!same) {
      tensors.push(emptyParameter('q_proj_weight', [E, E], dtype, fail))
      tensors.push(emptyParameter('k_proj_weight', [E, kdim], dtype, fail))
      tensors.push(emptyParameter('v_proj_weight', [E, vdim], dtype, fail))
    } else {
      tensors.push(emptyParameter('in_proj_weight', [3 * e, E], dtype, fail))
    }
    if (a.bias) tensors.push(emptyParameter('in_proj_bias', [3 * e], dtype, fail))
    const outProj = ctx.make('NonDynamicallyQuantizableLinear', [E, E], { bias: a.bias, device: a.device, dtype: a.dtype })
    if (a.add_bias_kv) {
      tensors.push(emptyParameter('bias_k', [1, 1, E], dtype, fail))
      tensors.push(emptyParameter('bias_v', [1, 1, E], dtype, fail))
    }
    return { tensors, children: [['out_proj', outProj]] }
  },
  init: {
    doc: 'Projection weights ~ xavier_uniform_, in_proj_bias and out_proj.bias = 0 (after out_proj\'s own Linear init), ' +
      'bias_k/bias_v ~ xavier_normal_.',
    // _reset_parameters(); out_proj's Linear init ran when out_proj was constructed
    reset (_a, m, init) {
      const inProj = m.own('in_proj_weight')
      if (inProj !== undefined) {
        init.xavierUniform(inProj, 1.0, 'xavier_uniform_ on MultiheadAttention.in_proj_weight')
      } else {
        for (const n of ['q_proj_weight', 'k_proj_weight', 'v_proj_weight']) {
          init.xavierUniform(m.tensor(n), 1.0, `xavier_uniform_ on MultiheadAttention.${n}`)
        }
      }
      const inBias = m.own('in_proj_bias')
      if (inBias !== undefined) {
        init.constant(inBias, 0)
        const outBias = m.child('out_proj')?.own('bias')
        if (outBias !== undefined) init.constant(outBias, 0)
      }
      const biasK = m.own('bias_k')
      if (biasK !== undefined) init.xavierNormal(biasK, 1.0, 'xavier_normal_ on MultiheadAttention.bias_k')
      const biasV = m.own('bias_v')
      if (biasV !== undefined) init.xavierNormal(biasV, 1.0, 'xavier_normal_ on MultiheadAttention.bias_v')
    }
  }
})

/** `x == n` for a Python number n (True == 1; a str never equals a number). */
function pyEquals (x: unknown, n: number): boolean {
  return (typeof x === 'number' || typeof x === 'boolean') && pyNum(x) === n
}

export const defs: AnyModuleDef[] = [multiheadAttention]
