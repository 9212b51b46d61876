// The API's view of a materialization: options, status, progress and the addresses of its bytes,
// made from its record and its arena's plan, so every replica shows a materialization alike.
import type { Materialization } from '../../../schemas/materializations.js'
import type { ArenaPlan } from '../../../materialize/plan.js'
import type { MaterializationRecord } from '../../../store/session-store.js'
import { optionsOf } from './record.js'

export type MaterializationView = typeof Materialization.static

/** The address of a materialization. */
export const materializationHref = (m: { sessionId: string, id: string }): string => `/v1/sessions/${m.sessionId}/materializations/${m.id}`

/**
 * The view of the materialization `r` whose arena is `plan`. `bytesDone`: what its fill has
 * written so far, known only on the replica filling it (elsewhere a pending one shows 0); a
 * ready one shows its whole `bytesTotal` done.
 */
export function materializationView (r: MaterializationRecord, plan: ArenaPlan, bytesDone = 0): MaterializationView {
  const o = optionsOf(r)
  const base = materializationHref(r)
  return {
    id: r.id,
    moduleId: r.moduleId,
    sessionId: r.sessionId,
    device: o.device,
    init: o.init,
    ...(o.overrides !== undefined ? { overrides: o.overrides } : {}),
    ...(o.checkpoint !== undefined ? { checkpoint: o.checkpoint } : {}),
    seed: o.seed,
    rng: o.rng,
    dtype: o.dtype,
    status: r.status,
    ...(r.error !== undefined ? { error: r.error } : {}),
    progress: { bytesDone: r.status === 'ready' ? o.bytesTotal : Math.min(bytesDone, o.bytesTotal), bytesTotal: o.bytesTotal },
    nbytes: plan.arenaSize,
    lazy: r.lazy,
    residentBytes: r.lazy ? 0 : plan.arenaSize,
    tensors: plan.tensors.map((t) => ({
      name: t.name,
      kind: t.kind,
      shape: t.shape,
      dtype: t.dtype,
      stride: t.stride,
      numel: t.numel,
      nbytes: t.nbytes,
      requiresGrad: t.requiresGrad,
      persistent: t.persistent,
      ...(t.tiedTo !== undefined ? { tiedTo: t.tiedTo } : {}),
      href: `${base}/tensors/${encodeURIComponent(t.name)}`
    })),
    safetensors: `${base}/safetensors`
  }
}
