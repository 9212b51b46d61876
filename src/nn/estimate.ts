// Memory estimates from a tensor table: what PyTorch would allocate, tied storage counted once,
// every buffer (also non-persistent) included; the same module cast to other dtypes; the table
// `accelerate estimate-memory` (the Hugging Face model memory calculator) prints; and, for a
// transformers decoder, the key/value cache DynamicCache holds. docs/transformers.md ("Estimates")
// says what each figure counts.
import type { Static } from '@sinclair/typebox'
import { Estimate } from '../schemas/nn.js'
import { checkedMul, DTYPES } from '../tensor/dtype.js'
import type { ModuleNode } from './define.js'
import type { TensorInfo } from './index.js'
import { attr, type ConfigValue, isConfigValue } from './transformers/config.js'
import { modelFacts } from './transformers/model-facts.js'

/** The answer of POST /v1/estimate without the class name. */
export type ModuleEstimate = Omit<Static<typeof Estimate>, 'class'>
type EstimateDtype = keyof ModuleEstimate['byDtype']
type DtypeEstimate = ModuleEstimate['byDtype'][EstimateDtype]
type Calculator = NonNullable<ModuleEstimate['calculator']>
type CalculatorDtype = Exclude<keyof Calculator, 'largestLayerNames'>
type KvCache = NonNullable<ModuleEstimate['kvCache']>
type KvDtype = keyof KvCache['byDtype']

/** The dtypes the schema lists, each cast to with its size from the dtype table. */
const estimateDtypes = Object.keys(Estimate.properties.byDtype.properties) as EstimateDtype[]

/** Adam keeps weights, gradients and two states (exp_avg, exp_avg_sq) in the parameter's dtype. */
const adamFactor = 4

/** The figures read from the tensor table alone. */
export function estimateTensors (tensors: readonly TensorInfo[]): Omit<ModuleEstimate, 'calculator' | 'kvCache'> {
  const storages = tensors.filter((t) => t.tiedTo === undefined)
  const numel = storages.reduce((n, t) => n + t.numel, 0)
  const nbytes = storages.reduce((n, t) => n + t.nbytes, 0)
  const largest = storages.reduce<TensorInfo | undefined>((a, t) => (a === undefined || t.nbytes > a.nbytes ? t : a), undefined)
  const trainable = (t: TensorInfo): boolean => t.kind === 'parameter' && t.requiresGrad
  const adam = storages.reduce((n, t) => n + (trainable(t) ? adamFactor * t.nbytes : t.nbytes), 0)

  const byDtype = {} as Record<EstimateDtype, DtypeEstimate>
  for (const dtype of estimateDtypes) {
    const size = DTYPES[dtype].bytes
    let bytes = 0; let top = 0; let train = 0
    for (const t of storages) {
      const b = DTYPES[t.dtype].floating ? t.numel * size : t.nbytes
      bytes += b
      top = Math.max(top, b)
      train += trainable(t) ? adamFactor * b : b
    }
    byDtype[dtype] = { numel, nbytes: bytes, largestTensor: top, trainingAdam: train }
  }
  return {
    totals: { numel, nbytes },
    byDtype,
    largestTensor: { name: largest?.name ?? '', nbytes: largest?.nbytes ?? 0 },
    training: { adam }
  }
}

export interface EstimateOptions {
  /** sequences in the batch the cache is sized for (default 1) */
  readonly batchSize?: number
  /** tokens each sequence has run through the model (default: the config's max_position_embeddings) */
  readonly sequenceLength?: number
}

/** Every figure of POST /v1/estimate for a built module tree. */
export function estimateModule (root: ModuleNode, tensors: readonly TensorInfo[], opts: EstimateOptions = {}): ModuleEstimate {
  const cache = kvCache(root, tensors, opts)
  return { ...estimateTensors(tensors), calculator: calculatorTable(root, tensors), ...(cache !== undefined ? { kvCache: cache } : {}) }
}

// accelerate's estimate-memory divides the float32 sizes: float16 by 2, int8 by 4, int4 by 8
const CALCULATOR_DIVISORS: Record<CalculatorDtype, number> = { float32: 1, float16: 2, int8: 4, int4: 8 }

/**
 * accelerate's gather_data over the module built in float32 (create_empty_model passes
 * torch_dtype=torch.float32): calculate_maximum_sizes gives the total and the largest layer (a
 * module without children, or of a class in _no_split_modules), estimate_training_usage the Adam
 * figure. https://github.com/huggingface/accelerate/blob/main/src/accelerate/commands/estimate.py
 */
