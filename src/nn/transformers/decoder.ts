// The decoder-only family transformers 5.18 writes once per model (modeling_llama.py and the files
// generated from it: Mistral, Qwen2, Qwen3): XRMSNorm, XRotaryEmbedding, XMLP, XAttention,
// XDecoderLayer, XModel and XForCausalLM, each a module definition like torch.nn's. A family
// states only where it differs from Llama (biases, q/k norms, how head_dim is read).
import { DEFAULT_DTYPE, type DType } from '../../tensor/dtype.js'
import { arg } from '../args.js'
import { argError, bindAndCoerce, type Coerce } from '../bind-args.js'
import { type AnyModuleDef, type BuildContext, buffer, defineModule, type ModuleNode, parameter } from '../define.js'
import { attr, type ConfigDef, type ConfigValue, intAttr, isConfigValue, numLabels } from './config.js'
import { constOf, INIT_WEIGHTS_DOC, initializerRange, type InitWeightsExtra, normalOf, pretrainedInit } from './init.js'
import { registerModelFacts } from './model-facts.js'
import { invFreq } from './rope.js'
import { embedding, embeddingInit } from '../modules/embedding.js'
import { pyStrRepr } from '../py-repr.js'

export interface DecoderFamily {
  /** class name prefix, 'Llama' */
  readonly prefix: string
  /** 'transformers.models.llama.modeling_llama' */
  readonly pyModule: string
  readonly config: ConfigDef
  /** bias of q/k/v and of o_proj (Llama: config.attention_bias for all four) */
  readonly attentionBias: (c: ConfigValue) => { qkv: boolean, o: boolean }
  /** bias of the MLP's three projections (Llama: config.mlp_bias) */
  readonly mlpBias: (c: ConfigValue) => boolean
  /** Qwen3: RMSNorm over head_dim on queries and keys (q_norm, k_norm) */
  readonly qkNorm?: boolean
  /** the attention's head_dim: Llama's getattr(config, "head_dim", hidden // heads), Mistral's `or` form */
  readonly headDimOr?: boolean
  /** mixture of experts (transformers 5's fused expert tensors) in place of the MLP */
  readonly moe?: MoeShape
  /** Phi3: o_proj then one qkv_proj, and one gate_up_proj; residual dropouts after the norms */
  readonly fused?: { readonly dropout: string }
  /** Gemma2: embed_tokens scaled by sqrt(hidden_size) (an embed_scale buffer), norms around the MLP too */
  readonly gemma?: boolean
  /** the bare model's class when it is not prefix + 'Model' (Gemma3TextModel) */
  readonly modelName?: string
  /** Gemma3: rope_parameters nested by layer type, one inv_freq pair per type ('sliding_attention_inv_freq') */
  readonly ropeByLayerType?: boolean
}

/** Where a family's sparse MoE block differs. */
export interface MoeShape {
  /** config key of the expert count ('num_local_experts', 'num_experts') */
  readonly experts: string
  /** config key of one expert's intermediate size */
  readonly intermediate: string
  /** registration order inside the block (Mixtral: gate first; Qwen3-MoE: experts first) */
  readonly expertsFirst: boolean
  /** whether layer `i` has the MoE block (else the dense MLP) */
  readonly sparse: (c: ConfigValue, layerIdx: number) => boolean
}

/** The `config` parameter of a transformers class `cls` (annotated with the config class's name). */
export function configArg (configName: string, cls: string) {
  return arg.custom(configName, toConfig(cls))
}

/** The config argument of every class of a family: a config spec's value. */
function toConfig (cls: string): Coerce<ConfigValue> {
  return (value) => {
    if (isConfigValue(value)) return value
    return argError(`Parameter config in \`${cls}(config)\` should be an instance of class \`PreTrainedConfig\`. ` +
      `To create a model from a pretrained model use \`model = ${cls}.from_pretrained(PRETRAINED_MODEL_NAME)\``)
  }
}

/** The dtype a factory without `dtype=` gives: torch.get_default_dtype(), which from_config sets. */
function factory (ctx: BuildContext): { dtype: DType } {
  return { dtype: ctx.defaultDtype }
}

export function headDim (c: ConfigValue, orForm = false): number {
  const hidden = intAttr(c, 'hidden_size')
  const heads = intAttr(c, 'num_attention_heads')
  if (heads === 0) argError('integer division or modulo by zero')
  const fallback = Math.floor(hidden / heads)
  const v = attr(c, 'head_dim', fallback)
  if (orForm && (v === null || v === 0)) return fallback
  if (typeof v !== 'number' || !Number.isInteger(v)) return argError(`head_dim must be an int, not ${String(v)}`)
  return v
}

