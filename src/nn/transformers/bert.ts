// transformers/models/bert: BertConfig, and BertModel, BertForMaskedLM, BertLMHeadModel,
// BertForSequenceClassification and BertForTokenClassification with their
// parts: word, position and token-type embeddings with two int64 non-persistent buffers
// (position_ids, token_type_ids), post-LayerNorm encoder layers, a pooler, and an MLM head whose
// decoder shares the word embeddings (and its bias the head's own bias).
import { arg } from '../args.js'
import { argError } from '../bind-args.js'
import { type AnyModuleDef, buffer, type BuildContext, defineModule, type ModuleNode, parameter } from '../define.js'
import { field, type ConfigDef, type ConfigValue, intAttr, numLabels } from './config.js'
import { configArg } from './decoder.js'
import { constOf, INIT_WEIGHTS_DOC, type InitWeightsExtra, pretrainedInit } from './init.js'
import { registerModelFacts } from './model-facts.js'

const pyModule = 'transformers.models.bert.modeling_bert'

export const bertConfig: ConfigDef = {
  name: 'BertConfig',
  qualname: 'transformers.BertConfig',
  modelType: 'bert',
  causalLm: 'BertLMHeadModel',
  doc: 'Configuration of a BERT model (defaults: bert-base-uncased, 110M).',
  fields: {
    vocab_size: field.int(30522),
    hidden_size: field.int(768),
    num_hidden_layers: field.int(12),
    num_attention_heads: field.int(12),
    intermediate_size: field.int(3072),
    hidden_act: field.str('gelu'),
    hidden_dropout_prob: field.of(['float', 'int'], 0.1),
    attention_probs_dropout_prob: field.of(['float', 'int'], 0.1),
    max_position_embeddings: field.int(512),
    type_vocab_size: field.int(2),
    initializer_range: field.float(0.02),
    layer_norm_eps: field.float(1e-12),
    pad_token_id: field.optInt(0),
    use_cache: field.bool(true),
    classifier_dropout: field.of(['float', 'int', 'None'], null),
    is_decoder: field.bool(false),
    add_cross_attention: field.bool(false),
    bos_token_id: field.optInt(null),
    eos_token_id: field.tokenIds(null),
    tie_word_embeddings: field.bool(true)
  }
}

/** Positions whose position_ids values materia holds (real BERT-like models have at most 8192). */
export const BERT_MAX_POSITION_VALUES = 1 << 20

/**
 * BertPreTrainedModel._init_weights beyond PreTrainedModel's: the MLM head's own bias zeros. (It also
 * writes BertEmbeddings' position_ids and token_type_ids again, with the values their constructor
 * gave them, which the buffers already hold.)
 */
const initWeightsExtra: InitWeightsExtra = (m, _c, init) => {
  if (m.name === 'BertLMPredictionHead') constOf(init, m.own('bias'), 0)
}
const bertInit = pretrainedInit(`${INIT_WEIGHTS_DOC}; the prediction head's bias zeros`, initWeightsExtra)

const cfg = (cls: string) => configArg(bertConfig.name, cls)
const dt = (ctx: BuildContext) => ({ dtype: ctx.defaultDtype })
const linear = (ctx: BuildContext, inF: unknown, outF: unknown): ModuleNode => ctx.make('Linear', [inF, outF], dt(ctx))
const layerNorm = (ctx: BuildContext, c: ConfigValue): ModuleNode => ctx.make('LayerNorm', [c.values.hidden_size], { eps: c.values.layer_norm_eps, ...dt(ctx) })
const dropout = (ctx: BuildContext, c: ConfigValue, key: string): ModuleNode => ctx.make('Dropout', [c.values[key]])

