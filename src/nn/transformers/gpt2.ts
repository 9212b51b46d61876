// transformers/models/gpt2: GPT2Config, and GPT2Model / GPT2LMHeadModel: Conv1D projections (weight
// stored (in, out)), learned position embeddings, LayerNorms, lm_head tied to transformer.wte.
import { arg } from '../args.js'
import { argError } from '../bind-args.js'
import { type AnyModuleDef, defineModule, type ModuleNode, parameter } from '../define.js'
import { field, type ConfigDef, type ConfigValue, intAttr, numLabels } from './config.js'
import { configArg } from './decoder.js'
import { constOf, INIT_WEIGHTS_DOC, initializerRange, type InitWeightsExtra, normalOf, pretrainedInit } from './init.js'
import { registerModelFacts } from './model-facts.js'

const pyModule = 'transformers.models.gpt2.modeling_gpt2'

export const gpt2Config: ConfigDef = {
  name: 'GPT2Config',
  qualname: 'transformers.GPT2Config',
  modelType: 'gpt2',
  causalLm: 'GPT2LMHeadModel',
  doc: 'Configuration of a GPT-2 model (defaults: gpt2, 124M). hidden_size, max_position_embeddings, num_attention_heads and ' +
    'num_hidden_layers are names of n_embd, n_positions, n_head and n_layer; n_inner defaults to 4 * n_embd.',
  attributeMap: { hidden_size: 'n_embd', max_position_embeddings: 'n_positions', num_attention_heads: 'n_head', num_hidden_layers: 'n_layer' },
  fields: {
    vocab_size: field.int(50257),
    n_positions: field.int(1024),
    n_embd: field.int(768),
    n_layer: field.int(12),
    n_head: field.int(12),
    n_inner: field.optInt(null),
    activation_function: field.str('gelu_new'),
    resid_pdrop: field.of(['float', 'int'], 0.1),
    embd_pdrop: field.of(['float', 'int'], 0.1),
    attn_pdrop: field.of(['float', 'int'], 0.1),
    layer_norm_epsilon: field.float(1e-5),
    initializer_range: field.float(0.02),
    summary_type: field.str('cls_index'),
    summary_use_proj: field.bool(true),
    summary_activation: field.of(['str', 'None'], null),
    summary_proj_to_labels: field.bool(true),
    summary_first_dropout: field.of(['float', 'int'], 0.1),
    scale_attn_weights: field.bool(true),
    use_cache: field.bool(true),
    bos_token_id: field.optInt(50256),
    eos_token_id: field.tokenIds(50256),
    pad_token_id: field.optInt(null),
    scale_attn_by_inverse_layer_idx: field.bool(false),
    reorder_and_upcast_attn: field.bool(false),
    add_cross_attention: field.bool(false),
    tie_word_embeddings: field.bool(true)
  }
}

/** transformers.pytorch_utils.Conv1D(nf, nx): weight (nx, nf), bias (nf) zeros. */
const conv1d = defineModule({
  name: 'Conv1D',
  qualname: 'transformers.pytorch_utils.Conv1D',
  pyModule: 'transformers.pytorch_utils',
  acceptsDevice: false,
  doc: (init) => `A linear layer with its weight transposed (GPT-2): weight (nx, nf), bias (nf); ${init}.`,
  signature: { nf: arg.dim(), nx: arg.dim() },
  build: (a, ctx) => ({ tensors: [parameter('weight', [a.nx, a.nf], ctx.defaultDtype), parameter('bias', a.nf, ctx.defaultDtype)] }),
  // torch.empty weight then nn.init.normal_(std=0.02); bias torch.zeros
  init: {
    doc: 'weight N(0, 0.02), bias zeros',
    reset (_a, m, init) {
      init.normal(m.tensor('weight'), 0, 0.02, 'normal_(std=0.02) on Conv1D.weight')
      init.constant(m.tensor('bias'), 0)
    }
  }
})

/**
 * GPT2PreTrainedModel._init_weights beyond PreTrainedModel's: Conv1D weights N(0, initializer_range),
 * biases zeros; then, on reaching an attention or MLP (after its children), c_proj.weight drawn again
 * with initializer_range / sqrt(2 * n_layer) (the GPT-2 paper's scaled residual init).
 */
