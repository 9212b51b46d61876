// A materialization from JSON options (POST …/materializations, skip_init): the options checked,
// the arena and the init planned, the fill started in the registry.
import { materiaError } from '../../../errors.js'
import { DTYPES } from '../../../tensor/dtype.js'
import { parseDType, type BuiltModule, type DType, type ModuleNode } from '../../../nn/index.js'
import type { InitSpec } from '../../../schemas/materializations.js'
import { newHandle } from '../../../store/session-store.js'
import { castTensors, constantFills, planArena, type ArenaPlan } from '../../../materialize/plan.js'
import type { Device, InitKind, Rng } from '../../../schemas/vocabulary.js'
import type { Materialization, MaterializationOptions, MaterializationRegistry } from '../../../materialize/registry.js'
import { parseOverrides, type Override } from '../../../init/init-overrides.js'
import { planInit } from '../../../materialize/init-plan.js'
import { materializationIdentity } from '../../../materialize/identity.js'
import type { Fill } from '../../../materialize/fill.js'
import type { DataDir } from '../../../materialize/data-dir.js'

/**
 * What starting a fill needs: the registry that holds materializations (and runs their fills, on
 * its pool for 'worker'), and the data directory where checkpoints are persisted.
 */
export interface FillServices {
  registry: MaterializationRegistry
  dataDir: DataDir
}

/** The caller's tenant and its resident-bytes quota (docs/tenants.md). */
export type MaterializationTenant = NonNullable<MaterializationOptions['tenant']>

export interface StartRequest {
  sessionId: string
  moduleId: string
  built: BuiltModule
  /** the module tree (buildModuleTree), needed when the init draws random numbers */
  tree?: ModuleNode | undefined
  device: Device
  init: InitKind | typeof InitSpec.static
  seed?: number | undefined
  rng?: Rng | undefined
  dtype?: string | undefined
  /** generate the bytes as they are read instead of holding them */
  lazy?: boolean | undefined
  tenant: MaterializationTenant
}

/** Whether the init needs the module tree and a random stream (init 'default' or any override). */
function initDraws (init: StartRequest['init']): boolean {
  return typeof init === 'string' ? init === 'default' : (init.default ?? 'default') === 'default' || Object.keys(init.overrides ?? {}).length > 0
}

function parseInit (init: StartRequest['init']): { base: InitKind, overrides: Override[] } {
  if (typeof init === 'string') return { base: init, overrides: [] }
  return { base: init.default ?? 'default', overrides: parseOverrides(init.overrides ?? {}) }
}

/** The arena of a module whose floating tensors are cast to `dtype` (null: as built). */
export function planOf (built: BuiltModule, dtype: DType | null): ArenaPlan {
  return planArena(castTensors(built.tensors, dtype ?? undefined))
}

/** What a materialization is before it starts: its options, its arena's plan and the fill that writes it. */
export interface PlannedMaterialization { opts: MaterializationOptions, plan: ArenaPlan, fill: Fill }

/** Validates the options and plans the arena and its fill (nothing is allocated). */
export function planMaterialization (r: StartRequest): PlannedMaterialization {
  let dtype: DType | undefined
  if (r.dtype !== undefined) {
    dtype = parseDType(r.dtype)
    if (dtype === undefined || !DTYPES[dtype].floating) {
      throw materiaError('dtypeNotFloating', { dtype: r.dtype })
    }
  }
  const { base, overrides } = parseInit(r.init)
  const draws = initDraws(r.init)
  if (!draws && (r.seed !== undefined || r.rng !== undefined)) {
    throw materiaError('seedWithoutDraws', { init: base })
  }
  if (r.lazy === true && base === 'empty' && !draws) throw materiaError('lazyEmpty', {})
  const plan = planOf(r.built, dtype ?? null)
  const opts: MaterializationOptions = {
    sessionId: r.sessionId,
    moduleId: r.moduleId,
    device: r.device,
    init: base,
    ...(overrides.length > 0 ? { overrides: Object.fromEntries(overrides.map((o) => [o.pattern, { fn: o.fn, ...o.args }])) } : {}),
    seed: draws ? r.seed ?? 0 : null,
    rng: draws ? r.rng ?? 'torch' : null,
    dtype: dtype ?? null,
    tenant: r.tenant
  }
  // empty promises no values (its zeros are this service's choice, README): its ETags are its own
  if (base !== 'empty' || draws) opts.identity = materializationIdentity(r.built, opts)
  if (!draws) return { opts, plan, fill: { constants: constantFills(plan, base) } }
  if (r.tree === undefined) throw new Error('internal: init with random draws needs the module tree')
  if (opts.rng === 'philox') {
    if (overrides.some((o) => o.fn === 'trunc_normal_')) {
      throw materiaError('truncNormalNeedsTorch', {})
    }
  }
  // a refused init or override is a MateriaError with its code (init/module-init.ts, init-overrides.ts)
  const exec = planInit(r.tree, plan, { base, overrides, rng: opts.rng ?? 'torch', seed: opts.seed ?? 0 })
  return { opts, plan, fill: { constants: exec.constants, init: exec } }
}

/** Validates the options, plans the arena and starts the fill. */
export function startMaterialization ({ registry }: FillServices, r: StartRequest): Materialization {
  const { opts, plan, fill } = planMaterialization(r)
  return r.lazy === true
    ? registry.startLazy(newHandle('mat'), opts, plan, fill)
    : registry.start(newHandle('mat'), opts, plan, fill)
}
