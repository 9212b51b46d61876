// A checkpoint materialization this replica does not hold, opened from its persisted file in the
// shared data directory (docs/data-dir.md): after a restart, or when another replica loaded it.
// The file is checked against the record once per replica (size, header, sha256 streamed in
// chunks) and then served from disk, chunk by chunk, under the record's id.
import { materiaError } from '../../../errors.js'
import type { BuiltModule } from '../../../nn/index.js'
import { castTensors, planArena } from '../../../materialize/plan.js'
import { FileArena, verifyPersisted } from '../../../materialize/checkpoint-file.js'
import type { Materialization, MaterializationOptions } from '../../../materialize/registry.js'
import type { MaterializationRecord } from '../../../store/session-store.js'
import type { DType } from '../../../tensor/dtype.js'
import type { FillServices } from './start.js'

/** Opens under way, by materialization id: concurrent requests for one record share one check of its file. */
const opening = new Map<string, Promise<Materialization>>()

/**
 * The materialization of a ready `init: "checkpoint"` record, registered in the registry under the
 * record's id and read from its persisted file; the one already registered when there is one. A
 * record without a file, or a file missing or different from the record, is a 500
 * MATERIA_ERR_CHECKPOINT_FILE (nothing is registered, so a later request checks again).
 */
export async function openCheckpointRecord ({ registry, dataDir }: FillServices, record: MaterializationRecord, { built }: { built: BuiltModule }): Promise<Materialization> {
  const held = registry.get(record.sessionId, record.id)
  if (held !== undefined) return held
  const under = opening.get(record.id)
  if (under !== undefined) return await under
  const open = (async () => {
    const { file } = record
    if (file === undefined) throw materiaError('checkpointNotPersisted', { id: record.id, reason: record.status !== 'ready' ? ` (it is ${record.status})` : '' })
    const o = record.options
    const dtype = (o.dtype ?? null) as DType | null
    const plan = planArena(castTensors(built.tensors, dtype ?? undefined))
    const path = dataDir.path(record.sessionId, file.name)
    await verifyPersisted(path, plan, file)
    const opts: MaterializationOptions = {
      sessionId: record.sessionId,
      moduleId: record.moduleId,
      device: o.device as MaterializationOptions['device'],
      init: 'checkpoint',
      seed: (o.seed ?? null) as number | null,
      rng: (o.rng ?? null) as MaterializationOptions['rng'],
      dtype,
      ...(o.checkpoint !== undefined ? { checkpoint: o.checkpoint as NonNullable<MaterializationOptions['checkpoint']> } : {}),
      file
    }
    // another request may have registered it while this one read the file
    return registry.get(record.sessionId, record.id) ?? registry.openFile(record.id, record.createdAt, opts, plan, new FileArena(path, plan, registry.budget))
  })()
  opening.set(record.id, open)
  try {
    return await open
  } finally {
    opening.delete(record.id)
  }
}
