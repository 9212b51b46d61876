// Hugging Face configuration classes (transformers 5.18's PreTrainedConfig subclasses): one
// definition per class gives its fields in order with their types and defaults, what its
// __post_init__ derives, and its validators. Constructing one is `XConfig(**kwargs)`: missing
// fields take their defaults, unknown keys are kept as attributes (transformers sets them with
// setattr), and bad values fail with the texts huggingface_hub's @strict dataclasses raise.
// docs/transformers.md describes the classes and what the models built from them hold.
import { materiaError } from '../../errors.js'
import { parseDType, type DType } from '../../tensor/dtype.js'
import { argError, setOwn } from '../bind-args.js'
import { pyFloatRepr, pyStrRepr, pyTypeName, pyValueRepr } from '../py-repr.js'
import { standardizeRope, validateRope } from './rope.js'

/** One Python annotation member: `int`, `float`, `str`, `bool`, `None`, `list[int]`, `list`, `dict`, `RopeParameters`. */
export type FieldAtom = 'int' | 'float' | 'str' | 'bool' | 'None' | 'list[int]' | 'list' | 'dict' | 'RopeParameters'

export interface ConfigField {
  /** the annotation's members in order, e.g. ['int', 'None'] for `int | None` */
  readonly types: readonly FieldAtom[]
  readonly default: unknown
  /** huggingface_hub's interval(min, max) validator */
  readonly interval?: readonly [number, number]
}

const PY_CLASS: Record<FieldAtom, string> = {
  int: "<class 'int'>",
  float: "<class 'float'>",
  str: "<class 'str'>",
  bool: "<class 'bool'>",
  None: "<class 'NoneType'>",
  'list[int]': 'list[int]',
  list: "<class 'list'>",
  dict: "<class 'dict'>",
  RopeParameters: "<class 'transformers.modeling_rope_utils.RopeParameters'>"
}

const TYPE_TEXT: Record<FieldAtom, string> = {
  int: 'int', float: 'float', str: 'str', bool: 'bool', None: 'None', 'list[int]': 'list[int]', list: 'list', dict: 'dict', RopeParameters: 'RopeParameters'
}

/** Field builders, named after the annotations they stand for. */
export const field = {
  of: (types: readonly FieldAtom[], def: unknown, interval?: readonly [number, number]): ConfigField =>
    interval === undefined ? { types, default: def } : { types, default: def, interval },
  int: (def: number | null): ConfigField => ({ types: def === null ? ['int', 'None'] : ['int'], default: def }),
  optInt: (def: number | null): ConfigField => ({ types: ['int', 'None'], default: def }),
  float: (def: number): ConfigField => ({ types: ['float'], default: def }),
  bool: (def: boolean): ConfigField => ({ types: ['bool'], default: def }),
  str: (def: string): ConfigField => ({ types: ['str'], default: def }),
  /** `int | list[int] | None` (eos_token_id) */
  tokenIds: (def: number | null): ConfigField => ({ types: ['int', 'list[int]', 'None'], default: def }),
  rope: (): ConfigField => ({ types: ['RopeParameters', 'dict', 'None'], default: null }),
  dropout: (types: readonly FieldAtom[] = ['float', 'int']): ConfigField => ({ types, default: 0 })
}

/** The annotation as the catalog shows it: `int | None`. */
export function fieldType (f: ConfigField): string {
  return f.types.map((t) => TYPE_TEXT[t]).join(' | ')
}

/** Why `value` is not `atom`, as huggingface_hub words it; undefined when it is. */
function atomError (name: string, atom: FieldAtom, value: unknown): string | undefined {
  const got = `got ${pyTypeName(value)} (value: ${pyValueRepr(value)})`
  switch (atom) {
    case 'int': return typeof value === 'number' && Number.isInteger(value) ? undefined : `Field '${name}' expected int, ${got}`
    // JSON cannot tell 1.0 from 1, so an integral number is taken as the float it was probably written as
    case 'float': return typeof value === 'number' ? undefined : `Field '${name}' expected float, ${got}`
    case 'str': return typeof value === 'string' ? undefined : `Field '${name}' expected str, ${got}`
    case 'bool': return typeof value === 'boolean' ? undefined : `Field '${name}' expected bool, ${got}`
    case 'None': return value === null ? undefined : `Field '${name}' expected NoneType, ${got}`
    case 'list[int]':
    case 'list': return Array.isArray(value) ? undefined : `Field '${name}' expected a list, got ${pyTypeName(value)}`
    case 'dict': return isDict(value) ? undefined : `Field '${name}' expected dict, ${got}`
    case 'RopeParameters': return 'TypedDict does not support instance and class checks'
  }
}

