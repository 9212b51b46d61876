// transformers/models/t5: T5Config, and T5Model, T5ForConditionalGeneration, T5EncoderModel with
// their parts: one shared embedding that both stacks' embed_tokens and lm_head are tied to,
// bias-free q/k/v/o projections, a relative attention bias (an Embedding of buckets × heads) on the
// first block of each stack only, T5LayerNorm (RMS, no bias), and a plain or gated feed-forward.
import { arg } from '../args.js'
import { type AnyModuleDef, type BuildContext, defineModule, type ModuleNode, parameter } from '../define.js'
import { field, type ConfigDef, type ConfigValue, intAttr } from './config.js'
import { configArg } from './decoder.js'
import { constOf, INIT_WEIGHTS_DOC, type InitWeightsExtra, normalOf, pretrainedInit, rsqrt } from './init.js'
import { registerModelFacts } from './model-facts.js'

const pyModule = 'transformers.models.t5.modeling_t5'

export const t5Config: ConfigDef = {
  name: 'T5Config',
  qualname: 'transformers.T5Config',
  modelType: 't5',
  causalLm: null,
  pyModule: 'transformers.models.t5.configuration_t5',
  doc: 'Configuration of a T5 model (defaults: t5-small). hidden_size, num_attention_heads, num_hidden_layers and head_dim are names of ' +
    'd_model, num_heads, num_layers and d_kv; num_decoder_layers defaults to num_layers; feed_forward_proj "gated-{act}" gives a gated ' +
    'feed-forward; tie_word_embeddings is always true (a false one only turns off the decoder output scaling).',
  attributeMap: { hidden_size: 'd_model', num_attention_heads: 'num_heads', num_hidden_layers: 'num_layers', head_dim: 'd_kv' },
  fields: {
    vocab_size: field.int(32128),
    d_model: field.int(512),
    d_kv: field.int(64),
    d_ff: field.int(2048),
    num_layers: field.int(6),
    num_decoder_layers: field.optInt(null),
    num_heads: field.int(8),
    relative_attention_num_buckets: field.int(32),
    relative_attention_max_distance: field.int(128),
    dropout_rate: field.of(['float', 'int'], 0.1),
    layer_norm_epsilon: field.float(1e-6),
    initializer_factor: field.float(1),
    feed_forward_proj: field.str('relu'),
    is_encoder_decoder: field.bool(true),
    use_cache: field.bool(true),
    pad_token_id: field.optInt(0),
    eos_token_id: field.tokenIds(1),
    classifier_dropout: field.of(['float', 'int'], 0),
    is_decoder: field.bool(false)
  },
  postInit (c, extra) {
    if (c.num_decoder_layers === null) c.num_decoder_layers = c.num_layers
    const act = String(c.feed_forward_proj).split('-')
    c.dense_act_fn = c.feed_forward_proj === 'gated-gelu' ? 'gelu_new' : act[act.length - 1]
    c.is_gated_act = act[0] === 'gated'
    // popped from the kwargs: T5 ties its embeddings always, and reads a false value as "do not scale"
    c.scale_decoder_outputs = extra.tie_word_embeddings !== false
    delete extra.tie_word_embeddings
    c.tie_word_embeddings = true
  },
  validators: {
    validate_architecture (c) {
      const proj = String(c.feed_forward_proj)
      const act = proj.split('-')
      return (act.length > 1 && act[0] !== 'gated') || act.length > 2
        ? `\`feed_forward_proj\`: ${proj} is not a valid activation function of the dense layer. Please make sure \`feed_forward_proj\` ` +
          "is of the format `gated-{ACT_FN}` or `{ACT_FN}`, e.g. 'gated-gelu' or 'relu'"
        : undefined
    }
  }
}

/**
 * T5PreTrainedModel._init_weights beyond PreTrainedModel's (whose std is initializer_factor here,
 * T5Config having no initializer_range): with factor = initializer_factor, norms factor, shared
 * N(0, factor) (lm_head is always tied), feed-forward wi N(0, factor / sqrt(d_model)) and wo
 * N(0, factor / sqrt(d_ff)), attention q N(0, factor / sqrt(d_model · d_kv)), k and v
 * N(0, factor / sqrt(d_model)), o N(0, factor / sqrt(num_heads · d_kv)), relative_attention_bias
 * N(0, factor / sqrt(d_model)). The projections have no biases.
 */
