// torch/nn/modules/transformer.py: Transformer, TransformerEncoder/Decoder and their layers.
// The layers own no tensors: every one comes from a submodule built the way their __init__ builds
// it (MultiheadAttention, Linear, LayerNorm, Dropout), so those classes' own checks and messages
// apply. Arguments PyTorch only forwards are bound raw and forwarded raw.
import { materiaError } from '../../errors.js'
import { arg } from '../args.js'
import { torchTypeName } from '../py-repr.js'
import { type AnyModuleDef, type BuildContext, defineModule, isModuleNode, type ModuleNode } from '../define.js'
import { py, pyRangeLength } from './recurrent.js'

const pyModule = 'torch.nn.modules.transformer'

// build.ts's module limit (not imported: build.ts imports the registry, which imports this file)
const MAX_LAYERS = 100_000

type Children = Array<readonly [string, ModuleNode | null]>

const ACTIVATION_TYPE = 'Union[str, Callable[[Tensor], Tensor]]'

// F.relu is the Python default; the string 'relu' selects the same function
const layerSignature = {
  d_model: py('int'),
  nhead: py('int'),
  dim_feedforward: py('int', 2048),
  dropout: py('float', 0.1),
  activation: py(ACTIVATION_TYPE, 'relu'),
  layer_norm_eps: py('float', 1e-5),
  batch_first: arg.bool(false),
  norm_first: arg.bool(false),
  bias: arg.bool(true),
  device: arg.device(),
  dtype: arg.dtype()
}

interface LayerArgs {
  d_model: unknown
  nhead: unknown
  dim_feedforward: unknown
  dropout: unknown
  activation: unknown
  layer_norm_eps: unknown
  batch_first: boolean
  bias: boolean
  device: unknown
  dtype: unknown
}

/** The submodules both layer kinds create, in their __init__ order (attention first). */
function layerChildren (a: LayerArgs, ctx: BuildContext, attentions: readonly string[], norms: number): Children {
  const fk = { device: a.device, dtype: a.dtype }
  const children: Children = attentions.map((name) =>
    [name, ctx.make('MultiheadAttention', [a.d_model, a.nhead], { dropout: a.dropout, bias: a.bias, batch_first: a.batch_first, ...fk })])
  children.push(['linear1', ctx.make('Linear', [a.d_model, a.dim_feedforward], { bias: a.bias, ...fk })])
  children.push(['dropout', ctx.make('Dropout', [a.dropout])])
  children.push(['linear2', ctx.make('Linear', [a.dim_feedforward, a.d_model], { bias: a.bias, ...fk })])
  for (let i = 1; i <= norms; i++) {
    children.push([`norm${i}`, ctx.make('LayerNorm', [a.d_model], { eps: a.layer_norm_eps, bias: a.bias, ...fk })])
  }
  for (let i = 1; i <= norms; i++) children.push([`dropout${i}`, ctx.make('Dropout', [a.dropout])])
  // _get_activation_fn for a string; a module is registered as the child `activation` (an nn.PReLU
  // brings its weight along); any other callable PyTorch would store as a plain attribute
  if (typeof a.activation === 'string') {
    if (a.activation !== 'relu' && a.activation !== 'gelu') ctx.fail(`activation should be relu/gelu, not ${a.activation}`)
  } else if (isModuleNode(a.activation)) {
    children.push(['activation', a.activation])
  }
  return children
}

const LAYER_DOC = 'Children self_attn (MultiheadAttention(d_model, nhead)), linear1 (d_model → dim_feedforward), ' +
  'linear2 (dim_feedforward → d_model)'

export const transformerEncoderLayer = defineModule({
  name: 'TransformerEncoderLayer',
  pyModule,
  acceptsDevice: true,
  doc: `Self-attention and feed-forward block. ${LAYER_DOC}, norm1, norm2 (LayerNorm(d_model)); ` +
    "activation 'relu' or 'gelu', or a module spec (registered as the child activation).",
  signature: layerSignature,
  build: (a, ctx) => ({ children: layerChildren(a, ctx, ['self_attn'], 2) })
})

export const transformerDecoderLayer = defineModule({
  name: 'TransformerDecoderLayer',
  pyModule,
  acceptsDevice: true,
  doc: `Self-attention, cross-attention (multihead_attn) and feed-forward block. ${LAYER_DOC}, norm1..norm3 ` +
    "(LayerNorm(d_model)); activation 'relu' or 'gelu', or a module spec (registered as the child activation).",
  signature: layerSignature,
  build: (a, ctx) => ({ children: layerChildren(a, ctx, ['self_attn', 'multihead_attn'], 3) })
})

