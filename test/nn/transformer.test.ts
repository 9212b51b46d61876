// Transformer family: layouts and messages hard-coded from PyTorch 2.13
// (`m.state_dict()` of the module built with device='meta').
import t from 'tap'
import { buildModule, buildModuleTree, type ModuleNode } from '../../src/nn/index.js'
import { message, layout, type Row } from './helpers.js'

const names = (spec: unknown): string[] => buildModule(spec).tensors.map((x) => x.name)

const encoderLayer = (...args: unknown[]) => ({ class: 'TransformerEncoderLayer', args })

/** state_dict rows of one TransformerEncoderLayer(16, 4, 32) under `p` */
const layer16 = (p: string): Row[] => [
  [`${p}self_attn.in_proj_weight`, [48, 16], [16, 1]],
  [`${p}self_attn.in_proj_bias`, [48], [1]],
  [`${p}self_attn.out_proj.weight`, [16, 16], [16, 1]],
  [`${p}self_attn.out_proj.bias`, [16], [1]],
  [`${p}linear1.weight`, [32, 16], [16, 1]],
  [`${p}linear1.bias`, [32], [1]],
  [`${p}linear2.weight`, [16, 32], [32, 1]],
  [`${p}linear2.bias`, [16], [1]],
  [`${p}norm1.weight`, [16], [1]],
  [`${p}norm1.bias`, [16], [1]],
  [`${p}norm2.weight`, [16], [1]],
  [`${p}norm2.bias`, [16], [1]]
]

t.test('TransformerEncoder(TransformerEncoderLayer(16, 4, 32), 2)', async (t) => {
  const spec = { class: 'TransformerEncoder', args: [encoderLayer(16, 4, 32), 2] }
  t.strictSame(layout(spec), [...layer16('layers.0.'), ...layer16('layers.1.')])
  const built = buildModule(spec)
  t.equal(built.qualname, 'torch.nn.TransformerEncoder')
  t.equal(built.acceptsDevice, false, 'TransformerEncoder takes no device argument')
  t.strictSame(built.args, [{ class: 'torch.nn.TransformerEncoderLayer', args: [16, 4, 32] }, 2])
  const { root } = buildModuleTree(spec)
  const at = (path: string): string | undefined => path.split('.').reduce<ModuleNode | undefined>((m, n) => m?.children.find(([k]) => k === n)?.[1] ?? undefined, root)?.qualname
  t.equal(at('layers.0.self_attn.out_proj'), 'torch.nn.modules.linear.NonDynamicallyQuantizableLinear')
  t.equal(at('layers.1.norm1'), 'torch.nn.LayerNorm')
  for (const x of built.tensors) t.match(x, { kind: 'parameter', requiresGrad: true, persistent: true, nbytes: x.numel * 4 })
})

t.test('the layers are deep copies of one layer (identical initial values)', async (t) => {
  const { root } = buildModuleTree({ class: 'TransformerEncoder', args: [encoderLayer(16, 4, 32), 3], kwargs: { norm: { class: 'LayerNorm', args: [16] } } })
  t.strictSame(root.children.map(([n]) => n), ['layers', 'norm'])
  const layers = root.children[0]?.[1] as ModuleNode
  t.equal(layers.qualname, 'torch.nn.ModuleList')
  const copies = layers.children.map(([, m]) => m as ModuleNode)
  t.strictSame(layers.children.map(([n]) => n), ['0', '1', '2'])
  t.equal(new Set(copies.map((m) => m.id)).size, 3, 'each copy is its own module')
  t.equal(new Set(copies.map((m) => m.copyOf)).size, 1, 'all copied from the same layer')
  t.ok(copies.every((m) => m.copyOf !== undefined && m.copyOf !== m.id))
})

t.test('TransformerEncoder: norm, zero layers, None and non-module layers', async (t) => {
  const withNorm = names({ class: 'TransformerEncoder', args: [encoderLayer(16, 4, 32), 1, { class: 'LayerNorm', args: [16] }] })
  t.strictSame(withNorm.slice(-2), ['norm.weight', 'norm.bias'])
  t.strictSame(names({ class: 'TransformerEncoder', args: [encoderLayer(16, 4, 32), 0] }), [])
  t.strictSame(names({ class: 'TransformerEncoder', args: [encoderLayer(16, 4, 32), -1] }), [], 'range(-1) is empty')
  t.strictSame(names({ class: 'TransformerEncoder', args: [null, 2] }), [], 'ModuleList([None, None])')
  // any layer module is copied; a non-module norm is a plain attribute
  t.strictSame(names({ class: 'TransformerEncoder', args: [{ class: 'Linear', args: [2, 3] }, 2, 5] }),
    ['layers.0.weight', 'layers.0.bias', 'layers.1.weight', 'layers.1.bias'])
  t.strictSame(names({ class: 'TransformerEncoder', args: [5, 0] }), [], 'nothing to add, nothing to reject')
})

t.test('TransformerDecoderLayer(8, 2, 16, activation=PReLU(), bias=False, dtype=float64)', async (t) => {
  t.strictSame(layout({ class: 'TransformerDecoderLayer', args: [8, 2, 16], kwargs: { activation: { class: 'PReLU' }, bias: false, dtype: 'float64' } }), [
    ['self_attn.in_proj_weight', [24, 8], [8, 1], 'float64'],
    ['self_attn.out_proj.weight', [8, 8], [8, 1], 'float64'],
    ['multihead_attn.in_proj_weight', [24, 8], [8, 1], 'float64'],
    ['multihead_attn.out_proj.weight', [8, 8], [8, 1], 'float64'],
    ['linear1.weight', [16, 8], [8, 1], 'float64'],
    ['linear2.weight', [8, 16], [16, 1], 'float64'],
    ['norm1.weight', [8], [1], 'float64'],
    ['norm2.weight', [8], [1], 'float64'],
    ['norm3.weight', [8], [1], 'float64'],
    ['activation.weight', [1], [1]]
  ])
})