const initWeightsExtra: InitWeightsExtra = (m, c, init) => {
  const factor = c.values.initializer_factor as number
  const scaled = (n: number): number => factor * rsqrt(n)
  const weight = (child: string, std: number): void => normalOf(init, m.child(child)?.own('weight'), std, `${m.name}.${child}.weight`)
  const dModel = intAttr(c, 'd_model')
  switch (m.name) {
    case 'T5LayerNorm': constOf(init, m.own('weight'), factor); break
    case 'T5Model': case 'T5ForConditionalGeneration': case 'T5EncoderModel': weight('shared', factor); break
    case 'T5DenseActDense': weight('wi', scaled(dModel)); weight('wo', scaled(intAttr(c, 'd_ff'))); break
    case 'T5DenseGatedActDense': weight('wi_0', scaled(dModel)); weight('wi_1', scaled(dModel)); weight('wo', scaled(intAttr(c, 'd_ff'))); break
    case 'T5Attention': {
      const kv = intAttr(c, 'd_kv')
      weight('q', scaled(dModel * kv)); weight('k', scaled(dModel)); weight('v', scaled(dModel))
      weight('o', scaled(intAttr(c, 'num_heads') * kv)); weight('relative_attention_bias', scaled(dModel))
    }
  }
}
const t5Init = pretrainedInit(`${INIT_WEIGHTS_DOC} (std initializer_factor); then norms initializer_factor, shared ` +
  'N(0, factor), and per module factor-scaled normals (q: factor / sqrt(d_model * d_kv), k, v, wi, relative_attention_bias: ' +
  'factor / sqrt(d_model), o: factor / sqrt(num_heads * d_kv), wo: factor / sqrt(d_ff))', initWeightsExtra)

const cfg = (cls: string) => configArg(t5Config.name, cls)
const dt = (ctx: BuildContext) => ({ dtype: ctx.defaultDtype })
const linear = (ctx: BuildContext, inF: unknown, outF: unknown): ModuleNode => ctx.make('Linear', [inF, outF], { bias: false, ...dt(ctx) })
const dropout = (ctx: BuildContext, c: ConfigValue): ModuleNode => ctx.make('Dropout', [c.values.dropout_rate])

const layerNorm = defineModule({
  name: 'T5LayerNorm',
  qualname: `${pyModule}.T5LayerNorm`,
  pyModule,
  acceptsDevice: false,
  doc: (init) => `RMS layer norm without mean or bias: weight (hidden_size,), ${init} at construction.`,
  signature: { hidden_size: arg.dim(), eps: arg.float(1e-6) },
  init: { doc: 'torch.ones', reset: (_a, m, init) => { init.constant(m.tensor('weight'), 1) } },
  build: (a, ctx) => ({ tensors: [parameter('weight', a.hidden_size, ctx.defaultDtype)] })
})
const norm = (ctx: BuildContext, c: ConfigValue): ModuleNode => ctx.make(layerNorm.name, [c.values.d_model], { eps: c.values.layer_norm_epsilon })

const denseActDense = defineModule({
  name: 'T5DenseActDense',
  qualname: `${pyModule}.T5DenseActDense`,
  pyModule,
  acceptsDevice: false,
  doc: 'wi (d_ff, d_model), wo (d_model, d_ff), no biases.',
  signature: { config: cfg('T5DenseActDense') },
  build: (a, ctx) => ({
    children: [['wi', linear(ctx, a.config.values.d_model, a.config.values.d_ff)], ['wo', linear(ctx, a.config.values.d_ff, a.config.values.d_model)],
      ['dropout', dropout(ctx, a.config)]]
  })
})

