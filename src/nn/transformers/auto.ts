// The `{"config": {…config.json…}}` form: AutoConfig.for_model(**config), then the class named by
// architectures[0] (else the causal-LM class of the model_type), built the way
// AutoModelForCausalLM.from_config builds it: under the config's dtype as the default dtype.
import { materiaError } from '../../errors.js'
import { type DType } from '../../tensor/dtype.js'
import { argError } from '../bind-args.js'
import { configDtype, type ConfigDef, constructConfig } from './config.js'
import { CONFIG_DEFS, TRANSFORMERS_MODULE_DEFS } from './index.js'

export interface ExpandedConfig {
  /** the equivalent class-form spec */
  readonly spec: { class: string, args: [{ class: string, kwargs: Record<string, unknown> }] }
  /** torch.get_default_dtype() while building */
  readonly defaultDtype: DType | null
}

const byModelType = new Map(CONFIG_DEFS.map((c) => [c.modelType, c]))

// model types transformers knows and materia does not build, with what to send instead
const NOT_BUILT: Readonly<Record<string, string>> = {
  gemma3: "model_type 'gemma3' is Gemma3Config, the image-and-text model (Gemma3ForConditionalGeneration, with a SigLIP vision tower), " +
    "which materia does not build; its text_config (model_type 'gemma3_text') builds Gemma3ForCausalLM"
}

function modelClassOf (c: ConfigDef, architectures: unknown): string {
  if (Array.isArray(architectures) && typeof architectures[0] === 'string') {
    const a = architectures[0]
    return a.startsWith('transformers.') ? a : `transformers.${a}`
  }
  if (c.causalLm === null) {
    // AutoModelForCausalLM has no class for an encoder-decoder such as T5
    return argError(`Unrecognized configuration class <class '${c.pyModule ?? 'transformers'}.${c.name}'> for this kind of AutoModel: ` +
      `AutoModelForCausalLM. Name the class in 'architectures' (${modelNamesOf(c).join(', ')})`)
  }
  return `transformers.${c.causalLm ?? `${c.name.replace(/Config$/, '')}ForCausalLM`}`
}

/** The top-level classes (transformers.X) that take this config class. */
function modelNamesOf (c: ConfigDef): string[] {
  return TRANSFORMERS_MODULE_DEFS.filter((d) => d.qualname === `transformers.${d.name}` &&
    Object.values(d.signature as Record<string, { type: string }>).some((p) => p.type === c.name)).map((d) => d.name)
}

export function expandConfigSpec (raw: Record<string, unknown>): ExpandedConfig {
  for (const k of Object.keys(raw)) if (k !== 'config') throw materiaError('specUnknownKey', { key: k })
  const config = raw.config
  if (typeof config !== 'object' || config === null || Array.isArray(config)) return argError("'config' must be an object (a config.json)")
  const cfg = config as Record<string, unknown>
  const modelType = cfg.model_type
  if (modelType === undefined) argError("AutoConfig.for_model() missing 1 required positional argument: 'model_type'")
  const def = typeof modelType === 'string' ? byModelType.get(modelType) : undefined
  if (typeof modelType === 'string' && Object.hasOwn(NOT_BUILT, modelType)) argError(NOT_BUILT[modelType] as string)
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