/** Tensors one decoder layer registers (a bound the model checks before building its layers). */
function tensorsPerLayer (f: DecoderFamily, c: ConfigValue): number {
  const { qkv, o } = f.attentionBias(c)
  // a MoE block has 3 tensors, a dense MLP 2 to 6: 2 is the least a layer's MLP holds
  const mlp = f.moe !== undefined ? 3 : f.fused !== undefined ? 2 : 3 * (f.mlpBias(c) ? 2 : 1)
  const attention = f.fused !== undefined ? 2 : 4 + (qkv ? 3 : 0)
  return attention + (o ? 1 : 0) + mlp + (f.gemma === true ? 4 : 2) + (f.qkNorm === true ? 2 : 0)
}

export function decoderFamily (f: DecoderFamily): AnyModuleDef[] {
  const { prefix, pyModule } = f
  const q = (cls: string): string => `${pyModule}.${cls}`
  const cfg = (cls: string) => configArg(f.config.name, cls)
  const name = (suffix: string): string => `${prefix}${suffix}`

  const rmsNorm = defineModule({
    name: name('RMSNorm'),
    qualname: q(name('RMSNorm')),
    pyModule,
    acceptsDevice: false,
    doc: (init) => `Root-mean-square layer norm. weight: (hidden_size,), ${init} at construction.`,
    signature: { hidden_size: arg.dim(), eps: arg.float(1e-6) },
    build: (a, ctx) => ({ tensors: [{ ...parameter('weight', a.hidden_size, ctx.defaultDtype) }] }),
    // Gemma's norm scales by 1 + weight: torch.zeros; the others torch.ones
    init: { doc: f.gemma === true ? 'torch.zeros' : 'torch.ones', reset: (_a, m, init) => { init.constant(m.tensor('weight'), f.gemma === true ? 0 : 1) } }
  })

  const rotary = defineModule({
    name: name('RotaryEmbedding'),
    qualname: q(name('RotaryEmbedding')),
    pyModule,
    acceptsDevice: true,
    doc: 'Rotary position embedding: non-persistent float32 buffers inv_freq and original_inv_freq (head_dim * partial_rotary_factor // 2,), ' +
      'computed from rope_parameters (default, linear, dynamic, llama3, yarn).',
    signature: { config: cfg(name('RotaryEmbedding')), device: arg.device() },
    build (a) {
      const c = a.config
      const rope = (params: unknown) => invFreq({
        params: params as Record<string, unknown>,
        headDim: headDim(c, true),
        maxPositionEmbeddings: intAttr(c, 'max_position_embeddings')
      })
      // torch.arange(..., dtype=torch.float): float32 whatever the default dtype
      const pair = (prefix: string, values: number[]) => ['inv_freq', 'original_inv_freq'].map((n) =>
        ({ ...buffer(`${prefix}${n}`, values.length, 'float32', undefined, { persistent: false }), values }))
      if (f.ropeByLayerType !== true) return { tensors: pair('', rope(c.values.rope_parameters)) }
      // one pair per layer type, in sorted(set(config.layer_types)) order; a type set to None has none
      const all = c.values.rope_parameters as Record<string, unknown>
      const types = [...new Set((c.values.layer_types as unknown[]).map(String))].sort()
      return {
        tensors: types.flatMap((lt) => {
          if (!Object.hasOwn(all, lt)) return argError(pyStrRepr(lt))
          return all[lt] === null ? [] : pair(`${lt}_`, rope(all[lt]))
        })
      }
    }
  })

  const mlp = defineModule({
    name: name('MLP'),
    qualname: q(name('MLP')),
    pyModule,
    acceptsDevice: false,
    doc: 'SwiGLU feed-forward: gate_proj and up_proj (intermediate_size, hidden_size), down_proj (hidden_size, intermediate_size).',
    signature: { config: cfg(name('MLP')) },
    build (a, ctx) {
      const c = a.config
      const h = intAttr(c, 'hidden_size')
      const i = intAttr(c, 'intermediate_size')
      const bias = f.mlpBias(c)
      const lin = (inF: number, outF: number): ModuleNode => ctx.make('Linear', [inF, outF], { bias, ...factory(ctx) })
      if (f.fused !== undefined) {
        const gateUp = lin(h, 2 * i)
        return { children: [['gate_up_proj', gateUp], ['down_proj', lin(i, h)]] }
      }
      return { children: [['gate_proj', lin(h, i)], ['up_proj', lin(h, i)], ['down_proj', lin(i, h)]] }
    }
  })

  const attention = defineModule({
    name: name('Attention'),
    qualname: q(name('Attention')),
    pyModule,
    acceptsDevice: false,
    doc: 'Grouped-query attention: q_proj (heads * head_dim, hidden), k_proj and v_proj (kv_heads * head_dim, hidden), o_proj (hidden, heads * head_dim).',
    signature: { config: cfg(name('Attention')), layer_idx: arg.int() },
    build (a, ctx) {
      const c = a.config
      const h = intAttr(c, 'hidden_size')
      const heads = intAttr(c, 'num_attention_heads')
      const kv = intAttr(c, 'num_key_value_heads')
      const d = headDim(c, f.headDimOr === true)
      if (kv === 0) argError('integer division or modulo by zero')
      const { qkv, o } = f.attentionBias(c)
      const lin = (inF: number, outF: number, bias: boolean): ModuleNode => ctx.make('Linear', [inF, outF], { bias, ...factory(ctx) })
      if (f.fused !== undefined) {
        const out = lin(heads * d, h, o)
        return { children: [['o_proj', out], ['qkv_proj', lin(h, heads * d + 2 * kv * d, qkv)]] }
      }
      const children: Array<[string, ModuleNode]> = [
        ['q_proj', lin(h, heads * d, qkv)],
        ['k_proj', lin(h, kv * d, qkv)],
        ['v_proj', lin(h, kv * d, qkv)],
        ['o_proj', lin(heads * d, h, o)]
      ]
      if (f.qkNorm === true) {
        const eps = c.values.rms_norm_eps
        children.push(['q_norm', ctx.make(rmsNorm.name, [d], { eps })], ['k_norm', ctx.make(rmsNorm.name, [d], { eps })])
      }
      return { children }
    }
  })

  const moeDefs = f.moe === undefined ? [] : moeFamily(f, f.moe, cfg, q, name)
  const modelInit = pretrainedInit(initWeightsDoc(f), initWeightsExtra(f))

  const scaledEmbedding = defineModule({
    name: name('TextScaledWordEmbedding'),
    qualname: q(name('TextScaledWordEmbedding')),
    pyModule,
    acceptsDevice: false,
    doc: (init) => `An nn.Embedding whose output is multiplied by embed_scale: weight (num_embeddings, embedding_dim) ~ ${init}, ` +
      'and a non-persistent 0-d buffer embed_scale = torch.tensor(embed_scale) in the default dtype.',
    signature: { num_embeddings: arg.dim(), embedding_dim: arg.dim(), padding_idx: arg.optional(arg.int()), embed_scale: arg.float(1) },
    build (a, ctx) {
      // nn.Embedding.__init__ runs as this class's super().__init__: its checks and weight, one module
      const args = bindAndCoerce(embedding.fn, embedding.signature, [a.num_embeddings, a.embedding_dim, a.padding_idx], factory(ctx))
      const inner = embedding.build(args, ctx)
      return { tensors: [...(inner.tensors ?? []), buffer('embed_scale', [], ctx.defaultDtype, a.embed_scale, { persistent: false })] }
    },
    init: embeddingInit
  })

  const layer = defineModule({
    name: name('DecoderLayer'),
    qualname: q(name('DecoderLayer')),
    pyModule,
    acceptsDevice: false,
    doc: 'One decoder block: self_attn, mlp, input_layernorm and post_attention_layernorm.',
    signature: { config: cfg(name('DecoderLayer')), layer_idx: arg.int() },
    build (a, ctx) {
      const c = a.config
      const norm = (): ModuleNode => ctx.make(rmsNorm.name, [c.values.hidden_size], { eps: c.values.rms_norm_eps })
      const children: Array<[string, ModuleNode]> = [
        ['self_attn', ctx.make(attention.name, [], { config: c, layer_idx: a.layer_idx })],
        ['mlp', f.moe !== undefined && f.moe.sparse(c, a.layer_idx) ? ctx.make(name('SparseMoeBlock'), [c]) : ctx.make(mlp.name, [c])],
        ['input_layernorm', norm()],
        ['post_attention_layernorm', norm()]
      ]
      if (f.gemma === true) {
        const pre = norm()
        children.push(['pre_feedforward_layernorm', pre], ['post_feedforward_layernorm', norm()])
      }
      if (f.fused !== undefined) {
        const p = c.values[f.fused.dropout]
        children.push(['resid_attn_dropout', ctx.make('Dropout', [p])], ['resid_mlp_dropout', ctx.make('Dropout', [p])])
      }
      return { children }
    }
  })

  const modelName = f.modelName ?? name('Model')
  const model = defineModule({
    name: modelName,
    qualname: `transformers.${modelName}`,
    pyModule,
    acceptsDevice: false,
    doc: (init) => `The bare ${prefix} decoder: embed_tokens (vocab_size, hidden_size), num_hidden_layers ${name('DecoderLayer')}s, norm, ` +
      `rotary_emb (non-persistent inv_freq). Takes a transformers.${f.config.name}. Init: ${init}.`,
    init: modelInit,
    signature: { config: cfg(name('Model')) },
    build (a, ctx) {
      const c = a.config
      const layers = intAttr(c, 'num_hidden_layers')
      // refused before any layer is built when the layers alone pass the tensor limit
      ctx.expectTensors(Math.max(0, layers) * tensorsPerLayer(f, c), false)
      const embedArgs = [c.values.vocab_size, c.values.hidden_size, attr(c, 'pad_token_id', null)]
      const embed = f.gemma === true
        ? ctx.make(name('TextScaledWordEmbedding'), embedArgs, { embed_scale: Math.sqrt(intAttr(c, 'hidden_size')) })
        : ctx.make('Embedding', embedArgs, factory(ctx))
      const list: ModuleNode[] = []
      for (let i = 0; i < layers; i++) list.push(ctx.make(layer.name, [c, i]))
      return {
        children: [
          ['embed_tokens', embed],
          ['layers', ctx.make('ModuleList', [list])],
          ['norm', ctx.make(rmsNorm.name, [c.values.hidden_size], { eps: c.values.rms_norm_eps })],
          ['rotary_emb', ctx.make(rotary.name, [], { config: c })]
        ]
      }
    }
  })

  const causalLm = defineModule({
    name: name('ForCausalLM'),
    qualname: `transformers.${name('ForCausalLM')}`,
    pyModule,
    acceptsDevice: false,
    doc: (init) => `${modelName} as model, plus lm_head (vocab_size, hidden_size) without bias; tie_word_embeddings makes lm_head.weight ` +
      `model.embed_tokens.weight (_tied_weights_keys). Takes a transformers.${f.config.name}. Init: ${init}.`,
    init: modelInit,
    signature: { config: cfg(name('ForCausalLM')) },
    build (a, ctx) {
      const c = a.config
      return {
        children: [
          ['model', ctx.make(model.name, [c])],
          ['lm_head', ctx.make('Linear', [c.values.hidden_size, c.values.vocab_size], { bias: false, ...factory(ctx) })]
        ],
        ties: c.values.tie_word_embeddings === true ? [['lm_head.weight', 'model.embed_tokens.weight']] : []
      }
    }
  })

  // GenericForSequenceClassification: the bare model (AutoModel.from_config) and score, Linear(hidden_size, num_labels) without bias
  const classifierName = modelName.replace(/Model$/, 'ForSequenceClassification')
  const sequenceClassification = defineModule({
    name: classifierName,
    qualname: `transformers.${classifierName}`,
    pyModule,
    acceptsDevice: false,
    doc: (init) => `${modelName} as model, plus score (num_labels, hidden_size) without bias; num_labels is len(id2label), from num_labels ` +
      `(default 2). Takes a transformers.${f.config.name}. Init: ${init}.`,
    init: modelInit,
    signature: { config: cfg(classifierName) },
    build (a, ctx) {
      const c = a.config
      return {
        children: [
          ['model', ctx.make(model.name, [c])],
          ['score', ctx.make('Linear', [c.values.hidden_size, numLabels(c)], { bias: false, ...factory(ctx) })]
        ]
      }
    }
  })
  registerModelFacts(sequenceClassification.qualname, { noSplitModules: [layer.name] })

  const facts = {
    noSplitModules: [layer.name],
    cache: (c: ConfigValue) => ({ layers: intAttr(c, 'num_hidden_layers'), kvHeads: intAttr(c, 'num_key_value_heads'), headDim: headDim(c, f.headDimOr === true) })
  }
  registerModelFacts(model.qualname, facts)
  registerModelFacts(causalLm.qualname, facts)
  return [rmsNorm, rotary, mlp, ...moeDefs, ...(f.gemma === true ? [scaledEmbedding] : []), attention, layer, model, causalLm, sequenceClassification]
}

