// A materialization loaded from a checkpoint upload on another replica, opened on this one from its
// record. Its bytes are the uploaded file's, which this replica does not hold: until uploads are
// kept where every replica can read them, it answers 404 with a message that says why.
import { materiaError } from '../../../errors.js'
import type { Materialization } from '../../../materialize/registry.js'
import type { MaterializationRecord } from '../../../store/session-store.js'
import type { RebuiltModule } from '../module-records.js'
import type { FillServices } from './start.js'

/**
 * Opens the ready checkpoint materialization `record` (init 'checkpoint') of the module `built` on
 * this replica: registers it in `services.registry` under `record.id` (so a delete or its session's
 * end frees it) and returns it.
 */
export function openCheckpointRecord (_services: FillServices, record: MaterializationRecord, _built: RebuiltModule): Materialization {
  throw materiaError('checkpointElsewhere', { id: record.id })
}