const embeddings = defineModule({
  name: 'BertEmbeddings',
  qualname: `${pyModule}.BertEmbeddings`,
  pyModule,
  acceptsDevice: false,
  doc: 'word_embeddings (vocab_size, hidden_size), position_embeddings (max_position_embeddings, hidden_size), token_type_embeddings ' +
    '(type_vocab_size, hidden_size), LayerNorm; non-persistent int64 buffers position_ids = arange (1, max_position_embeddings) and token_type_ids = zeros.',
  signature: { config: cfg('BertEmbeddings') },
  build (a, ctx) {
    const c = a.config
    const h = c.values.hidden_size
    const children: Array<[string, ModuleNode]> = [
      ['word_embeddings', ctx.make('Embedding', [c.values.vocab_size, h], { padding_idx: c.values.pad_token_id, ...dt(ctx) })],
      ['position_embeddings', ctx.make('Embedding', [c.values.max_position_embeddings, h], dt(ctx))],
      ['token_type_embeddings', ctx.make('Embedding', [c.values.type_vocab_size, h], dt(ctx))],
      ['LayerNorm', layerNorm(ctx, c)],
      ['dropout', dropout(ctx, c, 'hidden_dropout_prob')]
    ]
    const n = intAttr(c, 'max_position_embeddings')
    if (n > BERT_MAX_POSITION_VALUES) argError(`materia computes position_ids for at most ${BERT_MAX_POSITION_VALUES} positions; got max_position_embeddings=${n}`)
    const positionIds = { ...buffer('position_ids', [1, n], 'int64', undefined, { persistent: false }), values: Array.from({ length: n }, (_, i) => i) }
    return { children, tensors: [positionIds, buffer('token_type_ids', [1, n], 'int64', 0, { persistent: false })] }
  }
})

/** BertSelfAttention and BertCrossAttention hold the same tensors: query, key, value (hidden, hidden). */
const attentionKind = (name: string): AnyModuleDef => defineModule({
  name,
  qualname: `${pyModule}.${name}`,
  pyModule,
  acceptsDevice: false,
  doc: 'query, key and value: Linear(hidden_size, hidden_size) with bias.',
  signature: { config: cfg(name), is_causal: arg.bool(false), layer_idx: arg.optional(arg.int(), null) },
  build (a, ctx) {
    const c = a.config
    const h = intAttr(c, 'hidden_size')
    const heads = intAttr(c, 'num_attention_heads')
    if (heads === 0) argError('integer division or modulo by zero')
    if (h % heads !== 0 && !Object.hasOwn(c.values, 'embedding_size')) {
      argError(`The hidden size (${h}) is not a multiple of the number of attention heads (${heads})`)
    }
    const all = heads * Math.trunc(h / heads)
    return {
      children: [['query', linear(ctx, h, all)], ['key', linear(ctx, h, all)], ['value', linear(ctx, h, all)],
        ['dropout', dropout(ctx, c, 'attention_probs_dropout_prob')]]
    }
  }
})
const selfAttention = attentionKind('BertSelfAttention')
const crossAttention = attentionKind('BertCrossAttention')

/** A module of a dense projection, then (optionally) LayerNorm and dropout. */
const dense = (name: string, doc: string, inOut: (c: ConfigValue) => [unknown, unknown], norm: boolean): AnyModuleDef => defineModule({
  name,
  qualname: `${pyModule}.${name}`,
  pyModule,
  acceptsDevice: false,
  doc,
  signature: { config: cfg(name) },
  build (a, ctx) {
    const [i, o] = inOut(a.config)
    const children: Array<[string, ModuleNode]> = [['dense', linear(ctx, i, o)]]
    if (norm) children.push(['LayerNorm', layerNorm(ctx, a.config)], ['dropout', dropout(ctx, a.config, 'hidden_dropout_prob')])
    return { children }
  }
})
const selfOutput = dense('BertSelfOutput', 'dense (hidden, hidden), LayerNorm.', (c) => [c.values.hidden_size, c.values.hidden_size], true)
const intermediate = dense('BertIntermediate', 'dense (intermediate_size, hidden_size).', (c) => [c.values.hidden_size, c.values.intermediate_size], false)
const output = dense('BertOutput', 'dense (hidden_size, intermediate_size), LayerNorm.', (c) => [c.values.intermediate_size, c.values.hidden_size], true)
const pooler = dense('BertPooler', 'dense (hidden, hidden), then tanh.', (c) => [c.values.hidden_size, c.values.hidden_size], false)

