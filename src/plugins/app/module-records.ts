// Module records as an app service: a module is admitted (the session's module count, its tensor
// count, the heap its record will hold for the tenant and the replica) before its tensor table is
// built, then stored; its bytes are held in the ledger until the module or its session ends.
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { Gauge } from 'prom-client'
import { materiaError } from '../../errors.js'
import { buildModule, buildModuleTree, type BuiltModule, type ModuleCost, type ModuleNode, moduleRepr } from '../../nn/index.js'
import { TensorInfo, type AnyModuleSpecT } from '../../schemas/nn.js'
import type { Module } from '../../schemas/sessions.js'
import { newHandle } from '../../store/session-store.js'
import { ModuleLedger } from '../../tenants/module-ledger.js'

declare module 'fastify' {
  interface FastifyInstance { moduleRecords: ModuleRecords }
}

const tensorInfoKeys = Object.keys(TensorInfo.properties) as Array<keyof typeof TensorInfo.static>

/** The API's view of a built module: the public TensorInfo fields and the totals. */
export function moduleBody (id: string, sessionId: string, built: BuiltModule, ties: string[][] | undefined): typeof Module.static {
  let parameters = 0; let buffers = 0; let nbytes = 0
  const tensors = built.tensors.map((t) => {
    if (t.tiedTo === undefined) {
      if (t.kind === 'parameter') parameters += t.numel; else buffers += t.numel
      nbytes += t.nbytes
    }
    const info: Record<string, unknown> = {}
    for (const k of tensorInfoKeys) if (t[k] !== undefined) info[k] = t[k]
    return info as typeof TensorInfo.static
  })
  return {
    id,
    sessionId,
    class: built.qualname,
    ...(built.python !== undefined ? { python: built.python } : {}),
    args: built.args,
    kwargs: built.kwargs,
    ...(ties !== undefined ? { ties } : {}),
    ...(built.config !== undefined ? { config: built.config } : {}),
    device: 'meta',
    tensors,
    totals: { parameters, buffers, numel: parameters + buffers, nbytes }
  }
}

/** A stored module built again from its spec: its tree (for inits that replay construction) and its tensor table. */
export interface RebuiltModule { root: ModuleNode, built: BuiltModule }

export interface ModuleRecords {
  readonly ledger: ModuleLedger
  /** Admits, builds and stores a module of the session (429, 413, 507 before its tensor table is built). */
  create: (request: FastifyRequest, sessionId: string, spec: AnyModuleSpecT) => Promise<{ id: string, built: BuiltModule, body: typeof Module.static }>
  /** The API's view of a module of the session, or a 404. */
  get: (sessionId: string, moduleId: string) => Promise<typeof Module.static>
  /** Rebuilds a stored module from its spec (cheap, and the store keeps JSON only): tree and tensor table; a 404 if it is gone. */
  rebuild: (sessionId: string, moduleId: string) => Promise<RebuiltModule>
  /** What print(module) prints in PyTorch, or a 404. */
  repr: (sessionId: string, moduleId: string) => Promise<string>
  /** Deletes a module's record and forgets its bytes, or a 404 (its materializations are the caller's to delete). */
  delete: (sessionId: string, moduleId: string) => Promise<void>
}

const notFound = (id: string): Error => materiaError('moduleNotFound', { id })

/** The qualname of the first module in the tree that is not a torch.nn class, if any. */
function firstNotTorchNn (node: ModuleNode): string | undefined {
  if (!node.qualname.startsWith('torch.nn.')) return node.qualname
  for (const [, child] of node.children) {
    const found = child !== null ? firstNotTorchNn(child) : undefined
    if (found !== undefined) return found
  }
  return undefined
}

async function moduleRecordsPlugin (app: FastifyInstance): Promise<void> {
  const ledger = new ModuleLedger(app.config.moduleBudget)
  app.store.onSessionEnd((s) => { ledger.releaseSession(s.id) })

  const create: ModuleRecords['create'] = async (request, sessionId, spec) => {
    const { limits, tenant } = request
    // counted in the store, so replicas sharing a Redis share the count
    const count = await app.store.countModules(sessionId)
    if (count >= limits.maxSessionModules) {
      throw materiaError('sessionModuleQuota', { count, max: limits.maxSessionModules })
    }
    const id = newHandle('mod')
    try {
      const built = buildModule(spec, {
        maxTensors: limits.maxModuleTensors,
        admit: (cost: ModuleCost) => { ledger.reserve(id, sessionId, { id: tenant, maxModuleBytes: limits.maxModuleBytes }, cost.recordBytes) }
      })
      const body = moduleBody(id, sessionId, built, spec.ties)
      await app.store.putModule(sessionId, { id, sessionId, createdAt: Date.now(), body })
      return { id, built, body }
    } catch (err) {
      ledger.release(id)
      throw err
    }
  }

  const get: ModuleRecords['get'] = async (sessionId, moduleId) => {
    const m = await app.store.getModule(sessionId, moduleId)
    if (m === undefined) throw notFound(moduleId)
    return m.body as typeof Module.static
  }

  const rebuild: ModuleRecords['rebuild'] = async (sessionId, moduleId) => {
    const { class: cls, args, kwargs, ties, config } = await get(sessionId, moduleId)
    // a config.json is rebuilt as given, so its dtype is the default dtype again
    if (config !== undefined) return buildModuleTree({ config })
    return buildModuleTree({ class: cls, args, kwargs, ...(ties !== undefined ? { ties } : {}) })
  }

  const repr: ModuleRecords['repr'] = async (sessionId, moduleId) => {
    const { root } = await rebuild(sessionId, moduleId)
    // only torch.nn classes carry PyTorch's extra_repr (golden-checked); a wrong repr would be worse than none
    const other = firstNotTorchNn(root)
    if (other !== undefined) throw materiaError('reprNotTorchNn', { qualname: other })
    return moduleRepr(root)
  }

  const remove: ModuleRecords['delete'] = async (sessionId, moduleId) => {
    if (!await app.store.deleteModule(sessionId, moduleId)) throw notFound(moduleId)
    ledger.release(moduleId)
  }

  app.decorate('moduleRecords', { ledger, create, get, rebuild, repr, delete: remove })
  const registers = [app.metrics.registry]
  void new Gauge({ name: 'materia_module_record_bytes', help: 'Heap bytes held by module records on this replica (MATERIA_MODULE_BUDGET).', registers, collect () { this.set(ledger.bytes) } })
}

export default fp(moduleRecordsPlugin, { name: 'module-records', fastify: '5.x', dependencies: ['session-store', 'auth', 'metrics'] })