t.test('Transformer(16, 4, 1, 2, 32, norm_first=True): encoder then decoder, each with its norm', async (t) => {
  const got = names({ class: 'Transformer', args: [16, 4, 1, 2, 32], kwargs: { norm_first: true } })
  const dec = (i: number): string[] => ['self_attn.in_proj_weight', 'self_attn.in_proj_bias', 'self_attn.out_proj.weight', 'self_attn.out_proj.bias',
    'multihead_attn.in_proj_weight', 'multihead_attn.in_proj_bias', 'multihead_attn.out_proj.weight', 'multihead_attn.out_proj.bias',
    'linear1.weight', 'linear1.bias', 'linear2.weight', 'linear2.bias',
    'norm1.weight', 'norm1.bias', 'norm2.weight', 'norm2.bias', 'norm3.weight', 'norm3.bias'].map((n) => `decoder.layers.${i}.${n}`)
  t.strictSame(got, [
    ...layer16('encoder.layers.0.').map((r) => r[0]), 'encoder.norm.weight', 'encoder.norm.bias',
    ...dec(0), ...dec(1), 'decoder.norm.weight', 'decoder.norm.bias'
  ])
  t.equal(names({ class: 'Transformer' }).length, 184, 'the default Transformer()')
})

t.test('Transformer with custom parts', async (t) => {
  const got = layout({ class: 'Transformer', kwargs: { d_model: 8, nhead: 2, custom_encoder: { class: 'Linear', args: [8, 8] }, num_decoder_layers: 1, dim_feedforward: 4 } })
  t.strictSame(got.slice(0, 2), [['encoder.weight', [8, 8], [8, 1]], ['encoder.bias', [8], [1]]])
  t.strictSame(got.slice(-2), [['decoder.norm.weight', [8], [1]], ['decoder.norm.bias', [8], [1]]])
  t.equal(got.length, 22)
  // with both parts custom, d_model/nhead are never used (PyTorch does not check them)
  t.strictSame(names({ class: 'Transformer', kwargs: { nhead: 3, custom_encoder: { class: 'Linear', args: [2, 2] }, custom_decoder: { class: 'Linear', args: [2, 2] } } }),
    ['encoder.weight', 'encoder.bias', 'decoder.weight', 'decoder.bias'])
})

t.test('PyTorch messages', async (t) => {
  const cases: Array<[unknown, string]> = [
    [encoderLayer(16, 3, 32), 'embed_dim must be divisible by num_heads'],
    [encoderLayer(-16, 4, 32), 'embed_dim and num_heads must be greater than 0, got embed_dim=-16 and num_heads=4 instead'],
    [{ class: 'TransformerEncoderLayer', args: [16, 4, 32], kwargs: { activation: 'tanh' } }, 'activation should be relu/gelu, not tanh'],
    [{ class: 'TransformerDecoderLayer', args: [16, 4, 32], kwargs: { activation: 'swish' } }, 'activation should be relu/gelu, not swish'],
    [encoderLayer(16, 4, -3), 'Trying to create tensor with negative dimension -3: [-3, 16]'],
    // the submodules come first: Dropout complains before the activation is looked at
    [{ class: 'TransformerEncoderLayer', args: [16, 4], kwargs: { dropout: 7, activation: 'x' } }, 'dropout probability has to be between 0 and 1, but got 7'],
    [{ class: 'TransformerEncoderLayer', args: [16] }, "TransformerEncoderLayer.__init__() missing 1 required positional argument: 'nhead'"],
    [{ class: 'TransformerEncoder', args: [encoderLayer(8, 2, 16)] }, "TransformerEncoder.__init__() missing 1 required positional argument: 'num_layers'"],
    [{ class: 'TransformerEncoder', args: [encoderLayer(16, 4, 32), 2.5] }, "'float' object cannot be interpreted as an integer"],
    [{ class: 'TransformerEncoder', args: [5, 2] }, 'int is not a Module subclass'],
    [{ class: 'TransformerEncoder', args: [{ class: 'torch.Tensor' }, 2] }, 'torch.Tensor is not a Module subclass'],
    [{ class: 'TransformerDecoder', args: [{ class: 'TransformerDecoderLayer', args: [16, 4, 32] }] }, "TransformerDecoder.__init__() missing 1 required positional argument: 'num_layers'"],
    [{ class: 'Transformer', args: [16, 5] }, 'embed_dim must be divisible by num_heads'],
    [{ class: 'Transformer', args: [16, 4, 1, 1, 32], kwargs: { activation: 'x' } }, 'activation should be relu/gelu, not x'],
    [{ class: 'Transformer', args: [16, 4, 1.5, 1, 32] }, "'float' object cannot be interpreted as an integer"],
    [{ class: 'Transformer', kwargs: { d_model: 8, nhead: 2, num_layers: 2 } }, "Transformer.__init__() got an unexpected keyword argument 'num_layers'"]
  ]
  for (const [spec, expected] of cases) t.equal(message(t, spec), expected, JSON.stringify(spec))
})

t.test('a 32-layer 4096-wide encoder (the bench/meta-build.ts module)', async (t) => {
  const spec = { class: 'TransformerEncoder', args: [encoderLayer(4096, 32, 11008), 32] }
  const built = buildModule(spec)
  t.equal(built.tensors.length, 32 * 12)
  t.equal(built.tensors.reduce((a, x) => a + x.numel, 0), 32 * (3 * 4096 * 4096 + 3 * 4096 + 4096 * 4096 + 4096 + 2 * 4096 * 11008 + 11008 + 4096 + 4 * 4096))
})
