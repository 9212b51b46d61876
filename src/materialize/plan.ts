// The arena plan of a materialization: the state_dict laid out as a canonical safetensors data
// section (aligned offsets, tied storage once), then the non-persistent buffers, which take memory
// but are not part of the file. Tied aliases point at the storage they share.
import { DTYPES, type DType } from '../tensor/dtype.js'
import type { TensorSpec } from '../tensor/spec.js'
import { computeSafetensorsLayout, type SafetensorsLayout } from '../serialize/safetensors-layout.js'
import type { FillRange } from './constant-fill.js'
import type { InitKind } from '../schemas/vocabulary.js'

export interface PlannedTensor extends TensorSpec {
  /** byte offset of the tensor's storage in the arena */
  offset: number
}

export interface ArenaPlan {
  tensors: PlannedTensor[]            // state_dict order, then non-persistent buffers
  byName: Map<string, PlannedTensor>
  layout: SafetensorsLayout           // the file: header + arena[0, layout.dataSize)
  arenaSize: number                   // file data + non-persistent buffers
}

/** The tensors as they will be stored: floating tensors cast to `dtype` when given. */
export function castTensors (tensors: readonly TensorSpec[], dtype: DType | undefined): TensorSpec[] {
  if (dtype === undefined) return [...tensors]
  return tensors.map((t) => DTYPES[t.dtype].floating && t.dtype !== dtype
    ? { ...t, dtype, nbytes: t.numel * DTYPES[dtype].bytes }
    : t)
}

export function planArena (tensors: readonly TensorSpec[]): ArenaPlan {
  const persistent = tensors.filter((t) => t.persistent)
  const layout = computeSafetensorsLayout(
    persistent.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, nbytes: t.nbytes, tiedTo: t.tiedTo })),
    { tiedAliasesInMetadata: true })
  const kept = new Map(layout.omitted.map((o) => [o.name, o.keptAs]))
  let end = layout.dataSize
  const planned: PlannedTensor[] = []
  const byName = new Map<string, PlannedTensor>()
  for (const t of tensors) {
    let offset: number
    if (t.persistent) {
      const stored = layout.byName.get(kept.get(t.name) ?? t.name)
      if (stored === undefined) throw new Error(`no storage planned for ${t.name}`)
      offset = stored.begin
    } else {
      end = Math.ceil(end / 8) * 8
      offset = end
      end += t.nbytes
    }
    const p = { ...t, offset }
    planned.push(p)
    byName.set(t.name, p)
  }
  return { tensors: planned, byName, layout, arenaSize: end }
}

/** The constant fills a new arena needs: parameters per init, buffers their constructor values (zeros skipped). */
export function constantFills (plan: ArenaPlan, init: InitKind): FillRange[] {
  const out: FillRange[] = []
  for (const t of plan.tensors) {
    if (t.tiedTo !== undefined) continue
    if (t.kind === 'buffer' && t.values !== undefined) {
      // element by element, in the stored dtype (a materialization's dtype casts it like the rest)
      out.push({ offset: t.offset, nbytes: t.nbytes, dtype: t.dtype, value: 0, values: t.values })
      continue
    }
    let value: number | undefined
    if (t.kind === 'buffer') value = t.fill
    else if (init === 'ones') value = 1
    else if (init === 'zeros') value = 0
    // a new arena is zero already (ArrayBuffer and SharedArrayBuffer guarantee it): no pass for +0
    if (value !== undefined && !(value === 0 && !Object.is(value, -0))) out.push({ offset: t.offset, nbytes: t.nbytes, dtype: t.dtype, value })
  }
  return out
}
