// transformers/models/mistral: MistralConfig, and MistralModel / MistralForCausalLM with their parts.
import { field, type ConfigDef, type ConfigField } from './config.js'
import { decoderFamily } from './decoder.js'

/** The fields Mistral and Mixtral declare first, in their order (they differ in rms_norm_eps). */
export function mistralFields (rmsNormEps: number): Record<string, ConfigField> {
  return {
    vocab_size: field.int(32000),
    hidden_size: field.int(4096),
    intermediate_size: field.int(14336),
    num_hidden_layers: field.int(32),
    num_attention_heads: field.int(32),
    num_key_value_heads: field.int(8),
    head_dim: field.optInt(null),
    hidden_act: field.str('silu'),
    max_position_embeddings: field.int(4096 * 32),
    initializer_range: field.float(0.02),
    rms_norm_eps: field.float(rmsNormEps),
    use_cache: field.bool(true),
    pad_token_id: field.optInt(null),
    bos_token_id: field.optInt(1),
    eos_token_id: field.tokenIds(2),
    tie_word_embeddings: field.bool(false),
  }
}

export const mistralConfig: ConfigDef = {
  name: 'MistralConfig',
  qualname: 'transformers.MistralConfig',
  modelType: 'mistral',
  doc: 'Configuration of a Mistral model (defaults: Mistral-7B-v0.1). head_dim defaults to hidden_size // num_attention_heads; ' +
    'sliding_window is kept for attention and changes no tensor.',
  fields: {
    ...mistralFields(1e-6),
    rope_parameters: field.rope(),
    sliding_window: field.optInt(4096),
    attention_dropout: field.dropout()
  },
  postInit (c) {
    if (c.head_dim === null) c.head_dim = Math.floor((c.hidden_size as number) / (c.num_attention_heads as number))
    if (c.num_key_value_heads === null) c.num_key_value_heads = c.num_attention_heads
  }
}

export const defs = decoderFamily({
  prefix: 'Mistral',
  pyModule: 'transformers.models.mistral.modeling_mistral',
  config: mistralConfig,
  attentionBias: () => ({ qkv: false, o: false }),
  mlpBias: () => false,
  headDimOr: true
})