const denseGated = defineModule({
  name: 'T5DenseGatedActDense',
  qualname: `${pyModule}.T5DenseGatedActDense`,
  pyModule,
  acceptsDevice: false,
  doc: 'wi_0 and wi_1 (d_ff, d_model), wo (d_model, d_ff), no biases.',
  signature: { config: cfg('T5DenseGatedActDense') },
  build (a, ctx) {
    const { d_model: m, d_ff: ff } = a.config.values
    return { children: [['wi_0', linear(ctx, m, ff)], ['wi_1', linear(ctx, m, ff)], ['wo', linear(ctx, ff, m)], ['dropout', dropout(ctx, a.config)]] }
  }
})

const layerFF = defineModule({
  name: 'T5LayerFF',
  qualname: `${pyModule}.T5LayerFF`,
  pyModule,
  acceptsDevice: false,
  doc: 'DenseReluDense (gated with a gated feed_forward_proj), layer_norm.',
  signature: { config: cfg('T5LayerFF') },
  build: (a, ctx) => ({
    children: [['DenseReluDense', ctx.make(a.config.values.is_gated_act === true ? denseGated.name : denseActDense.name, [a.config])],
      ['layer_norm', norm(ctx, a.config)], ['dropout', dropout(ctx, a.config)]]
  })
})

const attention = defineModule({
  name: 'T5Attention',
  qualname: `${pyModule}.T5Attention`,
  pyModule,
  acceptsDevice: false,
  doc: 'q, k, v (num_heads * d_kv, d_model) and o (d_model, num_heads * d_kv), no biases; relative_attention_bias ' +
    '(relative_attention_num_buckets, num_heads) with has_relative_attention_bias.',
  signature: { config: cfg('T5Attention'), has_relative_attention_bias: arg.bool(false), layer_idx: arg.optional(arg.int(), null), is_causal: arg.bool(false) },
  build (a, ctx) {
    const c = a.config
    const inner = intAttr(c, 'num_heads') * intAttr(c, 'd_kv')
    const m = c.values.d_model
    const children: Array<[string, ModuleNode]> = [['q', linear(ctx, m, inner)], ['k', linear(ctx, m, inner)], ['v', linear(ctx, m, inner)], ['o', linear(ctx, inner, m)]]
    if (a.has_relative_attention_bias) children.push(['relative_attention_bias', ctx.make('Embedding', [c.values.relative_attention_num_buckets, c.values.num_heads], dt(ctx))])
    return { children }
  }
})

/** T5LayerSelfAttention and T5LayerCrossAttention: an attention, layer_norm, dropout. */
const attentionLayer = (name: string, child: string): AnyModuleDef => defineModule({
  name,
  qualname: `${pyModule}.${name}`,
  pyModule,
  acceptsDevice: false,
  doc: `${child} (T5Attention), layer_norm.`,
  signature: { config: cfg(name), has_relative_attention_bias: arg.bool(false), layer_idx: arg.optional(arg.int(), null) },
  build: (a, ctx) => ({
    children: [[child, ctx.make(attention.name, [a.config], { has_relative_attention_bias: a.has_relative_attention_bias, layer_idx: a.layer_idx })],
      ['layer_norm', norm(ctx, a.config)], ['dropout', dropout(ctx, a.config)]]
  })
})
const selfAttentionLayer = attentionLayer('T5LayerSelfAttention', 'SelfAttention')
const crossAttentionLayer = attentionLayer('T5LayerCrossAttention', 'EncDecAttention')

/** A stack's config: the model's, as a decoder or an encoder (copy.deepcopy(config) with is_decoder set). */
interface StackConfig { readonly config: ConfigValue, readonly decoder: boolean }

const block = defineModule({
  name: 'T5Block',
  qualname: `${pyModule}.T5Block`,
  pyModule,
  acceptsDevice: false,
  doc: 'layer: T5LayerSelfAttention, (T5LayerCrossAttention in a decoder), T5LayerFF.',
  signature: { config: cfg('T5Block'), has_relative_attention_bias: arg.bool(false), layer_idx: arg.optional(arg.int(), null), is_decoder: arg.bool(false) },
  build (a, ctx) {
    const c = a.config
    const list: ModuleNode[] = [ctx.make(selfAttentionLayer.name, [c], { has_relative_attention_bias: a.has_relative_attention_bias, layer_idx: a.layer_idx })]
    if (a.is_decoder) list.push(ctx.make(crossAttentionLayer.name, [c], { layer_idx: a.layer_idx }))
    list.push(ctx.make(layerFF.name, [c]))
    return { children: [['layer', ctx.make('ModuleList', [list])]] }
  }
})

