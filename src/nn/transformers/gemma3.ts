// transformers/models/gemma3 (text part): Gemma3TextConfig, and Gemma3TextModel / Gemma3ForCausalLM:
// Gemma2's layer with RMSNorms over head_dim on queries and keys, and rotary parameters per layer
// type (a global base for full attention, a local one for sliding-window layers), each with its
// own inv_freq pair. The image-and-text Gemma3Config (model_type 'gemma3') is not built.
import { setOwn } from '../bind-args.js'
import { field, type ConfigDef, type ConfigValues, headsDivideHidden } from './config.js'
import { decoderFamily } from './decoder.js'
import { gemma2Config } from './gemma2.js'

/** Gemma3TextConfig.default_theta */
const DEFAULT_THETA = { global: 1_000_000, local: 10_000 }

/** Gemma3TextConfig.convert_rope_params_to_dict: rope_scaling updates full_attention; rope_theta and rope_local_base_freq are the bases. */
function convertRope (c: ConfigValues, extra: ConfigValues): void {
  const given = c.rope_parameters as ConfigValues | null
  const params: ConfigValues = given ?? { sliding_attention: { rope_type: 'default' }, full_attention: { rope_type: 'default' } }
  const scaling = extra.rope_scaling
  if (params.full_attention === null || params.full_attention === undefined) params.full_attention = { rope_type: 'default' }
  const full = params.full_attention as ConfigValues
  if (scaling !== undefined && scaling !== null && typeof scaling === 'object') for (const [k, v] of Object.entries(scaling)) setOwn(full, k, v)
  if (!Object.hasOwn(full, 'rope_theta')) full.rope_theta = Object.hasOwn(extra, 'rope_theta') ? extra.rope_theta : DEFAULT_THETA.global
  if (params.sliding_attention === null || params.sliding_attention === undefined) params.sliding_attention = { rope_type: 'default' }
  const sliding = params.sliding_attention as ConfigValues
  if (!Object.hasOwn(sliding, 'rope_theta')) sliding.rope_theta = Object.hasOwn(extra, 'rope_local_base_freq') ? extra.rope_local_base_freq : DEFAULT_THETA.local
  // popped from the kwargs, not kept as attributes
  delete extra.rope_local_base_freq
  c.rope_parameters = params
}

export const gemma3TextConfig: ConfigDef = {
  name: 'Gemma3TextConfig',
  qualname: 'transformers.Gemma3TextConfig',
  modelType: 'gemma3_text',
  causalLm: 'Gemma3ForCausalLM',
  doc: 'Configuration of the text model of Gemma 3 (defaults: gemma-3-4b): head_dim 256 as a field, tie_word_embeddings true, ' +
    'every sliding_window_pattern-th layer (6) full attention, the others sliding; rope_parameters per layer type, ' +
    'rope_theta (1000000.0) for full attention and rope_local_base_freq (10000.0) for sliding layers.',
  rope: { nested: convertRope },
  // Gemma2's fields in Gemma2's order; these defaults differ
  fields: {
    ...gemma2Config.fields,
    vocab_size: field.int(262_208),
    max_position_embeddings: field.int(131_072),
    rope_parameters: field.of(['dict', 'None'], null),
    final_logit_softcapping: field.of(['float', 'None'], null),
    attn_logit_softcapping: field.of(['float', 'None'], null),
    use_bidirectional_attention: field.of(['bool', 'None'], false)
  },
  postInit (c, extra) {
    if (c.use_bidirectional_attention === true && typeof c.sliding_window === 'number') c.sliding_window = Math.floor(c.sliding_window / 2) + 1
    const pattern = Object.hasOwn(extra, 'sliding_window_pattern') ? extra.sliding_window_pattern : 6
    if (c.layer_types === null) {
      const n = Math.max(0, Math.min(c.num_hidden_layers as number, 100_000))
      const p = typeof pattern === 'number' && pattern !== 0 ? pattern : 0
      c.layer_types = Array.from({ length: n }, (_, i) => p !== 0 && (i + 1) % p !== 0 ? 'sliding_attention' : 'full_attention')
    }
  },
  validators: {
    validate_architecture: headsDivideHidden
  }
}

export const defs = decoderFamily({
  prefix: 'Gemma3',
  modelName: 'Gemma3TextModel',
  pyModule: 'transformers.models.gemma3.modeling_gemma3',
  config: gemma3TextConfig,
  attentionBias: (c) => ({ qkv: c.values.attention_bias === true, o: c.values.attention_bias === true }),
  mlpBias: () => false,
  qkNorm: true,
  gemma: true,
  ropeByLayerType: true
})
