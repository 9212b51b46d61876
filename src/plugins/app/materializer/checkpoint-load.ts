// A materialization from an uploaded safetensors file: the options and the file's header checked
// against the module, the keys the file leaves out filled (constants or the seeded default init),
// the file's bytes copied in as they arrive.
import { errorDefs, MateriaError, materiaError } from '../../../errors.js'
import type { BuiltModule, ModuleNode } from '../../../nn/index.js'
import type { CheckpointQuery } from '../../../schemas/materializations.js'
import { newHandle } from '../../../store/session-store.js'
import { constantFills, planArena } from '../../../materialize/plan.js'
import type { FillRange } from '../../../materialize/fill.js'
import type { Materialization, MaterializationOptions } from '../../../materialize/registry.js'
import type { Arena } from '../../../materialize/arena.js'
import { checkCheckpoint, copyCheckpointData, readCheckpointHeader } from '../../../materialize/checkpoint.js'
import { InitRuleError } from '../../../init/module-init.js'
import { drawnSpans, initFiller, planInit } from '../../../materialize/init-fill.js'
import type { FillServices, MaterializationTenant } from './start.js'

export interface CheckpointLoad {
  sessionId: string
  moduleId: string
  built: BuiltModule
  tree: ModuleNode
  query: typeof CheckpointQuery.static
  /** the file as it arrives */
  body: AsyncIterator<Uint8Array>
  /** the file's size when the request says it */
  fileSize: number | undefined
  tenant: MaterializationTenant
}

export interface StartedLoad {
  m: Materialization
  /** the receive timeout that failed the copy, if that is what failed it */
  timedOut: () => MateriaError | undefined
}

/** Checks the options and the file's header, plans the arena and starts the fill that copies the file in. */
export async function startCheckpointLoad ({ registry, pool }: FillServices, r: CheckpointLoad): Promise<StartedLoad> {
  const { sessionId, moduleId, built, tree, query, body, fileSize } = r
  const strict = query.strict ?? true
  const missingInit = query.init ?? 'default'
  if (strict && (query.init !== undefined || query.seed !== undefined || query.rng !== undefined)) {
    throw materiaError('materializationOptions', 'init, seed and rng choose the values of missing keys: they need strict=false')
  }
  const draws = missingInit === 'default'
  if (!draws && (query.seed !== undefined || query.rng !== undefined)) {
    throw materiaError('materializationOptions', `seed and rng apply to init 'default' (init is '${missingInit}')`)
  }
  const { header, rest } = await readCheckpointHeader(body, fileSize, built.tensors.length)
  const plan = planArena(built.tensors)
  const keys = checkCheckpoint(header, plan, built.qualname, strict)
  const device = query.device ?? 'cpu'
  const loaded = plan.tensors.filter((t) => t.persistent && t.tiedTo === undefined && !keys.unloaded.has(t.name))
  const missingDraw = draws && keys.missingKeys.length > 0
  let fills: FillRange[] | undefined
  let initFill: ((arena: Arena, signal: AbortSignal, progress: (bytes: number) => void) => Promise<void>) | undefined
  let drawn: Array<{ offset: number, nbytes: number }> = []
  const rng = query.rng ?? 'torch'
  const seed = query.seed ?? 0
  if (missingDraw) {
    // the whole module's stream, written only into the tensors the file leaves out (before the file's bytes arrive)
    let exec
    try {
      exec = planInit(tree, plan, { base: 'default', overrides: [], rng, seed, only: keys.unloaded })
    } catch (err) {
      if (err instanceof InitRuleError) throw materiaError('initUnavailable', `init 'default' for ${built.qualname}: ${err.message}`)
      throw err
    }
    fills = [...exec.constants]
    drawn = drawnSpans(exec)
    const bytes = drawn.reduce((n, d) => n + d.nbytes, 0)
    initFill = initFiller(exec, { device, pool, totalBytes: bytes })
  }
  // without draws: the constructor values (or `init`) of what the file leaves out (non-persistent buffers, missing keys)
  if (fills === undefined) {
    const unloadedOffsets = new Set(plan.tensors.filter((t) => keys.unloaded.has(t.name)).map((t) => t.offset))
    fills = constantFills(plan, missingInit === 'default' ? 'empty' : missingInit).filter((f) => unloadedOffsets.has(f.offset))
  }
  const opts: MaterializationOptions = {
    sessionId,
    moduleId,
    device,
    init: 'checkpoint',
    seed: missingDraw ? seed : null,
    rng: missingDraw ? rng : null,
    dtype: null,
    tenant: r.tenant,
    checkpoint: { strict, missingKeys: keys.missingKeys, unexpectedKeys: keys.unexpectedKeys, missingInit }
  }
  let timedOut: MateriaError | undefined
  const m = registry.start(newHandle('mat'), opts, plan, fills,
    async (arena, signal, progress) => {
      if (initFill !== undefined) await initFill(arena, signal, progress)
      try {
        await copyCheckpointData(header, rest, body, plan, arena, signal, progress)
      } catch (err) {
        if (err instanceof MateriaError && err.code === errorDefs.requestTimeout.code) timedOut = err
        throw err
      }
    },
    [...loaded, ...drawn])
  return { m, timedOut: () => timedOut }
}