const initWeightsExtra: InitWeightsExtra = (m, c, init) => {
  const std = initializerRange(c)
  if (m.name === 'Conv1D') {
    normalOf(init, m.own('weight'), std, 'Conv1D.weight')
    constOf(init, m.own('bias'), 0)
  } else if (m.name === 'GPT2Attention' || m.name === 'GPT2MLP') {
    const scaled = std / Math.sqrt(2 * intAttr(c, 'n_layer'))
    normalOf(init, m.child('c_proj')?.own('weight'), scaled, `${m.name}.c_proj.weight`)
  }
}

const gpt2Init = pretrainedInit(`${INIT_WEIGHTS_DOC}; Conv1D weights N(0, initializer_range), then each c_proj weight ` +
  'N(0, initializer_range / sqrt(2 * n_layer))', initWeightsExtra)

const cfg = (cls: string) => configArg(gpt2Config.name, cls)
const n = (c: ConfigValue): { h: number, layers: number } => ({ h: intAttr(c, 'n_embd'), layers: intAttr(c, 'n_layer') })

const attention = defineModule({
  name: 'GPT2Attention',
  qualname: `${pyModule}.GPT2Attention`,
  pyModule,
  acceptsDevice: false,
  doc: 'Self-attention: c_attn Conv1D(3 * n_embd, n_embd) (cross-attention: c_attn for keys and values, q_attn), c_proj.',
  signature: { config: cfg('GPT2Attention'), is_cross_attention: arg.bool(false), layer_idx: arg.optional(arg.int()) },
  build (a, ctx) {
    const { h } = n(a.config)
    const heads = intAttr(a.config, 'n_head')
    if (heads === 0) argError('integer division or modulo by zero')
    if (Math.floor(h / heads) * heads !== h) argError(`\`embed_dim\` must be divisible by num_heads (got \`embed_dim\`: ${h} and \`num_heads\`: ${heads}).`)
    const children: Array<[string, ModuleNode]> = a.is_cross_attention
      ? [['c_attn', ctx.make(conv1d.name, [2 * h, h])], ['q_attn', ctx.make(conv1d.name, [h, h])]]
      : [['c_attn', ctx.make(conv1d.name, [3 * h, h])]]
    children.push(['c_proj', ctx.make(conv1d.name, [h, h])],
      ['attn_dropout', ctx.make('Dropout', [a.config.values.attn_pdrop])], ['resid_dropout', ctx.make('Dropout', [a.config.values.resid_pdrop])])
    return { children }
  }
})

const mlp = defineModule({
  name: 'GPT2MLP',
  qualname: `${pyModule}.GPT2MLP`,
  pyModule,
  acceptsDevice: false,
  doc: 'Feed-forward: c_fc Conv1D(intermediate_size, n_embd), c_proj Conv1D(n_embd, intermediate_size).',
  signature: { intermediate_size: arg.dim(), config: cfg('GPT2MLP') },
  build (a, ctx) {
    const { h } = n(a.config)
    return {
      children: [['c_fc', ctx.make(conv1d.name, [a.intermediate_size, h])], ['c_proj', ctx.make(conv1d.name, [h, a.intermediate_size])],
        ['dropout', ctx.make('Dropout', [a.config.values.resid_pdrop])]]
    }
  }
})

const block = defineModule({
  name: 'GPT2Block',
  qualname: `${pyModule}.GPT2Block`,
  pyModule,
  acceptsDevice: false,
  doc: 'ln_1, attn, ln_2, (crossattention and ln_cross_attn with add_cross_attention), mlp.',
  signature: { config: cfg('GPT2Block'), layer_idx: arg.optional(arg.int()) },
  build (a, ctx) {
    const c = a.config
    const { h } = n(c)
    const inner = c.values.n_inner === null ? 4 * h : intAttr(c, 'n_inner')
    const ln = (): ModuleNode => ctx.make('LayerNorm', [h], { eps: c.values.layer_norm_epsilon, dtype: ctx.defaultDtype })
    const children: Array<[string, ModuleNode]> = [['ln_1', ln()], ['attn', ctx.make(attention.name, [], { config: c, layer_idx: a.layer_idx })], ['ln_2', ln()]]
    if (c.values.add_cross_attention === true) {
      children.push(['crossattention', ctx.make(attention.name, [], { config: c, is_cross_attention: true, layer_idx: a.layer_idx })], ['ln_cross_attn', ln()])
    }
    children.push(['mlp', ctx.make(mlp.name, [inner, c])])
    return { children }
  }
})

