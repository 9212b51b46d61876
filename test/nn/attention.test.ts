// MultiheadAttention: layouts and messages hard-coded from PyTorch 2.13
// (`m.state_dict()` of the module built with device='meta').
import t from 'tap'
import { buildModule, buildModuleTree } from '../../src/nn/index.js'
import { message, layout } from './helpers.js'

t.test('MultiheadAttention(8, 2): packed in_proj, then the out_proj child', async (t) => {
  const built = buildModule({ class: 'torch.nn.MultiheadAttention', args: [8, 2] })
  t.equal(built.qualname, 'torch.nn.MultiheadAttention')
  t.ok(built.acceptsDevice)
  t.strictSame(layout({ class: 'MultiheadAttention', args: [8, 2] }), [
    ['in_proj_weight', [24, 8], [8, 1]],
    ['in_proj_bias', [24], [1]],
    ['out_proj.weight', [8, 8], [8, 1]],
    ['out_proj.bias', [8], [1]]
  ])
  const { root } = buildModuleTree({ class: 'MultiheadAttention', args: [8, 2] })
  t.strictSame(root.children.map(([n, c]) => [n, c?.qualname]), [['out_proj', 'torch.nn.modules.linear.NonDynamicallyQuantizableLinear']],
    'out_proj is a NonDynamicallyQuantizableLinear')
  for (const x of built.tensors) {
    t.match(x, { kind: 'parameter', requiresGrad: true, persistent: true, dtype: 'float32', nbytes: x.numel * 4 })
  }
})

t.test('MultiheadAttention(8, 2, kdim=3, vdim=5, add_bias_kv=True): separate projections, bias_k/bias_v before out_proj', async (t) => {
  t.strictSame(layout({ class: 'MultiheadAttention', args: [8, 2], kwargs: { kdim: 3, vdim: 5, add_bias_kv: true } }), [
    ['q_proj_weight', [8, 8], [8, 1]],
    ['k_proj_weight', [8, 3], [3, 1]],
    ['v_proj_weight', [8, 5], [5, 1]],
    ['in_proj_bias', [24], [1]],
    ['bias_k', [1, 1, 8], [8, 8, 1]],
    ['bias_v', [1, 1, 8], [8, 8, 1]],
    ['out_proj.weight', [8, 8], [8, 1]],
    ['out_proj.bias', [8], [1]]
  ])
})

t.test('bias=False, add_bias_kv=True, float16', async (t) => {
  t.strictSame(layout({ class: 'MultiheadAttention', args: [8, 4], kwargs: { bias: false, add_bias_kv: true, dtype: 'float16' } }), [
    ['in_proj_weight', [24, 8], [8, 1], 'float16'],
    ['bias_k', [1, 1, 8], [8, 8, 1], 'float16'],
    ['bias_v', [1, 1, 8], [8, 8, 1], 'float16'],
    ['out_proj.weight', [8, 8], [8, 1], 'float16']
  ])
})

t.test('only vdim differs: still separate projections', async (t) => {
  t.strictSame(layout({ class: 'MultiheadAttention', args: [6, 3], kwargs: { kdim: 6, vdim: 4, bias: false } }), [
    ['q_proj_weight', [6, 6], [6, 1]],
    ['k_proj_weight', [6, 6], [6, 1]],
    ['v_proj_weight', [6, 4], [4, 1]],
    ['out_proj.weight', [6, 6], [6, 1]]
  ])
  // kdim == vdim == embed_dim is the packed layout
  t.equal(layout({ class: 'MultiheadAttention', args: [8, 2], kwargs: { kdim: 8, vdim: 8 } })[0]?.[0], 'in_proj_weight')
})

t.test('what PyTorch accepts without complaint', async (t) => {
  // num_heads only has to divide embed_dim (10 // 2.5 * 2.5 == 10); dropout is not checked
  t.equal(layout({ class: 'MultiheadAttention', args: [10, 2.5] }).length, 4)
  t.equal(layout({ class: 'MultiheadAttention', args: [8, 2], kwargs: { dropout: 5 } }).length, 4)
  t.strictSame(layout({ class: 'MultiheadAttention', args: [8, 2], kwargs: { kdim: 0 } })[1], ['k_proj_weight', [8, 0], [1, 1]])
})

t.test('PyTorch messages', async (t) => {
  const cases: Array<[unknown, string]> = [
    [{ class: 'MultiheadAttention', args: [8, 3] }, 'embed_dim must be divisible by num_heads'],
    [{ class: 'MultiheadAttention', args: [8.5, 2] }, 'embed_dim must be divisible by num_heads'],
    [{ class: 'MultiheadAttention', args: [0, 3] }, 'embed_dim and num_heads must be greater than 0, got embed_dim=0 and num_heads=3 instead'],
    [{ class: 'MultiheadAttention', args: [8, -2] }, 'embed_dim and num_heads must be greater than 0, got embed_dim=8 and num_heads=-2 instead'],
    [{ class: 'MultiheadAttention', args: [-0.5, 2] }, 'embed_dim and num_heads must be greater than 0, got embed_dim=-0.5 and num_heads=2 instead'],
    [{ class: 'MultiheadAttention', args: [0, '2'] }, 'embed_dim and num_heads must be greater than 0, got embed_dim=0 and num_heads=2 instead'],
    [{ class: 'MultiheadAttention', args: ['8', 2] }, "'<=' not supported between instances of 'str' and 'int'"],
    [{ class: 'MultiheadAttention', args: [8] }, "MultiheadAttention.__init__() missing 1 required positional argument: 'num_heads'"],
    [{ class: 'MultiheadAttention', args: [8, 2], kwargs: { nhead: 2 } }, "MultiheadAttention.__init__() got an unexpected keyword argument 'nhead'"],
    [{ class: 'MultiheadAttention', args: [7.5, 0.5] }, "empty(): argument 'size' (position 1) must be tuple of ints, but found element of type float at pos 0"],
    [{ class: 'MultiheadAttention', args: [8, 2], kwargs: { kdim: -1 } }, 'Trying to create tensor with negative dimension -1: [8, -1]'],
    [{ class: 'MultiheadAttention', args: [8, 2], kwargs: { kdim: '3' } }, 'empty(): argument \'size\' failed to unpack the object at pos 2 with error "type must be tuple of ints,but got str"']
  ]
  for (const [spec, expected] of cases) t.equal(message(t, spec), expected, JSON.stringify(spec))
})
