// transformers/models/mixtral: MixtralConfig, and MixtralModel / MixtralForCausalLM, whose MLP is a
// sparse mixture of experts with every expert's weights fused in two tensors (transformers 5).
import { field, type ConfigDef } from './config.js'
import { decoderFamily } from './decoder.js'
import { mistralFields } from './mistral.js'

export const mixtralConfig: ConfigDef = {
  name: 'MixtralConfig',
  qualname: 'transformers.MixtralConfig',
  modelType: 'mixtral',
  defaultTheta: 1000000,
  doc: 'Configuration of a Mixtral model (defaults: Mixtral-8x7B): num_local_experts experts of intermediate_size each, ' +
    'num_experts_per_tok routed per token.',
  fields: {
    ...mistralFields(1e-5),
    sliding_window: field.optInt(null),
    attention_dropout: field.dropout(),
    num_experts_per_tok: field.int(2),
    num_local_experts: field.int(8),
    output_router_logits: field.bool(false),
    router_aux_loss_coef: field.float(0.001),
    router_jitter_noise: field.float(0),
    rope_parameters: field.rope()
  },
  postInit (c) {
    if (c.num_key_value_heads === null) c.num_key_value_heads = c.num_attention_heads
  }
}

export const defs = decoderFamily({
  prefix: 'Mixtral',
  pyModule: 'transformers.models.mixtral.modeling_mixtral',
  config: mixtralConfig,
  attentionBias: () => ({ qkv: false, o: false }),
  mlpBias: () => false,
  headDimOr: true,
  moe: { experts: 'num_local_experts', intermediate: 'intermediate_size', expertsFirst: false, sparse: () => true }
})
