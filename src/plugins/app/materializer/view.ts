// The API's view of a materialization: options, status, progress and the addresses of its bytes.
import type { Materialization } from '../../../schemas/materializations.js'
import type { Materialization as Mat } from '../../../materialize/registry.js'

export type MaterializationView = typeof Materialization.static

/** The address of a materialization. */
export const materializationHref = (m: Mat): string => `/v1/sessions/${m.sessionId}/materializations/${m.id}`

export function materializationView (m: Mat): MaterializationView {
  const base = materializationHref(m)
  return {
    id: m.id,
    moduleId: m.moduleId,
    sessionId: m.sessionId,
    device: m.device,
    init: m.init,
    ...(m.overrides !== undefined ? { overrides: m.overrides } : {}),
    ...(m.checkpoint !== undefined ? { checkpoint: m.checkpoint } : {}),
    seed: m.seed,
    rng: m.rng,
    dtype: m.dtype,
    status: m.status,
    ...(m.error !== undefined ? { error: m.error } : {}),
    progress: { bytesDone: Math.min(m.bytesDone(), m.bytesTotal), bytesTotal: m.bytesTotal },
    nbytes: m.plan.arenaSize,
    lazy: m.lazy,
    residentBytes: m.residentBytes,
    tensors: m.plan.tensors.map((t) => ({
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