export function calculatorTable (root: ModuleNode, tensors: readonly TensorInfo[]): Calculator {
  // compute_module_sizes: every storage once (named_parameters drops tied aliases), under each prefix of its name
  const sizes = new Map<string, number>()
  for (const t of tensors) {
    if (t.tiedTo !== undefined) continue
    const size = DTYPES[t.dtype].floating ? t.numel * DTYPES.float32.bytes : t.nbytes
    const parts = t.name.split('.')
    for (let i = 0; i <= parts.length; i++) {
      const key = parts.slice(0, i).join('.')
      sizes.set(key, (sizes.get(key) ?? 0) + size)
    }
  }
  const total = sizes.get('') ?? 0
  const noSplit = new Set(modelFacts(root.qualname)?.noSplitModules ?? [])
  // get_max_layer_size over the root's own parameters, its children, then its own buffers
  const own = (kind: string): Array<[string, ModuleNode | null]> => root.tensors.filter((t) => t.kind === kind).map((t) => [t.name, null])
  const children = (n: ModuleNode, prefix: string): Array<[string, ModuleNode | null]> =>
    n.children.filter((c): c is readonly [string, ModuleNode] => c[1] !== null).map(([k, c]) => [prefix === '' ? k : `${prefix}.${k}`, c])
  let queue: Array<[string, ModuleNode | null]> = [...own('parameter'), ...children(root, ''), ...own('buffer')]
  let largest = 0
  let names: string[] = []
  while (queue.length > 0) {
    const [name, node] = queue.shift() as [string, ModuleNode | null]
    const kids = node === null ? [] : children(node, name)
    if (kids.length === 0 || (node !== null && noSplit.has(node.name))) {
      const size = sizes.get(name) ?? 0
      if (size > largest) { largest = size; names = [name] } else if (size === largest) names.push(name)
    } else {
      queue = [...kids, ...queue]
    }
  }
  const row = (dtype: CalculatorDtype) => ({
    largestLayer: largest / CALCULATOR_DIVISORS[dtype],
    totalSize: total / CALCULATOR_DIVISORS[dtype],
    trainingAdam: trainingUsage(total, dtype)
  })
  return { float32: row('float32'), float16: row('float16'), int8: row('int8'), int4: row('int4'), largestLayerNames: names }
}

/** estimate_training_usage: the largest of model, gradients, optimizer states and step, from the float32 size; null for int8/int4. */
function trainingUsage (bytes: number, dtype: CalculatorDtype): number | null {
  const fp16 = Math.floor(bytes / 2)
  if (dtype === 'float32') return Math.max(bytes, bytes, 2 * bytes, 4 * bytes)
  if (dtype === 'float16') return Math.max(bytes, bytes + fp16, 2 * bytes, 2 * bytes)
  return null
}

// bytes of one cached element; int4 packs two in a byte (a quantized cache's scales are not counted)
const KV_DTYPE_BYTES: Record<KvDtype, number> = { float32: 4, float16: 2, bfloat16: 2, int8: 1, int4: 0.5 }

/**
 * The keys and values DynamicCache(config=model.config) holds after `sequenceLength` tokens of a
 * batch: each full-attention layer keeps every token, each sliding-window layer the last
 * sliding_window - 1 (DynamicSlidingWindowLayer.update); layer types from config.layer_types, else
 * every layer sliding when config.sliding_window is set (get_layer_types_and_kwargs).
 * https://github.com/huggingface/transformers/blob/main/src/transformers/cache_utils.py
 */
function kvCache (root: ModuleNode, tensors: readonly TensorInfo[], opts: EstimateOptions): KvCache | undefined {
  const shape = modelFacts(root.qualname)?.cache
  const c = root.bound.config
  if (shape === undefined || !isConfigValue(c)) return undefined
  const { layers, kvHeads, headDim } = shape(c)
  const batchSize = opts.batchSize ?? 1
  const sequenceLength = opts.sequenceLength ?? maxPositions(c)
  const window = attr(c, 'sliding_window', null)
  const types = attr(c, 'layer_types', null)
  const isSliding = (i: number): boolean => typeof window === 'number' &&
    (Array.isArray(types) ? types[i] === 'sliding_attention' : true)
  // keys[:, :, -sliding_window + 1:, :]: a window of 1 keeps everything
  const held = (i: number): number => isSliding(i) && (window as number) > 1 ? Math.min(sequenceLength, (window as number) - 1) : sequenceLength
  let tokensHeld = 0
  let slidingLayers = 0
  for (let i = 0; i < layers; i++) {
    tokensHeld += held(i)
    if (isSliding(i)) slidingLayers++
  }
  // keys and values: 2 tensors of (batch, kv_heads, tokens, head_dim) per layer
  const elements = checkedMul(checkedMul(checkedMul(2 * batchSize, kvHeads, 'KV cache elements'), headDim, 'KV cache elements'), tokensHeld, 'KV cache elements')
  const byDtype = Object.fromEntries(Object.entries(KV_DTYPE_BYTES).map(([d, b]) => [d, Math.ceil(checkedMul(elements, b, 'KV cache bytes'))])) as Record<KvDtype, number>
  // the cache takes the dtype of the projections that fill it: the model's floating dtype as built
  const dtype = tensors.find((t) => t.kind === 'parameter' && DTYPES[t.dtype].floating)?.dtype ?? 'float32'
  return {
    batchSize,
    sequenceLength,
    layers,
    slidingLayers,
    slidingWindow: typeof window === 'number' ? window : null,
    kvHeads,
    headDim,
    tokensHeld,
    dtype,
    nbytes: checkedMul(elements, DTYPES[dtype].bytes, 'KV cache bytes'),
    byDtype
  }
}

function maxPositions (c: ConfigValue): number {
  const v = attr(c, 'max_position_embeddings', attr(c, 'n_positions'))
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : 1
}
