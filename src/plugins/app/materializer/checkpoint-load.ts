// A materialization from an uploaded safetensors file: the options and the file's header checked
// against the module, the keys the file leaves out filled (constants or the seeded default init),
// the file's bytes copied in as they arrive; then the materialization's own safetensors file
// persisted in the data directory before it is ready (docs/data-dir.md). Space for that file is
// reserved before the fill starts; an upload that fails or is cancelled gives it back.
import { errorDefs, MateriaError, materiaError } from '../../../errors.js'
import type { BuiltModule, ModuleNode } from '../../../nn/index.js'
import type { CheckpointQuery } from '../../../schemas/materializations.js'
import { newHandle } from '../../../store/session-store.js'
import { constantFills, planArena } from '../../../materialize/plan.js'
import type { FillRange } from '../../../materialize/constant-fill.js'
import type { Materialization, MaterializationOptions } from '../../../materialize/registry.js'
import type { Arena } from '../../../materialize/arena.js'
import { checkCheckpoint, checkpointCopies, readCheckpointHeader } from '../../../materialize/checkpoint.js'
import { persistedPieces } from '../../../materialize/checkpoint-file.js'
import { planInit } from '../../../materialize/init-plan.js'
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
  /**
   * What failed the load when it was not the file's content: the receive timeout (408), or writing
   * the persisted file (507 when the volume is full, else 500); undefined otherwise.
   */
  failure: () => MateriaError | undefined
}

/** Checks the options and the file's header, plans the arena and starts the fill that copies the file in. */
export async function startCheckpointLoad ({ registry, dataDir }: FillServices, r: CheckpointLoad): Promise<StartedLoad> {
  const { sessionId, moduleId, built, tree, query, body, fileSize } = r
  const strict = query.strict ?? true
  const missingInit = query.init ?? 'default'
  if (strict && (query.init !== undefined || query.seed !== undefined || query.rng !== undefined)) {
    throw materiaError('checkpointStrictOptions', {})
  }
  const draws = missingInit === 'default'
  if (!draws && (query.seed !== undefined || query.rng !== undefined)) {
    throw materiaError('checkpointSeedWithoutDraws', { init: missingInit })
  }
  const { header, rest } = await readCheckpointHeader(body, fileSize, built.tensors.length)
  const plan = planArena(built.tensors)
  const keys = checkCheckpoint(header, plan, built.qualname, strict)
  const device = query.device ?? 'cpu'
  const missingDraw = draws && keys.missingKeys.length > 0
  let fills: readonly FillRange[] | undefined
  let exec
  const rng = query.rng ?? 'torch'
  const seed = query.seed ?? 0
  if (missingDraw) {
    // the whole module's stream, written only into the tensors the file leaves out (before the file's bytes arrive)
    exec = planInit(tree, plan, { base: 'default', overrides: [], rng, seed, only: keys.unloaded })
    fills = exec.constants
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
  let failure: MateriaError | undefined
  // the receive timeout is told apart from a bad file: it answers 408, not 400
  const data = {
    async next () {
      try {
        return await body.next()
      } catch (err) {
        if (err instanceof MateriaError && err.code === errorDefs.requestTimeout.code) failure = err
        throw err
      }
    }
  }
  const id = newHandle('mat')
  // the disk first: a full data directory refuses the upload before any memory is reserved
  const reservation = await dataDir.reserve(sessionId, id, plan.layout.totalSize)
  const persist = {
    async ready (m: Materialization, arena: Arena, signal: AbortSignal) {
      try {
        m.file = await reservation.commit(persistedPieces(plan, arena), signal)
      } catch (err) {
        if (!signal.aborted) failure = err instanceof MateriaError ? err : materiaError('checkpointFileWrite', { reason: (err as Error).message })
        throw err
      }
    },
    failed: async () => { await reservation.abandon() }
  }
  try {
    const m = registry.start(id, opts, plan, { constants: fills, init: exec, copies: checkpointCopies(header, plan) },
      { first: rest, body: data, size: header.dataSize }, persist)
    return { m, failure: () => failure }
  } catch (err) {
    await reservation.abandon()
    throw err
  }
}
