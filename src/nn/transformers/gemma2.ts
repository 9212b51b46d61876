// transformers/models/gemma2: Gemma2Config, and Gemma2Model / Gemma2ForCausalLM: a scaled word
// embedding (embed_scale buffer), four RMSNorms a layer, tied embeddings by default.
import { field, type ConfigDef, headsDivideHidden } from './config.js'
import { decoderFamily } from './decoder.js'

export const gemma2Config: ConfigDef = {
  name: 'Gemma2Config',
  qualname: 'transformers.Gemma2Config',
  modelType: 'gemma2',
  doc: 'Configuration of a Gemma 2 model (defaults: gemma-2-2b): head_dim 256 as a field, tie_word_embeddings true, ' +
    'layer_types alternating sliding and full attention.',
  fields: {
    vocab_size: field.int(256000),
    hidden_size: field.int(2304),
    intermediate_size: field.int(9216),
    num_hidden_layers: field.int(26),
    num_attention_heads: field.int(8),
    num_key_value_heads: field.int(4),
    head_dim: field.int(256),
    hidden_activation: field.str('gelu_pytorch_tanh'),
    max_position_embeddings: field.int(8192),
    initializer_range: field.float(0.02),
    rms_norm_eps: field.float(1e-6),
    use_cache: field.bool(true),
    pad_token_id: field.optInt(0),
    eos_token_id: field.tokenIds(1),
    bos_token_id: field.optInt(2),
    tie_word_embeddings: field.bool(true),
    rope_parameters: field.rope(),
    attention_bias: field.bool(false),
    attention_dropout: field.dropout(['int', 'float', 'None']),
    query_pre_attn_scalar: field.int(256),
    sliding_window: field.optInt(4096),
    layer_types: field.of(['list', 'None'], null),
    final_logit_softcapping: field.of(['float', 'None'], 30),
    attn_logit_softcapping: field.of(['float', 'None'], 50),
    use_bidirectional_attention: field.of(['bool', 'None'], null)
  },
  postInit (c) {
    if (c.layer_types === null) {
      const n = Math.max(0, Math.min(c.num_hidden_layers as number, 100_000))
      c.layer_types = Array.from({ length: n }, (_, i) => (i + 1) % 2 !== 0 ? 'sliding_attention' : 'full_attention')
    }
  },
  validators: {
    validate_architecture: headsDivideHidden
  }
}

export const defs = decoderFamily({
  prefix: 'Gemma2',
  pyModule: 'transformers.models.gemma2.modeling_gemma2',
  config: gemma2Config,
  attentionBias: (c) => ({ qkv: c.values.attention_bias === true, o: c.values.attention_bias === true }),
  mlpBias: () => false,
  gemma: true
})