/** torch.empty in __init__: the values come from the model's _init_weights. */
const EMPTY_UNTIL_INIT_WEIGHTS = { doc: 'torch.empty until the model\'s _init_weights', reset: () => {} }

/** The model's _init_weights beyond PreTrainedModel's (modeling_<family>.py, <Prefix>PreTrainedModel._init_weights). */
function initWeightsExtra (f: DecoderFamily): InitWeightsExtra | undefined {
  if (f.moe !== undefined) {
    // MixtralPreTrainedModel / Qwen3MoePreTrainedModel: std = self.config.initializer_range
    const experts = `${f.prefix}Experts`
    const router = `${f.prefix}TopKRouter`
    return (m, c, init) => {
      const std = initializerRange(c)
      if (m.name === experts) {
        normalOf(init, m.own('gate_up_proj'), std, `${m.name}.gate_up_proj`)
        normalOf(init, m.own('down_proj'), std, `${m.name}.down_proj`)
      } else if (m.name === router) normalOf(init, m.own('weight'), std, `${m.name}.weight`)
    }
  }
  if (f.gemma === true) {
    // Gemma2PreTrainedModel: its norms scale by 1 + weight, so zeros; embed_scale written again (the same value)
    return (m, _c, init) => {
      if (m.name.includes('RMSNorm')) constOf(init, m.own('weight'), 0)
      else if (m.name.endsWith('TextScaledWordEmbedding')) constOf(init, m.own('embed_scale'), m.args.embed_scale as number)
    }
  }
  return undefined
}

