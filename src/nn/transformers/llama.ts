// transformers/models/llama: LlamaConfig, and LlamaModel / LlamaForCausalLM with their parts.
import { field, type ConfigDef, headsDivideHidden } from './config.js'
import { decoderFamily } from './decoder.js'

export const llamaConfig: ConfigDef = {
  name: 'LlamaConfig',
  qualname: 'transformers.LlamaConfig',
  modelType: 'llama',
  doc: 'Configuration of a Llama model (defaults: Llama-2-7B). head_dim defaults to hidden_size // num_attention_heads, ' +
    'num_key_value_heads to num_attention_heads; rope_scaling and rope_theta are folded into rope_parameters.',
  fields: {
    vocab_size: field.int(32000),
    hidden_size: field.int(4096),
    intermediate_size: field.int(11008),
    num_hidden_layers: field.int(32),
    num_attention_heads: field.int(32),
    num_key_value_heads: field.optInt(null),
    hidden_act: field.str('silu'),
    max_position_embeddings: field.int(2048),
    initializer_range: field.of(['float'], 0.02, [0, 1]),
    rms_norm_eps: field.float(1e-6),
    use_cache: field.bool(true),
    pad_token_id: field.optInt(null),
    bos_token_id: field.optInt(1),
    eos_token_id: field.tokenIds(2),
    pretraining_tp: field.optInt(1),
    tie_word_embeddings: field.bool(false),
    rope_parameters: field.rope(),
    attention_bias: field.bool(false),
    attention_dropout: field.dropout(['int', 'float', 'None']),
    mlp_bias: field.bool(false),
    head_dim: field.optInt(null)
  },
  postInit (c) {
    if (c.head_dim === null) c.head_dim = Math.floor((c.hidden_size as number) / (c.num_attention_heads as number))
    if (c.num_key_value_heads === null) c.num_key_value_heads = c.num_attention_heads
  },
  validators: {
    validate_architecture: headsDivideHidden
  }
}

export const defs = decoderFamily({
  prefix: 'Llama',
  pyModule: 'transformers.models.llama.modeling_llama',
  config: llamaConfig,
  attentionBias: (c) => ({ qkv: c.values.attention_bias === true, o: c.values.attention_bias === true }),
  mlpBias: (c) => c.values.mlp_bias === true
})
