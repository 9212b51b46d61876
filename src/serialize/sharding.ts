// Hugging Face sharded checkpoints: `model.save_pretrained(dir, max_shard_size=N)`.
//
// transformers (≥ 4.41) delegates to huggingface_hub `split_torch_state_dict_into_shards`, i.e.
// `split_state_dict_into_shards_factory` (huggingface_hub/serialization/_base.py), with
// `get_storage_size` = the tensor's storage bytes. That algorithm, reproduced exactly here:
//   for each tensor in state-dict order:
//     - a tensor sharing storage with an earlier one is skipped (later put in that one's shard);
//     - size > max_shard_size: it becomes its own shard, appended to the shard list immediately —
//       *before* the shard currently being filled, which stays open and keeps collecting;
//     - current_size + size > max_shard_size: close the current shard (append it), start a new one;
//     - add the tensor to the current shard.
//   the last open shard is appended if non-empty. No bin-packing: [6, 6, 2, 6, 2, 2] GB with a 10 GB
//   limit gives [6], [6+2], [6+2+2]. `total_size` = sum of sizes, shared storage counted once.
//   One shard → file `model.safetensors` and (in transformers) no index; otherwise
//   `model-00001-of-0000N.safetensors` (1-based, 5 digits; Python `{:05d}`, so wider past 99999).
// transformers removes tied aliases from the state dict before splitting, so they appear in neither
// a shard nor the index `weight_map`; we do the same (see safetensors-layout.ts for ties).
// The index is `{"metadata": {"total_parameters": P, "total_size": S}, "weight_map": {name: file}}`
// written as `json.dumps(index, indent=2, sort_keys=True) + "\n"` (formatIndexJson reproduces Python's
// formatting byte for byte, including ensure_ascii escaping). `total_parameters` (added by recent
// transformers, = model.num_parameters(), parameters only, buffers excluded) is written only when the
// caller passes it: it cannot be derived from tensor entries, which do not say parameter vs buffer.
//
// Single shard: the file is named `model.safetensors` exactly as transformers does, and an index is
// still produced (`sharded: false`) because materia's API always serves the index route; it maps every
// name to `model.safetensors`, which transformers and huggingface.js load fine. A route that wants the
// exact transformers directory listing omits the index when `sharded` is false. A state dict with no
// tensors yields one empty `model.safetensors` (header only), as `save_file({})` would write.
import { materiaError } from '../errors.js'
import { pyJsonDumps, type PyJson } from './python-json.js'
import {
  computeSafetensorsLayout,
  type LayoutInput, type LayoutOptions, type OmittedAlias, type SafetensorsLayout
} from './safetensors-layout.js'

/** huggingface_hub MAX_SHARD_SIZE (5 GB, decimal). */
export const DEFAULT_MAX_SHARD_SIZE = 5_000_000_000
/** transformers 5 save_pretrained's default max_shard_size, "50GB" (decimal, huggingface_hub parse_size_to_int). */
export const TRANSFORMERS_MAX_SHARD_SIZE = 50_000_000_000
export const SINGLE_FILE_NAME = 'model.safetensors'
export const INDEX_FILE_NAME = 'model.safetensors.index.json'

export interface ShardOptions extends LayoutOptions {
  /** Bytes (default 5,000,000,000). */
  readonly maxShardSize?: number
  /** Written as metadata.total_parameters when given (transformers: model.num_parameters()). */
  readonly totalParameters?: number
  /**
   * Tensors that are non-overlapping views of one storage (the per-expert slices save_pretrained cuts
   * from a fused expert tensor): huggingface_hub counts the storage's whole size at the first of them
   * and puts the others in that one's shard, each still written as a tensor of its own.
   */
  readonly storageOf?: ReadonlyMap<string, { readonly id: string, readonly nbytes: number }>
}

export interface Shard {
  readonly file: string
  /** Tensor names in the order huggingface_hub assigned them (state-dict order). */
  readonly names: readonly string[]
  /** Sum of the tensors' bytes (huggingface_hub's shard size; excludes the header). */
  readonly size: number
  /** The shard's own canonical safetensors layout (each shard is a complete file). */
  readonly layout: SafetensorsLayout
}

export interface SafetensorsIndex {
  metadata: { total_parameters?: number, total_size: number }
  weight_map: Record<string, string>
}