function initWeightsDoc (f: DecoderFamily): string {
  if (f.moe !== undefined) return `${INIT_WEIGHTS_DOC}; expert and router weights N(0, initializer_range)`
  if (f.gemma === true) return `${INIT_WEIGHTS_DOC}, then RMSNorm weights zeros`
  return INIT_WEIGHTS_DOC
}

/** XTopKRouter (weight: experts × hidden), XExperts (gate_up_proj, down_proj: one 3-D tensor each), XSparseMoeBlock. */
function moeFamily (f: DecoderFamily, moe: MoeShape, cfg: (cls: string) => ReturnType<typeof arg.custom<ConfigValue>>,
  q: (cls: string) => string, name: (suffix: string) => string): AnyModuleDef[] {
  const { pyModule } = f
  const router = defineModule({
    name: name('TopKRouter'),
    qualname: q(name('TopKRouter')),
    pyModule,
    acceptsDevice: false,
    doc: (init) => `Router: weight (${moe.experts}, hidden_size), ${init}.`,
    signature: { config: cfg(name('TopKRouter')) },
    build: (a, ctx) => ({ tensors: [parameter('weight', [intAttr(a.config, moe.experts), intAttr(a.config, 'hidden_size')], ctx.defaultDtype)] }),
    init: EMPTY_UNTIL_INIT_WEIGHTS
  })
  const experts = defineModule({
    name: name('Experts'),
    qualname: q(name('Experts')),
    pyModule,
    acceptsDevice: false,
    doc: (init) => `Every expert's weights fused in two tensors: gate_up_proj (${moe.experts}, 2 * ${moe.intermediate}, hidden_size), ` +
      `down_proj (${moe.experts}, hidden_size, ${moe.intermediate}), ${init}.`,
    init: EMPTY_UNTIL_INIT_WEIGHTS,
    signature: { config: cfg(name('Experts')) },
    build (a, ctx) {
      const e = intAttr(a.config, moe.experts)
      const h = intAttr(a.config, 'hidden_size')
      const i = intAttr(a.config, moe.intermediate)
      return {
        tensors: [
          parameter('gate_up_proj', [e, 2 * i, h], ctx.defaultDtype),
          parameter('down_proj', [e, h, i], ctx.defaultDtype)
        ]
      }
    }
  })
  const block = defineModule({
    name: name('SparseMoeBlock'),
    qualname: q(name('SparseMoeBlock')),
    pyModule,
    acceptsDevice: false,
    doc: 'Sparse mixture of experts: gate (the router) and experts (fused weights).',
    signature: { config: cfg(name('SparseMoeBlock')) },
    build (a, ctx) {
      // constructed in registration order, as the Python __init__ does
      const gate = (): [string, ModuleNode] => ['gate', ctx.make(router.name, [a.config])]
      const ex = (): [string, ModuleNode] => ['experts', ctx.make(experts.name, [a.config])]
      if (moe.expertsFirst) { const e = ex(); return { children: [e, gate()] } }
      const g = gate()
      return { children: [g, ex()] }
    }
  })
  return [router, experts, block]
}

export { DEFAULT_DTYPE }
