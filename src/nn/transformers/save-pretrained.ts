// The JSON files `model.save_pretrained(dir)` writes in transformers 5.18 (docs/hub.md):
// config.json is `config.to_json_string()` (PreTrainedConfig.to_diff_dict) after save_pretrained set
// `architectures` and `dtype`, and generation_config.json, written for models that can generate, is
// `GenerationConfig.from_model_config(config).to_json_string()`. Both are `json.dumps(d, indent=2,
// sort_keys=True) + "\n"` (src/serialize/python-json.ts).
//
// JSON does not tell `0.0` from `0`; Python does, and writes what it read. A number is written as the
// type its annotation declares (a `float` field as a float, RopeParameters' float keys as floats), which
// is what a config.json written by transformers holds; a kept unknown key is an int when it is integral.
import { materiaError } from '../../errors.js'
import { PyFloat, PyIntKeyed, pyJsonDumps, type PyJson } from '../../serialize/python-json.js'
import type { ModuleNode } from '../define.js'
import { BASE_FIELDS, configFields, constructConfig, isConfigValue, type ConfigDef, type ConfigField, type ConfigValue, type ConfigValues } from './config.js'

/** The transformers release whose files these are (config.json's transformers_version). */
export const TRANSFORMERS_VERSION = '5.18.0'

// PreTrainedConfig().to_dict(): the defaults to_diff_dict leaves out
const BASE_DEFAULTS: Readonly<ConfigValues> = {
  ...Object.fromEntries(Object.entries(BASE_FIELDS).map(([k, f]) => [k, f.default])),
  id2label: { 0: 'LABEL_0', 1: 'LABEL_1' },
  label2id: { LABEL_0: 0, LABEL_1: 1 },
  _name_or_path: '',
  model_type: '',
  output_attentions: false
}

// PreTrainedConfig._remove_keys_not_serialized, and _name_or_path, which to_diff_dict drops
const NOT_SERIALIZED = ['_is_quantized', '_auto_class', '_commit_hash', '_attn_implementation_internal', '_experts_implementation_internal',
  'ignore_keys_at_rope_validation', 'base_model_tp_plan', 'base_model_pp_plan', 'base_model_fsdp_plan', 'distributed_config', '_name_or_path']

// modeling_rope_utils.RopeParameters: the annotated type of each key
const ROPE_FLOAT_KEYS = new Set(['rope_theta', 'partial_rotary_factor', 'factor', 'attention_factor', 'beta_fast', 'beta_slow',
  'short_factor', 'long_factor', 'low_freq_factor', 'high_freq_factor'])

// GenerationConfig().to_dict() keys (5.18), all None by default: from_model_config copies the model
// config's non-None values of these
const GENERATION_KEYS = ['max_length', 'max_new_tokens', 'min_length', 'min_new_tokens', 'early_stopping', 'max_time', 'stop_strings',
  'do_sample', 'num_beams', 'use_mtp', 'use_cache', 'cache_implementation', 'cache_config', 'max_cache_len', 'temperature', 'top_k', 'top_p',
  'min_p', 'top_h', 'typical_p', 'epsilon_cutoff', 'eta_cutoff', 'repetition_penalty', 'encoder_repetition_penalty', 'length_penalty',
  'no_repeat_ngram_size', 'bad_words_ids', 'renormalize_logits', 'forced_bos_token_id', 'forced_eos_token_id', 'remove_invalid_values',
  'exponential_decay_length_penalty', 'suppress_tokens', 'begin_suppress_tokens', 'sequence_bias', 'token_healing', 'guidance_scale',
  'watermarking_config', 'num_return_sequences', 'output_attentions', 'output_hidden_states', 'output_scores', 'output_logits',
  'return_dict_in_generate', 'pad_token_id', 'bos_token_id', 'eos_token_id', 'encoder_no_repeat_ngram_size', 'decoder_start_token_id',
  'is_assistant', 'num_assistant_tokens', 'num_assistant_tokens_schedule', 'assistant_confidence_threshold', 'prompt_lookup_num_tokens',
  'max_matching_ngram_size', 'assistant_early_exit', 'assistant_lookbehind', 'target_lookbehind', 'assistant_ensemble_weight',
  'speculation_type', 'compile_config', 'disable_compile', 'continuous_batching_config', 'low_memory', 'penalty_alpha', 'dola_layers',
  'diversity_penalty', 'num_beam_groups', 'constraints', 'force_words_ids', 'prefill_chunk_size']
const EXTRA_OUTPUT_FLAGS = ['output_attentions', 'output_hidden_states', 'output_scores', 'output_logits']

/** A transformers model's class and config, or the reason it has no save_pretrained files. */
export interface PretrainedModel {
  /** 'LlamaForCausalLM' (config.json's architectures) */
  readonly className: string
  readonly config: ConfigValue
  /** PreTrainedModel.can_generate(): the model has a generation head */
  readonly canGenerate: boolean
}