const attention = defineModule({
  name: 'BertAttention',
  qualname: `${pyModule}.BertAttention`,
  pyModule,
  acceptsDevice: false,
  doc: 'self (BertSelfAttention, or BertCrossAttention) and output (BertSelfOutput).',
  signature: { config: cfg('BertAttention'), is_causal: arg.bool(false), layer_idx: arg.optional(arg.int(), null), is_cross_attention: arg.bool(false) },
  build (a, ctx) {
    const inner = ctx.make(a.is_cross_attention ? crossAttention.name : selfAttention.name, [a.config], { is_causal: a.is_causal, layer_idx: a.layer_idx })
    return { children: [['self', inner], ['output', ctx.make(selfOutput.name, [a.config])]] }
  }
})

const layer = defineModule({
  name: 'BertLayer',
  qualname: `${pyModule}.BertLayer`,
  pyModule,
  acceptsDevice: false,
  doc: 'attention, (crossattention with add_cross_attention, decoders only), intermediate, output.',
  signature: { config: cfg('BertLayer'), layer_idx: arg.optional(arg.int(), null) },
  build (a, ctx) {
    const c = a.config
    const children: Array<[string, ModuleNode]> = [['attention', ctx.make(attention.name, [c], { is_causal: c.values.is_decoder, layer_idx: a.layer_idx })]]
    if (c.values.add_cross_attention === true) {
      // transformers' text starts with the layer's repr; the rest is the same
      if (c.values.is_decoder !== true) argError('BertLayer should be used as a decoder model if cross attention is added')
      children.push(['crossattention', ctx.make(attention.name, [c], { is_causal: false, layer_idx: a.layer_idx, is_cross_attention: true })])
    }
    children.push(['intermediate', ctx.make(intermediate.name, [c])], ['output', ctx.make(output.name, [c])])
    return { children }
  }
})

const encoder = defineModule({
  name: 'BertEncoder',
  qualname: `${pyModule}.BertEncoder`,
  pyModule,
  acceptsDevice: false,
  doc: 'layer: num_hidden_layers BertLayers.',
  signature: { config: cfg('BertEncoder') },
  build (a, ctx) {
    const layers = intAttr(a.config, 'num_hidden_layers')
    // 16 tensors a layer (6 Linear, 2 LayerNorm, weight and bias each), checked before any is built
    ctx.expectTensors(Math.max(0, layers) * 16, false)
    const list: ModuleNode[] = []
    for (let i = 0; i < layers; i++) list.push(ctx.make(layer.name, [a.config], { layer_idx: i }))
    return { children: [['layer', ctx.make('ModuleList', [list])]] }
  }
})

const model = defineModule({
  name: 'BertModel',
  qualname: 'transformers.BertModel',
  pyModule,
  acceptsDevice: false,
  doc: (init) => `The bare BERT encoder: embeddings, encoder, pooler (add_pooling_layer). Takes a transformers.BertConfig. Init: ${init}.`,
  init: bertInit,
  signature: { config: cfg('BertModel'), add_pooling_layer: arg.bool(true) },
  build (a, ctx) {
    const children: Array<[string, ModuleNode]> = [['embeddings', ctx.make(embeddings.name, [a.config])], ['encoder', ctx.make(encoder.name, [a.config])]]
    if (a.add_pooling_layer) children.push(['pooler', ctx.make(pooler.name, [a.config])])
    return { children }
  }
})

const transform = defineModule({
  name: 'BertPredictionHeadTransform',
  qualname: `${pyModule}.BertPredictionHeadTransform`,
  pyModule,
  acceptsDevice: false,
  doc: 'dense (hidden, hidden), activation, LayerNorm.',
  signature: { config: cfg('BertPredictionHeadTransform') },
  build: (a, ctx) => ({ children: [['dense', linear(ctx, a.config.values.hidden_size, a.config.values.hidden_size)], ['LayerNorm', layerNorm(ctx, a.config)]] })
})

const predictionHead = defineModule({
  name: 'BertLMPredictionHead',
  qualname: `${pyModule}.BertLMPredictionHead`,
  pyModule,
  acceptsDevice: false,
  doc: (init) => `bias (vocab_size), ${init} at construction; transform, decoder Linear(hidden_size, vocab_size).`,
  // nn.Parameter(torch.zeros(config.vocab_size))
  init: { doc: 'torch.zeros', reset: (_a, m, init) => { init.constant(m.tensor('bias'), 0) } },
  signature: { config: cfg('BertLMPredictionHead') },
  build (a, ctx) {
    const c = a.config
    const children: Array<[string, ModuleNode]> = [['transform', ctx.make(transform.name, [c])],
      ['decoder', linear(ctx, c.values.hidden_size, c.values.vocab_size)]]
    return { children, tensors: [parameter('bias', intAttr(c, 'vocab_size'), ctx.defaultDtype)] }
  }
})

