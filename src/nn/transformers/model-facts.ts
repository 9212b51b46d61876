// What memory estimates read from a transformers model class besides its tensors: the class's
// _no_split_modules (accelerate counts such a module as one layer) and, for decoders, the shape of
// the key/value cache DynamicCache keeps (docs/transformers.md, "Estimates").
import type { ConfigValue } from './config.js'

/** One decoder's cache: layers, key/value heads and head size, as its attention modules compute them. */
export interface CacheShape {
  readonly layers: number
  readonly kvHeads: number
  readonly headDim: number
}

export interface ModelFacts {
  /** the model's _no_split_modules (post_init() adds those of the PreTrainedModels inside it) */
  readonly noSplitModules: readonly string[]
  /** a decoder's cache shape; undefined for encoders and encoder-decoders, which materia gives no cache figure */
  readonly cache?: (c: ConfigValue) => CacheShape
}

const facts = new Map<string, ModelFacts>()

/** Called where each top-level class is defined. */
export function registerModelFacts (qualname: string, f: ModelFacts): void {
  facts.set(qualname, f)
}

/** The facts of a top-level transformers class ('transformers.LlamaForCausalLM'); undefined for torch.nn classes. */
export function modelFacts (qualname: string): ModelFacts | undefined {
  return facts.get(qualname)
}