/** The model at the root of a module tree, if it is a transformers model whose save_pretrained files materia writes. */
export function pretrainedModel (root: ModuleNode): PretrainedModel {
  const config = root.bound.config
  if (!root.qualname.startsWith('transformers.') || !isConfigValue(config)) {
    throw materiaError('pretrainedNotTransformers', { qualname: root.qualname })
  }
  // transformers 5 saves fused expert tensors under their per-expert 4.x names (revert_weight_conversion)
  if (root.qualname.includes('Mixtral') || root.qualname.includes('Moe')) throw materiaError('pretrainedMoe', { qualname: root.qualname })
  return { className: root.name, config, canGenerate: /(?:ForCausalLM|LMHeadModel)$/.test(root.name) }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** `v` as Python holds it: numbers as the type `asFloat` says (else int when integral). */
function typed (v: unknown, asFloat: (key: string | undefined) => boolean, key?: string): PyJson {
  if (typeof v === 'number') return asFloat(key) || !Number.isInteger(v) ? new PyFloat(v) : v
  if (Array.isArray(v)) return v.map((x) => typed(x, asFloat, key))
  if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, typed(x, asFloat, k)]))
  return v as PyJson
}

function fieldIsFloat (f: ConfigField | undefined): boolean {
  return f?.types.includes('float') === true
}

/** One attribute's value as Python's to_dict holds it. */
function pyValue (key: string, value: unknown, fields: ReadonlyMap<string, ConfigField>): PyJson {
  if (key === 'id2label' && isObject(value)) return new PyIntKeyed(value as Record<string, string>)
  if (key === 'rope_parameters') return typed(value, (k) => k !== undefined && ROPE_FLOAT_KEYS.has(k))
  const f = fields.get(key)
  return typed(value, () => fieldIsFloat(f))
}

// Python's == on JSON values (1 == 1.0; dict order ignored)
function pyEqual (a: unknown, b: unknown): boolean {
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => pyEqual(x, b[i]))
  if (isObject(a)) {
    if (!isObject(b)) return false
    const ka = Object.keys(a)
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && pyEqual(a[k], b[k]))
  }
  return a === b
}

const classDefaults = new WeakMap<ConfigDef, Readonly<ConfigValues>>()

function defaultsOf (def: ConfigDef): Readonly<ConfigValues> {
  let d = classDefaults.get(def)
  if (d === undefined) {
    d = constructConfig(def, {}).values
    classDefaults.set(def, d)
  }
  return d
}

/** config.to_dict() after save_pretrained set architectures and dtype: every attribute. */
function configDict (model: PretrainedModel, dtype: string): ConfigValues {
  const { def, values } = model.config
  return {
    output_attentions: false,
    ...values,
    architectures: [model.className],
    dtype,
    model_type: def.modelType,
    transformers_version: TRANSFORMERS_VERSION
  }
}

/** config.json as `model.save_pretrained` writes it for a model whose parameters are `dtype` ('float32'). */
export function configJson (model: PretrainedModel, dtype: string): string {
  const { def } = model.config
  const all = configDict(model, dtype)
  const classDefault = defaultsOf(def)
  const fields = new Map(configFields(def))
  const out: Record<string, PyJson> = {}
  // PreTrainedConfig.to_diff_dict
  for (const [key, value] of Object.entries(all)) {
    if (NOT_SERIALIZED.includes(key)) continue
    const keep = !Object.hasOwn(BASE_DEFAULTS, key) || key === 'transformers_version' ||
      !pyEqual(value, BASE_DEFAULTS[key]) || (Object.hasOwn(classDefault, key) && !pyEqual(value, classDefault[key]))
    if (keep) out[key] = pyValue(key, value, fields)
  }
  return pyJsonDumps(out)
}

/** generation_config.json as `model.save_pretrained` writes it, or undefined when the model cannot generate. */
export function generationConfigJson (model: PretrainedModel, dtype: string): string | undefined {
  if (!model.canGenerate) return undefined
  const all = configDict(model, dtype)
  const fields = new Map(configFields(model.config.def))
  // GenerationConfig.from_model_config, then to_diff_dict against GenerationConfig() (all None)
  const out: Record<string, PyJson> = { _from_model_config: true, transformers_version: TRANSFORMERS_VERSION }
  for (const key of GENERATION_KEYS) {
    const v = all[key]
    if (v !== null && v !== undefined) out[key] = pyValue(key, v, fields)
  }
  if (out.return_dict_in_generate !== true && EXTRA_OUTPUT_FLAGS.some((k) => out[k] === true)) out.return_dict_in_generate = true
  return pyJsonDumps(out)
}