/** _get_clones(layer, n): a ModuleList of n deep copies, then `norm` if it is a module. */
function stack (layer: unknown, numLayers: unknown, norm: unknown, ctx: BuildContext): { children: Children } {
  const n = pyRangeLength(numLayers, ctx.fail)
  // copies of a module hit build.ts's module limit in ctx.clone; None copies would not, so bound them too
  if (n > MAX_LAYERS) throw materiaError('tooManyLayers', { module: ctx.name, count: n, max: MAX_LAYERS })
  // ModuleList's add_module rejects a non-module (None is allowed) only when there is a copy to add
  if (n > 0 && layer !== null && !isModuleNode(layer)) ctx.fail(`${torchTypeName(layer)} is not a Module subclass`)
  // n copies of the layer's tensors: refused by a tensor limit before they are made
  if (isModuleNode(layer)) ctx.expectTensors(n * layer.tensorCount, false)
  const copies: Array<ModuleNode | null> = new Array(n)
  for (let i = 0; i < n; i++) copies[i] = isModuleNode(layer) ? ctx.clone(layer) : null
  const children: Children = [['layers', ctx.make('ModuleList', [copies])]]
  // `self.norm = norm`: only a module is registered; None or anything else stays a plain attribute
  if (isModuleNode(norm)) children.push(['norm', norm])
  return { children }
}

export const transformerEncoder = defineModule({
  name: 'TransformerEncoder',
  pyModule,
  acceptsDevice: false,
  doc: 'A stack of num_layers deep copies of encoder_layer (children layers.0 … layers.N-1, identical initial values), ' +
    'then the optional norm module.',
  signature: {
    encoder_layer: py('TransformerEncoderLayer'),
    num_layers: py('int'),
    norm: py('Optional[Module]', null),
    enable_nested_tensor: arg.bool(true),
    mask_check: arg.bool(true)
  },
  build: (a, ctx) => stack(a.encoder_layer, a.num_layers, a.norm, ctx)
})

export const transformerDecoder = defineModule({
  name: 'TransformerDecoder',
  pyModule,
  acceptsDevice: false,
  doc: 'A stack of num_layers deep copies of decoder_layer (children layers.0 … layers.N-1, identical initial values), ' +
    'then the optional norm module.',
  signature: {
    decoder_layer: py('TransformerDecoderLayer'),
    num_layers: py('int'),
    norm: py('Optional[Module]', null)
  },
  build: (a, ctx) => stack(a.decoder_layer, a.num_layers, a.norm, ctx)
})

export const transformer = defineModule({
  name: 'Transformer',
  pyModule,
  acceptsDevice: true,
  doc: (init) => 'Encoder-decoder transformer: encoder = TransformerEncoder(TransformerEncoderLayer(...), num_encoder_layers, ' +
    `LayerNorm(d_model)) unless custom_encoder is given, decoder likewise. ${init}`,
  signature: {
    d_model: py('int', 512),
    nhead: py('int', 8),
    num_encoder_layers: py('int', 6),
    num_decoder_layers: py('int', 6),
    dim_feedforward: py('int', 2048),
    dropout: py('float', 0.1),
    activation: py(ACTIVATION_TYPE, 'relu'),
    custom_encoder: py('Optional[Any]', null),
    custom_decoder: py('Optional[Any]', null),
    layer_norm_eps: py('float', 1e-5),
    batch_first: arg.bool(false),
    norm_first: arg.bool(false),
    bias: arg.bool(true),
    device: arg.device(),
    dtype: arg.dtype()
  },
  build (a, ctx) {
    const layerArgs = [a.d_model, a.nhead, a.dim_feedforward, a.dropout, a.activation, a.layer_norm_eps, a.batch_first, a.norm_first, a.bias]
    const fk = { device: a.device, dtype: a.dtype }
    const part = (custom: unknown, layerClass: string, stackClass: string, numLayers: unknown): ModuleNode | null => {
      // a custom part that is not a module would be a plain attribute in PyTorch: no tensors
      if (custom !== null) return isModuleNode(custom) ? custom : null
      const layer = ctx.make(layerClass, layerArgs, fk)
      const norm = ctx.make('LayerNorm', [a.d_model], { eps: a.layer_norm_eps, bias: a.bias, ...fk })
      return ctx.make(stackClass, [layer, numLayers, norm])
    }
    const encoder = part(a.custom_encoder, 'TransformerEncoderLayer', 'TransformerEncoder', a.num_encoder_layers)
    const decoder = part(a.custom_decoder, 'TransformerDecoderLayer', 'TransformerDecoder', a.num_decoder_layers)
    const children: Children = []
    if (encoder !== null) children.push(['encoder', encoder])
    if (decoder !== null) children.push(['decoder', decoder])
    return { children }
  },
  init: {
    doc: 'After construction every parameter with more than one dimension is re-initialized with xavier_uniform_.',
    // _reset_parameters(): parameters() order, each storage once
    reset (_a, m, init) {
      for (const storage of m.parameters()) {
        if (storage.shape.length > 1) init.xavierUniform(storage, 1.0, 'xavier_uniform_ (Transformer._reset_parameters)')
      }
    }
  }
})

export const defs: AnyModuleDef[] = [transformerEncoderLayer, transformerDecoderLayer, transformerEncoder, transformerDecoder, transformer]
