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

/**
 * The std PreTrainedModel._init_weights draws with: `initializer_range or 0.02` (a range of 0 or
 * None draws with 0.02) when the config has one, else `init_std`, else `initializer_factor` (T5),
 * else 0.02.
 */
function baseStd (config: ConfigValue): number {
  const v = config.values
  if (Object.hasOwn(v, 'initializer_range')) return (v.initializer_range as number | null) || 0.02
  if (Object.hasOwn(v, 'init_std')) return v.init_std as number
  if (Object.hasOwn(v, 'initializer_factor')) return v.initializer_factor as number
  return 0.02
}

/** PreTrainedModel._init_weights(module) for the classes these models hold. */
function baseInitWeights (m: Instance, config: ConfigValue, init: InitRecorder): void {
  const std = baseStd(config)
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

const f64 = new DataView(new ArrayBuffer(8))

/** x = m · 2^e with m an integer (x a positive finite double). */
function exactParts (x: number): [bigint, number] {
  f64.setFloat64(0, x)
  const bits = f64.getBigUint64(0)
  const biased = Number(bits >> 52n)
  const frac = bits & ((1n << 52n) - 1n)
  return biased === 0 ? [frac, -1074] : [frac | (1n << 52n), biased - 1075]
}

/** The neighbouring double of a positive finite x, one unit in the last place up or down. */
function nextDouble (x: number, up: boolean): number {
  f64.setFloat64(0, x)
  f64.setBigUint64(0, f64.getBigUint64(0) + (up ? 1n : -1n))
  return f64.getFloat64(0)
}

/** Whether x · mid² < 1 for the exact midpoint of the doubles a and b, i.e. x^-0.5 lies above it. */
function aboveMidpoint (x: number, a: number, b: number): boolean {
  const [ma, ea] = exactParts(a)
  const [mb, eb] = exactParts(b)
  const e0 = Math.min(ea, eb)
  const mid = (ma << BigInt(ea - e0)) + (mb << BigInt(eb - e0)) // a + b = mid · 2^e0
  const e = e0 - 1 // (a + b) / 2 = mid · 2^e
  const [mx, ex] = exactParts(x)
  const k = ex + 2 * e // x · mid² = mx · mid² · 2^k, compared with 1
  const lhs = mx * mid * mid
  return k >= 0 ? lhs << BigInt(k) < 1n : lhs < 1n << BigInt(-k)
}

/**
 * Python's `x ** -0.5` for a positive double: glibc's pow, which returns the correctly rounded
 * value for all but a few inputs in a thousand, so this rounds correctly (exact midpoint tests).
 * Node 20's `**` is one unit in the last place off for about 8% of integers (Node 24's is not). The std then reaches
 * normal_ as torch receives it. (T5's factor-scaled normals, modeling_t5.py _init_weights.)
 */
export function rsqrt (x: number): number {
  let y = x ** -0.5
  if (!(x > 0) || !Number.isFinite(x)) return y
  // the engine's value is within one unit of the exact root; step towards it while a midpoint is crossed
  for (let i = 0; i < 2; i++) {
    const lo = nextDouble(y, false)
    const hi = nextDouble(y, true)
    if (!aboveMidpoint(x, lo, y)) y = lo
    else if (aboveMidpoint(x, y, hi)) y = hi
    else break
  }
  return y
}