const stack = defineModule({
  name: 'T5Stack',
  qualname: `${pyModule}.T5Stack`,
  pyModule,
  acceptsDevice: false,
  doc: (init) => 'embed_tokens (vocab_size, d_model), block (num_layers T5Blocks; num_decoder_layers in the decoder), final_layer_norm. ' +
    `A PreTrainedModel of its own: its post_init initializes it when built. Init: ${init}.`,
  init: t5Init,
  signature: { config: cfg('T5Stack'), is_decoder: arg.bool(false) },
  build (a, ctx) {
    const c = a.config
    const layers = a.is_decoder ? intAttr(c, 'num_decoder_layers') : intAttr(c, 'num_layers')
    // 7 tensors a block at least (q, k, v, o, two norms, two feed-forward weights), checked before any is built
    ctx.expectTensors(Math.max(0, layers) * 7, false)
    const embed = ctx.make('Embedding', [c.values.vocab_size, c.values.d_model], dt(ctx))
    const list: ModuleNode[] = []
    for (let i = 0; i < layers; i++) list.push(ctx.make(block.name, [c], { has_relative_attention_bias: i === 0, layer_idx: i, is_decoder: a.is_decoder }))
    return { children: [['embed_tokens', embed], ['block', ctx.make('ModuleList', [list])], ['final_layer_norm', norm(ctx, c)], ['dropout', dropout(ctx, c)]] }
  }
})

/** T5Model, T5ForConditionalGeneration, T5EncoderModel: shared, the stacks, lm_head; every embedding tied to shared. */
const t5Model = (name: string, doc: string, parts: { decoder: boolean, lmHead: boolean }): AnyModuleDef => defineModule({
  name,
  qualname: `transformers.${name}`,
  pyModule,
  acceptsDevice: false,
  doc: (init) => `${doc} Takes a transformers.T5Config. Init: ${init}.`,
  init: t5Init,
  signature: { config: cfg(name) },
  build (a, ctx) {
    const c = a.config
    const stackOf = (s: StackConfig): ModuleNode => ctx.make(stack.name, [s.config], { is_decoder: s.decoder })
    const children: Array<[string, ModuleNode]> = [['shared', ctx.make('Embedding', [c.values.vocab_size, c.values.d_model], dt(ctx))],
      ['encoder', stackOf({ config: c, decoder: false })]]
    const ties: string[][] = [['encoder.embed_tokens.weight', 'shared.weight']]
    if (parts.decoder) { children.push(['decoder', stackOf({ config: c, decoder: true })]); ties.push(['decoder.embed_tokens.weight', 'shared.weight']) }
    if (parts.lmHead) { children.push(['lm_head', linear(ctx, c.values.d_model, c.values.vocab_size)]); ties.push(['lm_head.weight', 'shared.weight']) }
    return { children, ties }
  }
})

const models = [
  t5Model('T5Model', 'The bare T5 encoder-decoder: shared (vocab_size, d_model), encoder and decoder T5Stacks.', { decoder: true, lmHead: false }),
  t5Model('T5ForConditionalGeneration', 'T5Model plus lm_head (vocab_size, d_model), tied to shared.', { decoder: true, lmHead: true }),
  t5Model('T5EncoderModel', 'shared and the encoder T5Stack only.', { decoder: false, lmHead: false })
]
for (const m of models) registerModelFacts(m.qualname, { noSplitModules: [block.name] })

export const defs: AnyModuleDef[] = [layerNorm, denseActDense, denseGated, layerFF, attention, selfAttentionLayer, crossAttentionLayer, block, stack, ...models]