function isDict (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !isConfigValue(v)
}

function fieldFailure (name: string, kind: 'TypeError' | 'ValueError', text: string): never {
  return argError(`Validation error for field '${name}':\n    ${kind}: ${text}`)
}

/** huggingface_hub's type check of one field (the union form lists every member's failure). */
function checkField (name: string, f: ConfigField, value: unknown): void {
  const errors = f.types.map((t) => atomError(name, t, value))
  if (errors.some((e) => e === undefined)) {
    if (f.interval !== undefined && typeof value === 'number') {
      const [lo, hi] = f.interval
      if (value < lo || value > hi) {
        fieldFailure(name, 'ValueError', `Value must be greater or equal to ${pyFloatRepr(lo)} and smaller or equal to ${pyFloatRepr(hi)}, got ${pyFloatRepr(value)}.`)
      }
    }
    return
  }
  if (f.types.length === 1) fieldFailure(name, 'TypeError', errors[0] as string)
  fieldFailure(name, 'TypeError', `Field '${name}' with value ${pyValueRepr(value)} doesn't match any type in (${f.types.map((t) => PY_CLASS[t]).join(', ')}). Errors: ${errors.join('; ')}`)
}

export type ConfigValues = Record<string, unknown>

export interface ConfigDef {
  /** 'LlamaConfig' */
  readonly name: string
  /** 'transformers.LlamaConfig' */
  readonly qualname: string
  /** config.json's model_type, 'llama' */
  readonly modelType: string
  /** the class AutoModelForCausalLM maps the model type to (default: the prefix + 'ForCausalLM'); null: none (T5) */
  readonly causalLm?: string | null
  /** Python module of the config class, for transformers' texts ('transformers.models.t5.configuration_t5') */
  readonly pyModule?: string
  /** rope_theta when the config gives none (RotaryEmbeddingConfigMixin.default_theta: 10000.0) */
  readonly defaultTheta?: number
  /** a class's own convert_rope_params_to_dict: keys it always sets, rope types it renames (Phi3) */
  readonly rope?: {
    readonly always?: Readonly<Record<string, unknown>>
    readonly renames?: Readonly<Record<string, string>>
    /** a class whose rope_parameters are nested by layer type (Gemma3): its convert_rope_params_to_dict */
    readonly nested?: (c: ConfigValues, extra: ConfigValues) => void
  }
  readonly doc: string
  /** the class's own fields after PreTrainedConfig's, in declaration order */
  readonly fields: Readonly<Record<string, ConfigField>>
  /** __post_init__ before PreTrainedConfig's (head_dim, num_key_value_heads, layer_types …) */
  readonly postInit?: (c: ConfigValues, extra: ConfigValues) => void
  /** attribute_map: a key set under another name (GPT2's hidden_size is n_embd) */
  readonly attributeMap?: Readonly<Record<string, string>>
  /** validate_architecture and other class validators: a message for a ValueError, else undefined */
  readonly validators?: Readonly<Record<string, (c: ConfigValues) => string | undefined>>
}

/** PreTrainedConfig's own dataclass fields, which every config has first. */
export const BASE_FIELDS: Readonly<Record<string, ConfigField>> = {
  transformers_version: field.of(['str', 'None'], null),
  architectures: field.of(['list', 'None'], null),
  output_hidden_states: field.of(['bool', 'None'], false),
  return_dict: field.of(['bool', 'None'], true),
  dtype: field.of(['str', 'None'], null),
  chunk_size_feed_forward: field.int(0),
  is_encoder_decoder: field.bool(false),
  id2label: field.of(['dict', 'None'], null),
  label2id: field.of(['dict', 'None'], null),
  problem_type: field.of(['str', 'None'], null)
}

const CONFIG_TAG = Symbol.for('materia.transformers.config')

/** A constructed configuration: the class and its attributes (fields, then kept unknown keys). */
export interface ConfigValue {
  readonly [CONFIG_TAG]: true
  readonly def: ConfigDef
  readonly values: Readonly<ConfigValues>
}

export function isConfigValue (v: unknown): v is ConfigValue {
  return typeof v === 'object' && v !== null && CONFIG_TAG in v
}

/** The defaults a class fills in, its fields in order (PreTrainedConfig's first), as the catalog lists them. */
export function configFields (def: ConfigDef): Array<[string, ConfigField]> {
  // a field the class declares again (T5's is_encoder_decoder) keeps its place and takes the new default, as in a dataclass
  const base = Object.entries(BASE_FIELDS).map(([n, f]): [string, ConfigField] => [n, def.fields[n] ?? f])
  return [...base, ...Object.entries(def.fields).filter(([n]) => !Object.hasOwn(BASE_FIELDS, n))]
}