export interface ShardPlan {
  /** More than one shard (transformers writes an index only then). */
  readonly sharded: boolean
  readonly shards: readonly Shard[]
  /** Every written tensor name → its shard file. */
  readonly fileOf: ReadonlyMap<string, string>
  readonly index: SafetensorsIndex
  /** Bytes of model.safetensors.index.json, formatted as transformers writes it. */
  readonly indexJson: string
  /** Sum of tensor bytes, shared storage once (= index metadata.total_size). */
  readonly totalSize: number
  /** Tied aliases left out of every shard and of the weight map. */
  readonly omitted: readonly OmittedAlias[]
}

export function shardFileName (index: number, count: number): string {
  const pad = (n: number): string => String(n).padStart(5, '0')
  return `model-${pad(index + 1)}-of-${pad(count)}.safetensors`
}

/** Split `entries` (state-dict order) into shards the way `save_pretrained(max_shard_size=…)` does. */
export function planShards (entries: readonly LayoutInput[], options: ShardOptions = {}): ShardPlan {
  const max = options.maxShardSize ?? DEFAULT_MAX_SHARD_SIZE
  if (!Number.isSafeInteger(max) || max < 0) {
    throw materiaError('maxShardSize', { value: String(max) })
  }
  const tp = options.totalParameters
  if (tp !== undefined && (!Number.isSafeInteger(tp) || tp < 0)) {
    throw materiaError('totalParameters', { value: String(tp) })
  }
  // validates every entry and resolves ties once for the whole state dict
  const whole = computeSafetensorsLayout(entries, options)
  const keptAs = new Map(whole.omitted.map(o => [o.name, o.keptAs]))

  // huggingface_hub split_state_dict_into_shards_factory
  const shardList: LayoutInput[][] = []
  let current: LayoutInput[] = []
  let currentSize = 0
  let totalSize = 0
  const storageLeader = new Map<string, string>()
  const viewsOf = new Map<string, LayoutInput[]>()
  for (const e of entries) {
    if (keptAs.has(e.name)) continue
    const storage = options.storageOf?.get(e.name)
    if (storage !== undefined) {
      const leader = storageLeader.get(storage.id)
      if (leader !== undefined) {
        viewsOf.get(leader)?.push(e)
        continue
      }
      storageLeader.set(storage.id, e.name)
      viewsOf.set(e.name, [])
    }
    const size = storage?.nbytes ?? e.nbytes
    if (size > max) {
      totalSize += size
      shardList.push([e])
      continue
    }
    if (currentSize + size > max) {
      shardList.push(current)
      current = []
      currentSize = 0
    }
    current.push(e)
    currentSize += size
    totalSize += size
  }
  if (current.length > 0 || shardList.length === 0) shardList.push(current)
  for (const list of shardList) list.push(...list.flatMap((e) => viewsOf.get(e.name) ?? []))
  const count = shardList.length

  // aliases follow their kept tensor, so tiedAliasesInMetadata can record them in that shard
  const aliasesOf = new Map<string, LayoutInput[]>()
  for (const e of entries) {
    const k = keptAs.get(e.name)
    if (k === undefined) continue
    const list = aliasesOf.get(k) ?? []
    list.push({ ...e, tiedTo: k })
    aliasesOf.set(k, list)
  }

  const fileOf = new Map<string, string>()
  const shards: Shard[] = shardList.map((list, i) => {
    const file = count === 1 ? SINGLE_FILE_NAME : shardFileName(i, count)
    const names = list.map(e => e.name)
    for (const n of names) fileOf.set(n, file)
    if (count === 1) return { file, names, size: totalSize, layout: whole }
    const shardEntries: LayoutInput[] = []
    for (const e of list) {
      shardEntries.push({ ...e, tiedTo: undefined })
      for (const a of aliasesOf.get(e.name) ?? []) shardEntries.push(a)
    }
    const size = list.reduce((s, e) => s + e.nbytes, 0)
    return { file, names, size, layout: computeSafetensorsLayout(shardEntries, options) }
  })

  const weightMap: Record<string, string> = Object.create(null) as Record<string, string>
  for (const [n, f] of fileOf) weightMap[n] = f
  const metadata: SafetensorsIndex['metadata'] = tp === undefined
    ? { total_size: totalSize }
    : { total_parameters: tp, total_size: totalSize }
  const index: SafetensorsIndex = { metadata, weight_map: weightMap }
  return {
    sharded: count > 1,
    shards,
    fileOf,
    index,
    indexJson: formatIndexJson(index),
    totalSize,
    omitted: whole.omitted
  }
}

/** `json.dumps(index, indent=2, sort_keys=True) + "\n"`, byte for byte. */
export function formatIndexJson (index: SafetensorsIndex): string {
  return pyJsonDumps(index as unknown as PyJson)
}

export { pythonJsonString } from './python-json.js'
