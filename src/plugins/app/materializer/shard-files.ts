// The sharded export of a materialization, split as save_pretrained(max_shard_size=…) splits it.
import { materiaError } from '../../../errors.js'
import type { Materialization } from '../../../materialize/registry.js'
import { planShards, INDEX_FILE_NAME } from '../../../serialize/sharding.js'
import type { Segment } from '../../../http/byte-response.js'
import type { SafetensorsLayout } from '../../../serialize/safetensors-layout.js'

/** A file of the export: the index (JSON) or the pieces of one shard. */
export type ShardFile = { index: Buffer } | { segments: Segment[] }

/** The export's file `file` for shards of at most `maxShardBytes`; a name the index does not list is a 404. */
export function shardFile (m: Materialization, file: string, maxShardBytes: number | undefined): ShardFile {
  const persistent = m.plan.tensors.filter((t) => t.persistent)
  const params = persistent.filter((t) => t.kind === 'parameter' && t.tiedTo === undefined).reduce((n, t) => n + t.numel, 0)
  const plan = planShards(persistent.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, nbytes: t.nbytes, tiedTo: t.tiedTo })),
    { maxShardSize: maxShardBytes, totalParameters: params, tiedAliasesInMetadata: true })
  if (file === INDEX_FILE_NAME) return { index: Buffer.from(plan.indexJson) }
  const shard = plan.shards.find((s) => s.file === file)
  if (shard === undefined) {
    throw materiaError('shardFileNotFound', { file, files: plan.shards.map((s) => s.file).join(', ') })
  }
  return { segments: fileSegments(m, shard.layout) }
}

/**
 * The pieces of a safetensors file of `layout` over the materialization's bytes: its header, then each
 * tensor's bytes in file order, found by `at` (default: the state_dict tensor of that name).
 */
export function fileSegments (m: Materialization, layout: SafetensorsLayout,
  at: (name: string) => { offset: number } | undefined = (name) => m.plan.byName.get(name)): Segment[] {
  const segments: Segment[] = [{ buffer: layout.header }]
  for (const t of layout.tensors) {
    const p = at(t.name)
    if (p !== undefined) segments.push({ arena: m.arena, offset: p.offset, length: t.nbytes })
  }
  return segments
}