const mlmHead = defineModule({
  name: 'BertOnlyMLMHead',
  qualname: `${pyModule}.BertOnlyMLMHead`,
  pyModule,
  acceptsDevice: false,
  doc: 'predictions (BertLMPredictionHead).',
  signature: { config: cfg('BertOnlyMLMHead') },
  build: (a, ctx) => ({ children: [['predictions', ctx.make(predictionHead.name, [a.config])]] })
})

/** BertForMaskedLM and BertLMHeadModel: bert without pooler, cls, and _tied_weights_keys. */
const withMlmHead = (name: string, doc: string): AnyModuleDef => defineModule({
  name,
  qualname: `transformers.${name}`,
  pyModule,
  acceptsDevice: false,
  doc: (init) => `${doc} BertModel (no pooler) as bert, and cls.predictions; with tie_word_embeddings, cls.predictions.decoder.weight is ` +
    `bert.embeddings.word_embeddings.weight and cls.predictions.decoder.bias is cls.predictions.bias. Takes a transformers.BertConfig. Init: ${init}.`,
  init: bertInit,
  signature: { config: cfg(name) },
  build (a, ctx) {
    const c = a.config
    const bert = ctx.make(model.name, [c], { add_pooling_layer: false })
    return {
      children: [['bert', bert], ['cls', ctx.make(mlmHead.name, [c])]],
      ties: c.values.tie_word_embeddings === true
        ? [['cls.predictions.decoder.weight', 'bert.embeddings.word_embeddings.weight'], ['cls.predictions.decoder.bias', 'cls.predictions.bias']]
        : []
    }
  }
})

const maskedLm = withMlmHead('BertForMaskedLM', 'BERT with a masked-language-modelling head:')
const lmHeadModel = withMlmHead('BertLMHeadModel', 'BERT as a causal language model (is_decoder):')

/**
 * BertForSequenceClassification (on the pooled output) and BertForTokenClassification (per token,
 * no pooler): bert, dropout, classifier Linear(hidden_size, num_labels), where num_labels is
 * len(config.id2label) (PretrainedConfig makes LABEL_0…LABEL_{n-1} from num_labels, default 2).
 */
const withClassifier = (name: string, doc: string, pooler: boolean): AnyModuleDef => defineModule({
  name,
  qualname: `transformers.${name}`,
  pyModule,
  acceptsDevice: false,
  doc: (init) => `${doc} BertModel${pooler ? '' : ' (no pooler)'} as bert, dropout (classifier_dropout, else hidden_dropout_prob), ` +
    `classifier Linear(hidden_size, num_labels); num_labels is len(id2label), from num_labels (default 2). Takes a transformers.BertConfig. Init: ${init}.`,
  init: bertInit,
  signature: { config: cfg(name) },
  build (a, ctx) {
    const c = a.config
    const p = c.values.classifier_dropout ?? c.values.hidden_dropout_prob
    return {
      children: [['bert', ctx.make(model.name, [c], { add_pooling_layer: pooler })], ['dropout', ctx.make('Dropout', [p])],
        ['classifier', linear(ctx, c.values.hidden_size, numLabels(c))]]
    }
  }
})
const sequenceClassification = withClassifier('BertForSequenceClassification', 'BERT with a sequence classification head on the pooled output:', true)
const tokenClassification = withClassifier('BertForTokenClassification', 'BERT with a token classification head:', false)
// BertModel's _no_split_modules; the head classes set None, and post_init() adds their bert's
for (const m of [model, maskedLm, lmHeadModel, sequenceClassification, tokenClassification]) {
  registerModelFacts(m.qualname, { noSplitModules: [embeddings.name, layer.name] })
}

export const defs: AnyModuleDef[] = [embeddings, selfAttention, crossAttention, selfOutput, intermediate, output, pooler, attention, layer,
  encoder, model, transform, predictionHead, mlmHead,
  maskedLm, lmHeadModel, sequenceClassification, tokenClassification]
