// A materialization as the session store keeps it (MaterializationRecord, store/session-store.ts),
// made from the Materialization in one place and read back into the options it was started with,
// so that every replica answers for it alike (docs/materialization-records.md).
import type { Materialization, MaterializationOptions } from '../../../materialize/registry.js'
import type { MaterializationRecord } from '../../../store/session-store.js'

/**
 * A record's `options`: what determines the bytes and the API's view (device, init, overrides,
 * checkpoint report, seed, rng, dtype, identity), and `bytesTotal`, the bytes its fill writes
 * (the view's progress), fixed when the fill starts.
 */
export type RecordedOptions = Pick<MaterializationOptions, 'device' | 'init' | 'overrides' | 'checkpoint' | 'seed' | 'rng' | 'dtype' | 'identity'> & { bytesTotal: number }

/** The record of a materialization this replica started (`owner`: this replica's id). */
export function recordOf (m: Materialization, owner: string): MaterializationRecord {
  const options: RecordedOptions = {
    device: m.device,
    init: m.init,
    ...(m.overrides !== undefined ? { overrides: m.overrides } : {}),
    ...(m.checkpoint !== undefined ? { checkpoint: m.checkpoint } : {}),
    seed: m.seed,
    rng: m.rng,
    dtype: m.dtype,
    ...(m.identity !== undefined ? { identity: m.identity } : {}),
    bytesTotal: m.bytesTotal
  }
  return {
    id: m.id,
    sessionId: m.sessionId,
    moduleId: m.moduleId,
    createdAt: m.createdAt,
    owner,
    status: m.status,
    ...(m.error !== undefined ? { error: m.error } : {}),
    options: { ...options },
    etag: m.identity ?? m.id,
    lazy: m.lazy,
    nbytes: m.plan.arenaSize,
    ...(m.file !== undefined ? { file: m.file } : {})
  }
}

/** The options a record was written with (by recordOf: the store keeps them as JSON). */
export const optionsOf = (r: MaterializationRecord): RecordedOptions => r.options as unknown as RecordedOptions
