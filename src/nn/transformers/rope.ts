// Rotary position embeddings as transformers 5.18 sets them up (modeling_rope_utils.py): the
// config side (rope_scaling / rope_theta folded into rope_parameters, the required keys of each
// rope_type) and the model side, the float32 `inv_freq` buffer a XRotaryEmbedding registers.
// inv_freq is computed the way PyTorch evaluates those expressions on the CPU: every tensor
// operation rounds to float32 (Math.fround after an exact double operation of float32 values),
// and a Python scalar meeting a float32 tensor is itself rounded to float32 first.
import { argError, setOwn } from '../bind-args.js'
import { pyStrRepr, pyValueRepr } from '../py-repr.js'
import type { ConfigDef, ConfigValues } from './config.js'
import { torchPowScalarBase } from './sleef-powf.js'

/** RotaryEmbeddingConfigMixin.default_theta */
const DEFAULT_THETA = 10000

const f32 = Math.fround

/** convert_rope_params_to_dict + standardize_rope_params, on a config's values and its extra kwargs. */
export function standardizeRope (c: ConfigValues, extra: ConfigValues, def: Pick<ConfigDef, 'defaultTheta' | 'rope'>): void {
  if (def.rope?.nested !== undefined) {
    def.rope.nested(c, extra)
    const params = c.rope_parameters as ConfigValues
    for (const key of nestedRopeKeys(c)) {
      const p = params[key]
      if (p !== null && typeof p === 'object') standardizeOne(c, p as ConfigValues)
    }
    return
  }
  const scaling = extra.rope_scaling
  const truthy = (v: unknown): boolean => typeof v === 'object' && v !== null && Object.keys(v).length > 0
  const params: ConfigValues = { ...(truthy(scaling) ? scaling as ConfigValues : truthy(c.rope_parameters) ? c.rope_parameters as ConfigValues : {}) }
  const theta = Object.hasOwn(extra, 'rope_theta') ? extra.rope_theta : def.defaultTheta ?? DEFAULT_THETA
  const partial = extra.partial_rotary_factor
  if (!Object.hasOwn(params, 'rope_theta')) setOwn(params, 'rope_theta', theta)
  if (partial !== undefined && partial !== null && !Object.hasOwn(params, 'partial_rotary_factor')) setOwn(params, 'partial_rotary_factor', partial)
  for (const [k, v] of Object.entries(def.rope?.always ?? {})) if (!Object.hasOwn(params, k)) setOwn(params, k, v)
  standardizeOne(c, params)
  const renamed = def.rope?.renames?.[String(params.rope_type)]
  if (renamed !== undefined) params.rope_type = renamed
  c.rope_parameters = params
}

/** standardize_rope_params on one dict of parameters (the whole config's, or one layer type's). */
function standardizeOne (c: ConfigValues, params: ConfigValues): void {
  if (!Object.hasOwn(params, 'rope_type')) setOwn(params, 'rope_type', Object.hasOwn(params, 'type') ? params.type : 'default')
  if (['llama3', 'yarn', 'longrope'].includes(params.rope_type as string)) {
    // a config class with an original_max_position_embeddings field (Phi3) has it win
    if (Object.hasOwn(c, 'original_max_position_embeddings')) params.original_max_position_embeddings = c.original_max_position_embeddings
    else if (!Object.hasOwn(params, 'original_max_position_embeddings')) params.original_max_position_embeddings = c.max_position_embeddings
  }
}

/** nested_rope_parameter_keys: the keys of rope_parameters that are layer types the config declares. */
export function nestedRopeKeys (c: ConfigValues): string[] {
  const p = c.rope_parameters
  const labels = Array.isArray(c.layer_types) ? new Set(c.layer_types) : new Set()
  return typeof p === 'object' && p !== null ? Object.keys(p).filter((k) => labels.has(k)) : []
}

const REQUIRED: Readonly<Record<string, readonly string[]>> = {
  default: ['rope_type'],
  linear: ['rope_type', 'factor'],
  dynamic: ['rope_type', 'factor'],
  yarn: ['rope_type', 'factor', 'original_max_position_embeddings'],
  longrope: ['rope_type', 'short_factor', 'long_factor', 'original_max_position_embeddings'],
  llama3: ['rope_type', 'factor', 'original_max_position_embeddings', 'low_freq_factor', 'high_freq_factor', 'rope_theta']
}

/** The rope types materia computes inv_freq for. */
export const ROPE_TYPES = ['default', 'linear', 'dynamic', 'yarn', 'llama3', 'longrope'] as const

/** validate_rope: the required keys of each rope_type (a KeyError), and an even rotary dimension. */
export function validateRope (c: ConfigValues): void {
  const all = c.rope_parameters as ConfigValues
  if (all === null || typeof all !== 'object' || Object.keys(all).length === 0) return
  const nested = nestedRopeKeys(c)
  const byType: Array<[string, unknown]> = nested.length > 0 ? nested.map((k) => [k, all[k]]) : [['full_attention', all]]
  for (const [layerType, value] of byType) {
    if (value === null || typeof value !== 'object') continue
    const p = value as ConfigValues
    const type = String(p.rope_type)
    const required = REQUIRED[type]
    if (required !== undefined) {
      const missing = required.filter((k) => !Object.hasOwn(p, k)).sort()
      if (missing.length > 0) {
        // str(KeyError(text)) is repr(text)
        argError(pyStrRepr(`Missing required keys in \`rope_parameters\` for 'rope_type'='${type}': {${missing.map(pyStrRepr).join(', ')}}`))
      }
    }
    const headDim = c.head_dim
    const partial = typeof p.partial_rotary_factor === 'number' ? p.partial_rotary_factor : 1
    if (typeof headDim === 'number' && headDim > 4 && headDim % 2 === 1 && Math.trunc(headDim * partial) === headDim) {
      argError(`Class validation error for validator 'validate_rope':\n    ValueError: RoPE requires an even rotary dimension, but got \`head_dim\`=${headDim} with \`partial_rotary_factor\`=${pyValueRepr(partial)} for \`${layerType}\`.`)
    }
  }
}

