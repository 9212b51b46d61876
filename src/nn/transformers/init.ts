// transformers' weight init, as a PreTrainedModel class's ModuleInit (docs/transformers.md "Seeded
// init"). Every PreTrainedModel's __init__ ends in post_init() → init_weights(), which runs
// initialize_weights(): smart_apply walks the tree children first (post-order, registration order)
// and calls _initialize_weights(module), which skips a module whose _is_hf_initialized flag is set,
// else runs the model's _init_weights(module) and sets the flag. tie_weights() follows (the class's
// `ties`, applied by the replay after this init). A model nested in another (LlamaModel in
// LlamaForCausalLM) ran its own post_init at the end of its __init__, so the outer walk finds its
// modules flagged and only initializes what the outer class added (lm_head).
// https://github.com/huggingface/transformers/blob/v5.18.0/src/transformers/modeling_utils.py
import type { InitRecorder, Storage } from '../../init/init-recorder.js'
import type { Instance } from '../../init/module-instance.js'
import type { ModuleInit } from '../define.js'
import { attr, type ConfigValue } from './config.js'

/**
 * What a model's own _init_weights adds after `super()._init_weights(module)` (PreTrainedModel's):
 * it gets the module, its config and torch.nn.init over storages.
 */
export type InitWeightsExtra = (module: Instance, config: ConfigValue, init: InitRecorder) => void

/** Modules whose _initialize_weights has run (the `_is_hf_initialized` flag of one replay's instances). */
const flagged = new WeakSet<Instance>()

/** isinstance(module, nn.Embedding): torch's class and transformers' subclasses of it. */
const isEmbedding = (name: string): boolean => name === 'Embedding' || name.endsWith('TextScaledWordEmbedding')

/** The config's initializer_range, as the model's own _init_weights reads it (self.config.initializer_range). */
export function initializerRange (config: ConfigValue): number {
  return attr(config, 'initializer_range', 0.02) as number
}

/** init.normal_(t, mean=0.0, std=std) on a tensor the module may not have (bias=False). */
export function normalOf (init: InitRecorder, s: Storage | undefined, std: number, what: string): void {
  if (s !== undefined) init.normal(s, 0, std, `normal_(std=${std}) on ${what}`)
}

/** init.zeros_ / init.ones_ on a tensor the module may not have. */
export function constOf (init: InitRecorder, s: Storage | undefined, value: number): void {
  if (s !== undefined) init.constant(s, value)
}

/** PreTrainedModel._init_weights(module) for the classes these models hold. */
function baseInitWeights (m: Instance, config: ConfigValue, init: InitRecorder): void {
  // `self.config.initializer_range or 0.02`: a range of 0 draws with 0.02
  const std = initializerRange(config) || 0.02
  if (m.name === 'Linear') {
    normalOf(init, m.own('weight'), std, `${m.name}.weight`)
    constOf(init, m.own('bias'), 0)
  } else if (isEmbedding(m.name)) {
    const weight = m.tensor('weight')
    normalOf(init, weight, std, `${m.name}.weight`)
    const p = m.args.padding_idx
    // nn.Embedding keeps a negative padding_idx as num_embeddings + padding_idx
    if (typeof p === 'number') init.fillRow(weight, p < 0 ? (weight.shape[0] as number) + p : p, 0)
  } else if (m.name.includes('LayerNorm') || m.name.includes('RMSNorm')) {
    constOf(init, m.own('weight'), 1)
    constOf(init, m.own('bias'), 0)
  }
  // *RotaryEmbedding: inv_freq and original_inv_freq are copied from the rope function again, the
  // values their constructor computed
}

/**
 * The ModuleInit of a PreTrainedModel class (XModel, XForCausalLM): its post_init's
 * initialize_weights over the module's tree, with the model's own `_init_weights` additions.
 */
export function pretrainedInit (doc: string, extra?: InitWeightsExtra): ModuleInit<{ config: ConfigValue }> {
  return {
    doc,
    reset (a, root, init) {
      const visit = (m: Instance): void => {
        for (const [, c] of m.children) if (c !== null) visit(c)
        if (flagged.has(m)) return
        baseInitWeights(m, a.config, init)
        extra?.(m, a.config, init)
        flagged.add(m)
      }
      visit(root)
    }
  }
}

/** The catalog's words for PreTrainedModel._init_weights. */
export const INIT_WEIGHTS_DOC = 'constructor init, then _init_weights over the tree: Linear and Embedding weights ' +
  'N(0, initializer_range) (padding_idx row zeroed), biases zeros, norms ones'
