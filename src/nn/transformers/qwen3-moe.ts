// transformers/models/qwen3_moe: Qwen3MoeConfig, and Qwen3MoeModel / Qwen3MoeForCausalLM: Qwen3's
// attention (q_norm, k_norm) with a sparse mixture of experts every decoder_sparse_step layers
// (none in mlp_only_layers), experts fused in two tensors and registered before the router.
import { argError } from '../bind-args.js'
import { field, type ConfigDef } from './config.js'
import { decoderFamily } from './decoder.js'

export const qwen3MoeConfig: ConfigDef = {
  name: 'Qwen3MoeConfig',
  qualname: 'transformers.Qwen3MoeConfig',
  modelType: 'qwen3_moe',
  // transformers' attribute_map stores num_experts as num_local_experts, the key its config.json
  // carries (save-pretrained.ts): read back, that key sets num_experts
  attributeMap: { num_local_experts: 'num_experts' },
  doc: 'Configuration of a Qwen3-MoE model (defaults: Qwen3-15B-A2B): num_experts experts of moe_intermediate_size; ' +
    'dense layers (mlp_only_layers, or off the decoder_sparse_step) use intermediate_size. No head_dim field: a head_dim key is kept and used.',
  fields: {
    vocab_size: field.int(151936),
    hidden_size: field.int(2048),
    intermediate_size: field.int(6144),
    num_hidden_layers: field.int(24),
    num_attention_heads: field.int(32),
    num_key_value_heads: field.int(4),
    hidden_act: field.str('silu'),
    max_position_embeddings: field.int(32768),
    initializer_range: field.float(0.02),
    rms_norm_eps: field.float(1e-6),
    use_cache: field.bool(true),
    tie_word_embeddings: field.bool(false),
    rope_parameters: field.rope(),
    attention_bias: field.bool(false),
    use_sliding_window: field.bool(false),
    sliding_window: field.optInt(4096),
    attention_dropout: field.dropout(),
    decoder_sparse_step: field.int(1),
    moe_intermediate_size: field.int(768),
    num_experts_per_tok: field.int(8),
    num_experts: field.int(128),
    norm_topk_prob: field.bool(false),
    output_router_logits: field.bool(false),
    router_aux_loss_coef: field.float(0.001),
    mlp_only_layers: field.of(['list[int]', 'None'], null),
    pad_token_id: field.optInt(null),
    bos_token_id: field.optInt(null),
    eos_token_id: field.tokenIds(null)
  },
  postInit (c) {
    c.sliding_window = c.use_sliding_window === true ? c.sliding_window : null
    if (c.mlp_only_layers === null) c.mlp_only_layers = []
  }
}

export const defs = decoderFamily({
  prefix: 'Qwen3Moe',
  pyModule: 'transformers.models.qwen3_moe.modeling_qwen3_moe',
  config: qwen3MoeConfig,
  attentionBias: (c) => ({ qkv: c.values.attention_bias === true, o: c.values.attention_bias === true }),
  mlpBias: () => false,
  qkNorm: true,
  moe: {
    experts: 'num_experts',
    intermediate: 'moe_intermediate_size',
    expertsFirst: true,
    sparse: (c, i) => {
      const only = c.values.mlp_only_layers as unknown[]
      const n = c.values.num_experts as number
      const step = c.values.decoder_sparse_step as number
      if (only.includes(i) || n <= 0) return false
      if (step === 0) argError('integer modulo by zero')
      return (i + 1) % step === 0
    }
  }
})
