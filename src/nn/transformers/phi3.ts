// transformers/models/phi3: Phi3Config, and Phi3Model / Phi3ForCausalLM: one qkv_proj and one
// gate_up_proj per layer, partial rotary embeddings and LongRoPE (short_factor at construction).
import { field, type ConfigDef } from './config.js'
import { decoderFamily } from './decoder.js'

export const phi3Config: ConfigDef = {
  name: 'Phi3Config',
  qualname: 'transformers.Phi3Config',
  modelType: 'phi3',
  doc: 'Configuration of a Phi-3 model (defaults: Phi-3-mini-4k). rope_parameters always holds partial_rotary_factor (1.0); ' +
    '"su" and "yarn" rope types are read as "longrope", whose original_max_position_embeddings is the config field.',
  fields: {
    vocab_size: field.int(32064),
    hidden_size: field.int(3072),
    intermediate_size: field.int(8192),
    num_hidden_layers: field.int(32),
    num_attention_heads: field.int(32),
    num_key_value_heads: field.optInt(null),
    resid_pdrop: field.dropout(),
    embd_pdrop: field.dropout(),
    attention_dropout: field.dropout(),
    hidden_act: field.str('silu'),
    max_position_embeddings: field.int(4096),
    original_max_position_embeddings: field.int(4096),
    initializer_range: field.float(0.02),
    rms_norm_eps: field.float(1e-5),
    use_cache: field.bool(true),
    tie_word_embeddings: field.bool(false),
    rope_parameters: field.rope(),
    bos_token_id: field.optInt(1),
    eos_token_id: field.tokenIds(32000),
    pad_token_id: field.optInt(32000),
    sliding_window: field.optInt(null)
  },
  postInit (c) {
    if (c.num_key_value_heads === null) c.num_key_value_heads = c.num_attention_heads
  },
  rope: { always: { partial_rotary_factor: 1 }, renames: { su: 'longrope', yarn: 'longrope' } },
  validators: {
    validate_rope (c) {
      const p = c.rope_parameters as Record<string, unknown>
      const type = p.rope_type
      if (type !== 'default' && type !== 'longrope') return `\`rope_parameters\`'s type field must be one of ['longrope'], got ${String(type)}`
      const rotary = Math.trunc(Math.floor((c.hidden_size as number) / (c.num_attention_heads as number)) * (p.partial_rotary_factor as number))
      for (const key of ['short_factor', 'long_factor']) {
        const f = p[key]
        if (f === undefined || f === null) continue
        if (!Array.isArray(f) || !f.every((x) => typeof x === 'number')) return `\`rope_parameters\`'s ${key} field must be a list of numbers, got ${JSON.stringify(f)}`
        if (f.length !== Math.floor(rotary / 2)) return `\`rope_parameters\`'s ${key} field must have length ${Math.floor(rotary / 2)}, got ${f.length}`
      }
      return undefined
    }
  }
}

export const defs = decoderFamily({
  prefix: 'Phi3',
  pyModule: 'transformers.models.phi3.modeling_phi3',
  config: phi3Config,
  attentionBias: () => ({ qkv: false, o: false }),
  mlpBias: () => false,
  fused: { dropout: 'resid_pdrop' }
})
