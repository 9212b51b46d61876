// transformers/models/qwen2 and qwen3: their configs, and Qwen2Model / Qwen2ForCausalLM,
// Qwen3Model / Qwen3ForCausalLM with their parts. Qwen2 has biases on q, k and v; Qwen3 has
// RMSNorms over head_dim on queries and keys and a head_dim field of its own.
import { field, type ConfigDef, type ConfigField, type ConfigValues } from './config.js'
import { decoderFamily } from './decoder.js'

const qwenFields = (extra: Record<string, ConfigField>): Record<string, ConfigField> => ({
  vocab_size: field.int(151936),
  hidden_size: field.int(4096),
  intermediate_size: field.int(22016),
  num_hidden_layers: field.int(32),
  num_attention_heads: field.int(32),
  num_key_value_heads: field.optInt(32),
  ...extra.head_dim !== undefined ? { head_dim: extra.head_dim } : {},
  hidden_act: field.str('silu'),
  max_position_embeddings: field.int(32768),
  initializer_range: field.float(0.02),
  rms_norm_eps: field.float(1e-6),
  use_cache: field.bool(true),
  tie_word_embeddings: field.bool(false),
  rope_parameters: field.rope(),
  ...extra.attention_bias !== undefined ? { attention_bias: extra.attention_bias } : {},
  use_sliding_window: field.bool(false),
  sliding_window: field.optInt(4096),
  max_window_layers: field.int(28),
  layer_types: field.of(['list', 'None'], null),
  attention_dropout: field.dropout(),
  pad_token_id: field.optInt(null),
  bos_token_id: field.optInt(null),
  eos_token_id: field.tokenIds(null)
})

/** sliding_window only with use_sliding_window; layer_types from max_window_layers. */
function qwenPostInit (c: ConfigValues): void {
  c.sliding_window = c.use_sliding_window === true ? c.sliding_window : null
  if (c.num_key_value_heads === null) c.num_key_value_heads = c.num_attention_heads
  if (c.layer_types === null) {
    const n = Math.max(0, Math.min(c.num_hidden_layers as number, 100_000))
    c.layer_types = Array.from({ length: n }, (_, i) =>
      c.sliding_window !== null && i >= (c.max_window_layers as number) ? 'sliding_attention' : 'full_attention')
  }
}

export const qwen2Config: ConfigDef = {
  name: 'Qwen2Config',
  qualname: 'transformers.Qwen2Config',
  modelType: 'qwen2',
  doc: 'Configuration of a Qwen2 model. sliding_window is None unless use_sliding_window; layer_types lists each layer\'s attention. ' +
    'No head_dim field: a head_dim key is kept and used.',
  fields: qwenFields({}),
  postInit: qwenPostInit
}

export const qwen3Config: ConfigDef = {
  name: 'Qwen3Config',
  qualname: 'transformers.Qwen3Config',
  modelType: 'qwen3',
  doc: 'Configuration of a Qwen3 model: head_dim is its own field (default 128), attention_bias applies to q, k, v and o.',
  fields: qwenFields({ head_dim: field.int(128), attention_bias: field.bool(false) }),
  postInit: qwenPostInit
}

export const defs = [
  ...decoderFamily({
    prefix: 'Qwen2',
    pyModule: 'transformers.models.qwen2.modeling_qwen2',
    config: qwen2Config,
    attentionBias: () => ({ qkv: true, o: false }),
    mlpBias: () => false
  }),
  ...decoderFamily({
    prefix: 'Qwen3',
    pyModule: 'transformers.models.qwen3.modeling_qwen3',
    config: qwen3Config,
    attentionBias: (c) => ({ qkv: c.values.attention_bias === true, o: c.values.attention_bias === true }),
    mlpBias: () => false,
    qkNorm: true
  })
]