// keys PreTrainedConfig.__post_init__ pops rather than keeps
const POPPED = new Set(['torch_dtype', 'rope_scaling', 'rope_theta', 'name_or_path', '_commit_hash', 'output_attentions',
  'attn_implementation', 'experts_implementation', 'num_labels'])

/** validate_architecture of Llama and Gemma2: the hidden size splits evenly into heads. */
export function headsDivideHidden (c: ConfigValues): string | undefined {
  return (c.hidden_size as number) % (c.num_attention_heads as number) !== 0
    ? `The hidden size (${String(c.hidden_size)}) is not a multiple of the number of attention heads (${String(c.num_attention_heads)}).`
    : undefined
}

/** Keys a config may have (real ones have under 100), checked before any work is done on it. */
export const CONFIG_MAX_KEYS = 1000

/** `XConfig(**kwargs)`. */
export function constructConfig (def: ConfigDef, kwargs: Readonly<Record<string, unknown>>): ConfigValue {
  const keys = Object.keys(kwargs).length
  if (keys > CONFIG_MAX_KEYS) argError(`${def.name} takes at most ${CONFIG_MAX_KEYS} keys; got ${keys}`)
  const c: ConfigValues = {}
  const extra: ConfigValues = {}
  const fields = configFields(def)
  const known = new Set(fields.map(([n]) => n))
  for (const [k, v] of Object.entries(kwargs)) if (!known.has(k)) setOwn(extra, k, v)
  for (const [name, f] of fields) {
    const value = Object.hasOwn(kwargs, name) ? kwargs[name] : structuredClone(f.default)
    checkField(name, f, value)
    c[name] = value
  }
  def.postInit?.(c, extra)
  // PreTrainedConfig.__post_init__: torch_dtype feeds dtype, labels, RoPE parameters, then the kept keys
  const torchDtype = extra.torch_dtype
  if (torchDtype !== undefined && torchDtype !== null && c.dtype === null) c.dtype = torchDtype
  if (c.id2label === null) {
    const n = typeof extra.num_labels === 'number' ? extra.num_labels : 2
    c.id2label = Object.fromEntries(Array.from({ length: Math.max(0, Math.min(n, 1000)) }, (_, i) => [String(i), `LABEL_${i}`]))
    c.label2id = Object.fromEntries(Object.entries(c.id2label as Record<string, string>).map(([k, v]) => [v, Number(k)]))
  }
  if (Object.hasOwn(def.fields, 'rope_parameters')) standardizeRope(c, extra, def)
  for (const [k, v] of Object.entries(extra)) {
    if (POPPED.has(k)) continue
    // setattr through attribute_map sets the field it names, unchecked (torch's own checks see the value)
    setOwn(c, def.attributeMap?.[k] ?? k, v)
  }
  // @strict's class validators run after __post_init__: validate_rope, then the class's own
  if (Object.hasOwn(def.fields, 'rope_parameters')) validateRope(c)
  for (const [name, check] of Object.entries(def.validators ?? {})) {
    const message = check(c)
    if (message !== undefined) argError(`Class validation error for validator '${name}':\n    ValueError: ${message}`)
  }
  return { [CONFIG_TAG]: true, def, values: c }
}

/** The torch dtype a config names (config.dtype, after torch_dtype), as from_config applies it; null: none. */
export function configDtype (c: ConfigValue): DType | null {
  const d = c.values.dtype
  if (d === null || d === undefined || d === 'auto') return null
  const parsed = parseDType(d)
  if (parsed === undefined) throw materiaError('constructorArgs', { message: `module 'torch' has no attribute ${pyStrRepr(String(d))}` })
  return parsed
}

/** An int attribute that build code reads (fields are type-checked; kept unknown keys are not). */
export function intAttr (c: ConfigValue, name: string): number {
  const v = c.values[name]
  if (typeof v === 'number' && Number.isInteger(v)) return v
  return argError(`'${c.def.name}' attribute '${name}' must be an int, not ${pyTypeName(v)}`)
}

/** PretrainedConfig.num_labels: len(id2label), which the config made from num_labels (default 2). */
export function numLabels (c: ConfigValue): number {
  const labels = c.values.id2label
  return labels !== null && typeof labels === 'object' ? Object.keys(labels).length : 0
}

/** getattr(config, name, default) */
export function attr (c: ConfigValue, name: string, def?: unknown): unknown {
  return Object.hasOwn(c.values, name) ? c.values[name] : def
}