/** What a rotary embedding reads from its config. */
export interface RopeInputs {
  readonly params: Readonly<ConfigValues>
  /** head_dim as the model computes it */
  readonly headDim: number
  readonly maxPositionEmbeddings: number
}

function num (p: Readonly<ConfigValues>, key: string): number {
  const v = p[key]
  if (typeof v !== 'number') return argError(`rope_parameters[${pyStrRepr(key)}] must be a number, got ${pyValueRepr(v)}`)
  return v
}

/** base ** (arange(0, dim, 2).float() / dim), then 1.0 / that: the default inverse frequencies. */
function baseFreqs (base: number, dim: number): Float64Array {
  const n = Math.ceil(dim / 2)
  const exps = Array.from({ length: n }, (_, i) => f32((2 * i) / dim))
  return Float64Array.from(torchPowScalarBase(base, exps))
}

const reciprocal = (xs: Float64Array): Float64Array => xs.map((x) => f32(1 / x))

/** The float32 values of inv_freq (and original_inv_freq, its clone) for a rope type. */
export function invFreq (r: RopeInputs): number[] {
  const p = r.params
  const type = String(p.rope_type)
  const partial = typeof p.partial_rotary_factor === 'number' ? p.partial_rotary_factor : 1
  const dim = Math.trunc(r.headDim * partial)
  let base = num(p, 'rope_theta')
  switch (type) {
    case 'default':
      return [...reciprocal(baseFreqs(base, dim))]
    case 'linear': {
      const factor = f32(num(p, 'factor'))
      return [...reciprocal(baseFreqs(base, dim)).map((x) => f32(x / factor))]
    }
    case 'dynamic': {
      // at construction seq_len is max_position_embeddings, so the NTK base is base * 1 ** (dim / (dim - 2))
      const factor = num(p, 'factor')
      const seq = r.maxPositionEmbeddings
      base = base * Math.pow((factor * seq / r.maxPositionEmbeddings) - (factor - 1), dim / (dim - 2))
      return [...reciprocal(baseFreqs(base, dim))]
    }
    case 'llama3': return llama3(p, base, dim)
    case 'longrope': {
      // at construction no sequence is longer than original_max_position_embeddings: short_factor
      const ext = p.short_factor
      if (!Array.isArray(ext) || ext.length < Math.ceil(dim / 2)) return argError(`short_factor must list ${Math.ceil(dim / 2)} numbers`)
      return [...baseFreqs(base, dim)].map((x, i) => f32(1 / f32(f32(ext[i] as number) * x)))
    }
    case 'yarn': return yarn(p, base, dim, r.maxPositionEmbeddings)
    default:
      return argError(`'${type}'`)
  }
}

function llama3 (p: Readonly<ConfigValues>, base: number, dim: number): number[] {
  const inv = reciprocal(baseFreqs(base, dim))
  const factor = num(p, 'factor')
  const low = num(p, 'low_freq_factor')
  const high = num(p, 'high_freq_factor')
  const old = num(p, 'original_max_position_embeddings')
  const lowWavelen = f32(old / low)
  const highWavelen = f32(old / high)
  const out: number[] = []
  for (const x of inv) {
    // 2 * pi / inv_freq is Tensor.__rtruediv__: reciprocal(), then a multiply
    const wavelen = f32(f32(1 / x) * f32(2 * Math.PI))
    let v = wavelen > lowWavelen ? f32(x / f32(factor)) : x
    const smooth = f32(f32(f32(f32(1 / wavelen) * f32(old)) - f32(low)) / f32(high - low))
    const smoothed = f32(f32(f32(f32(1 - smooth) * v) / f32(factor)) + f32(smooth * v))
    if (!(wavelen < highWavelen) && !(wavelen > lowWavelen)) v = smoothed
    out.push(v)
  }
  return out
}

function yarn (p: Readonly<ConfigValues>, base: number, dim: number, maxPositions: number): number[] {
  const old = num(p, 'original_max_position_embeddings')
  const factor = p.factor === null ? maxPositions / old : num(p, 'factor')
  const betaFast = typeof p.beta_fast === 'number' && p.beta_fast !== 0 ? p.beta_fast : 32
  const betaSlow = typeof p.beta_slow === 'number' && p.beta_slow !== 0 ? p.beta_slow : 1
  const correctionDim = (rot: number): number => (dim * Math.log(old / (rot * 2 * Math.PI))) / (2 * Math.log(base))
  const truncate = p.truncate === undefined ? true : Boolean(p.truncate)
  let lo = correctionDim(betaFast)
  let hi = correctionDim(betaSlow)
  if (truncate) { lo = Math.floor(lo); hi = Math.ceil(hi) }
  lo = Math.max(lo, 0)
  hi = Math.min(hi, dim - 1)
  if (lo === hi) hi += 0.001
  const pos = baseFreqs(base, dim)
  const out: number[] = []
  for (let i = 0; i < pos.length; i++) {
    const pf = pos[i] as number
    const extrapolation = f32(1 / pf)
    const interpolation = f32(1 / f32(f32(factor) * pf))
    const ramp = Math.min(Math.max(f32(f32(f32(i) - f32(lo)) / f32(hi - lo)), 0), 1)
    const extFactor = f32(1 - ramp)
    out.push(f32(f32(interpolation * f32(1 - extFactor)) + f32(extrapolation * extFactor)))
  }
  return out
}