const model = defineModule({
  name: 'GPT2Model',
  qualname: 'transformers.GPT2Model',
  pyModule,
  acceptsDevice: false,
  doc: (init) => `The bare GPT-2: wte (vocab_size, n_embd), wpe (n_positions, n_embd), h (n_layer GPT2Blocks), ln_f. Takes a transformers.GPT2Config. Init: ${init}.`,
  init: gpt2Init,
  signature: { config: cfg('GPT2Model') },
  build (a, ctx) {
    const c = a.config
    const dt = { dtype: ctx.defaultDtype }
    // the embeddings come first, so a bad n_embd fails where transformers' torch.empty fails
    const wte = ctx.make('Embedding', [c.values.vocab_size, c.values.n_embd], dt)
    const wpe = ctx.make('Embedding', [c.values.n_positions, c.values.n_embd], dt)
    const drop = ctx.make('Dropout', [c.values.embd_pdrop])
    const { h, layers } = n(c)
    // 12 tensors a block at least (4 LayerNorm, 4 Conv1D tensors in attention, 4 in the MLP)
    ctx.expectTensors(Math.max(0, layers) * 12, false)
    const list: ModuleNode[] = []
    for (let i = 0; i < layers; i++) list.push(ctx.make(block.name, [c], { layer_idx: i }))
    return {
      children: [['wte', wte], ['wpe', wpe], ['drop', drop], ['h', ctx.make('ModuleList', [list])],
        ['ln_f', ctx.make('LayerNorm', [h], { eps: c.values.layer_norm_epsilon, ...dt })]]
    }
  }
})

const lmHead = defineModule({
  name: 'GPT2LMHeadModel',
  qualname: 'transformers.GPT2LMHeadModel',
  pyModule,
  acceptsDevice: false,
  doc: (init) => 'GPT2Model as transformer, plus lm_head (vocab_size, n_embd) without bias, tied to transformer.wte.weight by default ' +
    `(tie_word_embeddings). Takes a transformers.GPT2Config. Init: ${init}.`,
  init: gpt2Init,
  signature: { config: cfg('GPT2LMHeadModel') },
  build (a, ctx) {
    const c = a.config
    return {
      children: [['transformer', ctx.make(model.name, [c])],
        ['lm_head', ctx.make('Linear', [c.values.n_embd, c.values.vocab_size], { bias: false, dtype: ctx.defaultDtype })]],
      ties: c.values.tie_word_embeddings === true ? [['lm_head.weight', 'transformer.wte.weight']] : []
    }
  }
})

const sequenceClassification = defineModule({
  name: 'GPT2ForSequenceClassification',
  qualname: 'transformers.GPT2ForSequenceClassification',
  pyModule,
  acceptsDevice: false,
  doc: (init) => 'GPT2Model as transformer, plus score (num_labels, n_embd) without bias; num_labels is len(id2label), from num_labels ' +
    `(default 2). Takes a transformers.GPT2Config. Init: ${init}.`,
  init: gpt2Init,
  signature: { config: cfg('GPT2ForSequenceClassification') },
  build (a, ctx) {
    const c = a.config
    return {
      children: [['transformer', ctx.make(model.name, [c])],
        ['score', ctx.make('Linear', [c.values.n_embd, numLabels(c)], { bias: false, dtype: ctx.defaultDtype })]]
    }
  }
})

// GPT-2's attention keeps n_head heads of n_embd / n_head for keys and values
const gpt2Facts = { noSplitModules: [block.name], cache: (c: ConfigValue) => ({ layers: n(c).layers, kvHeads: intAttr(c, 'n_head'), headDim: Math.trunc(n(c).h / intAttr(c, 'n_head')) }) }
registerModelFacts(model.qualname, gpt2Facts)
registerModelFacts(lmHead.qualname, gpt2Facts)
registerModelFacts(sequenceClassification.qualname, { noSplitModules: [block.name] })

export const defs: AnyModuleDef[] = [conv1d, attention, mlp, block, model, lmHead, sequenceClassification]
