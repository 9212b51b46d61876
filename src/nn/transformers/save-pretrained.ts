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
import type { DType } from '../../tensor/dtype.js'
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
  return { className: root.name, config, canGenerate: /(?:ForCausalLM|LMHeadModel)$/.test(root.name) }
}

/** A tensor as save_pretrained writes it: its name in the file, and where its bytes are in a state_dict tensor. */
export interface SavedTensor {
  readonly name: string
  readonly dtype: DType
  readonly shape: readonly number[]
  readonly nbytes: number
  /** the state_dict tensor holding the bytes, and the first of them */
  readonly source: string
  readonly byteOffset: number
  /**
   * The storage it is a view of, when save_pretrained's tensors share one: the E slices of a fused
   * `down_proj` share its storage, and the `gate` and the `up` halves of `gate_up_proj` each share one
   * of their own (they land in shards apart in transformers' output).
   */
  readonly storage?: string
}

// transformers' conversion_mapping.py: the models whose fused expert tensors save_pretrained splits
// back into the per-expert tensors of their checkpoints (revert_weight_conversion), and the names
// (gate half, up half, down) each family gives an expert's weights
const EXPERT_NAMES: Readonly<Record<string, { block: string, gate: string, up: string, down: string }>> = {
  mixtral: { block: 'block_sparse_moe', gate: 'w1', up: 'w3', down: 'w2' },
  qwen3_moe: { block: 'mlp', gate: 'gate_proj', up: 'up_proj', down: 'down_proj' }
}

// core_model_loading.dot_natural_key: dot-separated parts, numbers before words, a word's trailing digits as a number
type NaturalPart = readonly [0, number] | readonly [1, string, number?]
function naturalKey (name: string): NaturalPart[] {
  return name.split('.').map((part) => {
    if (/^[0-9]+$/.test(part)) return [0, Number(part)] as const
    const text = part.replace(/[0-9]+$/, '')
    return text.length < part.length ? [1, text, Number(part.slice(text.length))] as const : [1, text] as const
  })
}

// Python's ordering of those lists of tuples (a tuple that is a prefix of another sorts first)
function compareNatural (a: readonly NaturalPart[], b: readonly NaturalPart[]): number {
  const cmp = (x: unknown, y: unknown): number => x === y ? 0 : x === undefined ? -1 : y === undefined ? 1 : (x as number | string) < (y as number | string) ? -1 : 1
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const [x, y] = [a[i] as NaturalPart, b[i] as NaturalPart]
    for (let j = 0; j < Math.max(x.length, y.length); j++) {
      const c = cmp(x[j], y[j])
      if (c !== 0) return c
    }
  }
  return a.length - b.length
}

/**
 * The tensors save_pretrained writes, in its order, from the state_dict tensors it writes (tied aliases
 * already left out). Most models write them as they are. A mixture of experts goes through
 * revert_weight_conversion: every name in dot_natural_key order, `experts.down_proj` (E, h, i) split
 * into E `down` tensors, `experts.gate_up_proj` (E, 2i, h) into E `gate` halves then E `up` halves
 * (each a contiguous run of the fused tensor's bytes), and Mixtral's `.mlp.` renamed `.block_sparse_moe.`.
 */
export function savedTensors (model: PretrainedModel, tensors: ReadonlyArray<{ name: string, dtype: DType, shape: readonly number[], nbytes: number }>): SavedTensor[] {
  const experts = EXPERT_NAMES[model.config.def.modelType]
  if (experts === undefined) return tensors.map((t) => ({ ...t, source: t.name, byteOffset: 0 }))
  const keyed = tensors.map((t) => ({ t, key: naturalKey(t.name) })).sort((a, b) => compareNatural(a.key, b.key))
  const out: SavedTensor[] = []
  for (const { t } of keyed) {
    const fused = /^(.*\.)mlp\.experts\.(down_proj|gate_up_proj)$/.exec(t.name)
    if (fused === null) {
      out.push({ ...t, name: experts.block === 'mlp' ? t.name : t.name.replaceAll('.mlp.', `.${experts.block}.`), source: t.name, byteOffset: 0 })
      continue
    }
    const [, base, which] = fused as unknown as [string, string, string]
    const [e, rows, cols] = t.shape as [number, number, number]
    const each = t.nbytes / e
    const named = (i: number, w: string): string => `${base}${experts.block}.experts.${i}.${w}.weight`
    if (which === 'down_proj') {
      for (let i = 0; i < e; i++) out.push({ name: named(i, experts.down), dtype: t.dtype, shape: [rows, cols], nbytes: each, source: t.name, byteOffset: i * each, storage: t.name })
    } else {
      for (const [half, w] of [[0, experts.gate], [1, experts.up]] as const) {
        for (let i = 0; i < e; i++) {
          out.push({ name: named(i, w), dtype: t.dtype, shape: [rows / 2, cols], nbytes: each / 2, source: t.name, byteOffset: i * each + half * (each / 2), storage: `${t.name}:${w}` })
        }
      }
    }
  }
  return out
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
    const renames = STORED_AS[def.modelType] ?? {}
    d = Object.fromEntries(Object.entries(constructConfig(def, {}).values).map(([k, v]) => [renames[k] ?? k, v]))
    classDefaults.set(def, d)
  }
  return d
}

// A class whose attribute_map names one of its own dataclass fields: setattr stores the field under the
// mapped name, so to_dict writes that name (Qwen3MoeConfig.attribute_map = {"num_experts": "num_local_experts"})
const STORED_AS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  qwen3_moe: { num_experts: 'num_local_experts' }
}

/** config.to_dict() after save_pretrained set architectures and dtype: every attribute. */
function configDict (model: PretrainedModel, dtype: string): ConfigValues {
  const { def } = model.config
  const renames = STORED_AS[def.modelType] ?? {}
  const values = Object.fromEntries(Object.entries(model.config.values).map(([k, v]) => [renames[k] ?? k, v]))
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
