// The `{"config": {…config.json…}}` form: AutoConfig.for_model(**config), then the class named by
// architectures[0] (else the causal-LM class of the model_type), built the way
// AutoModelForCausalLM.from_config builds it: under the config's dtype as the default dtype.
import { materiaError } from '../../errors.js'
import { type DType } from '../../tensor/dtype.js'
import { argError } from '../bind-args.js'
import { configDtype, type ConfigDef, constructConfig } from './config.js'
import { CONFIG_DEFS } from './index.js'

export interface ExpandedConfig {
  /** the equivalent class-form spec */
  readonly spec: { class: string, args: [{ class: string, kwargs: Record<string, unknown> }] }
  /** torch.get_default_dtype() while building */
  readonly defaultDtype: DType | null
}

const byModelType = new Map(CONFIG_DEFS.map((c) => [c.modelType, c]))

function modelClassOf (c: ConfigDef, architectures: unknown): string {
  if (Array.isArray(architectures) && typeof architectures[0] === 'string') {
    const a = architectures[0]
    return a.startsWith('transformers.') ? a : `transformers.${a}`
  }
  return `transformers.${c.causalLm ?? `${c.name.replace(/Config$/, '')}ForCausalLM`}`
}

export function expandConfigSpec (raw: Record<string, unknown>): ExpandedConfig {
  for (const k of Object.keys(raw)) if (k !== 'config') throw materiaError('specUnknownKey', { key: k })
  const config = raw.config
  if (typeof config !== 'object' || config === null || Array.isArray(config)) return argError("'config' must be an object (a config.json)")
  const cfg = config as Record<string, unknown>
  const modelType = cfg.model_type
  if (modelType === undefined) argError("AutoConfig.for_model() missing 1 required positional argument: 'model_type'")
  const def = typeof modelType === 'string' ? byModelType.get(modelType) : undefined
  if (def === undefined) {
    argError(`Unrecognized model identifier: ${String(modelType)}. Should contain one of ${CONFIG_DEFS.map((c) => c.modelType).join(', ')}`)
  }
  const { model_type: _mt, ...kwargs } = cfg
  const dtype = configDtype(constructConfig(def, kwargs))
  return {
    spec: { class: modelClassOf(def, cfg.architectures), args: [{ class: def.qualname, kwargs }] },
    defaultDtype: dtype
  }
}
