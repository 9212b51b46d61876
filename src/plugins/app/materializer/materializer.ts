// The materializer as an app service: starts materializations from JSON options or checkpoint
// uploads for the caller's tenant, records each in the session store, waits for their fills, finds
// them (in this replica's registry, else from their record: opened here, or reported as the record
// says), and gives the API's view of them. Routes call it as `app.materializer`; the registry
// (`app.materializations`) holds the ones this replica serves. How replicas share them:
// docs/materialization-records.md.
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Readable } from 'node:stream'
import { errorDefs, MateriaError, materiaError } from '../../../errors.js'
import type { CheckpointQuery } from '../../../schemas/materializations.js'
import type { PageQuery } from '../../../schemas/common.js'
import type { AnyModuleSpecT, ModuleSpecT } from '../../../schemas/nn.js'
import type { Module } from '../../../schemas/sessions.js'
import { Device, isOneOf, type InitKind } from '../../../schemas/vocabulary.js'
import { jsonSpecOf, lookupClass } from '../../../nn/index.js'
import type { Materialization } from '../../../materialize/registry.js'
import type { ArenaPlan } from '../../../materialize/plan.js'
import { allPages, type MaterializationRecord } from '../../../store/session-store.js'
import { contentLength, uploadBody } from '../../../http/upload-body.js'
import { etagOf } from '../../../http/byte-response.js'
import type { RebuiltModule } from '../module-records.js'
import { planMaterialization, planOf, startMaterialization, type FillServices, type MaterializationTenant, type StartRequest } from './start.js'
import { startCheckpointLoad } from './checkpoint-load.js'
import { openCheckpointRecord } from './checkpoint-file.js'
import { optionsOf, recordOf } from './record.js'
import { HEARTBEAT_INTERVAL_MS } from '../replica.js'
import { materializationHref, materializationView, type MaterializationView } from './view.js'
import { shardFile, type ShardFile } from './shard-files.js'
import { pretrainedFiles, type PretrainedFiles } from './pretrained-files.js'

declare module 'fastify' {
  interface FastifyInstance { materializer: Materializer }
}

/**
 * A materialization this replica knows from its record only: filling on another replica, or failed.
 * (A ready one is opened here and found as a Materialization.)
 */
export interface RecordedMaterialization { id: string, sessionId: string, record: MaterializationRecord, plan: ArenaPlan }

/** A materialization as a route finds it: one whose bytes this replica serves, or only its record. */
export type FoundMaterialization = Materialization | RecordedMaterialization

export interface Materializer {
  /** Validates the options, plans the arena, starts the fill for the caller's tenant and records it in the store. */
  start: (request: FastifyRequest, r: Omit<StartRequest, 'tenant'>) => Promise<Materialization>
  /** Waits for the fill (a client that goes away first cancels it and frees the memory); a failed fill is a 409. */
  awaitReady: (request: FastifyRequest, m: Materialization) => Promise<void>
  /**
   * torch.nn.utils.skip_init in one call: builds the module of `spec` in the session and materializes
   * it empty on `kwargs.device` (cpu by default), with PyTorch's two errors for names that are not
   * modules or modules without a device argument; resolves once it is ready.
   */
  skipInit: (request: FastifyRequest, sessionId: string, spec: AnyModuleSpecT) => Promise<{ m: Materialization, module: typeof Module.static }>
  /** Materializes a stored module from the request's body, a safetensors file streamed in; resolves once it is ready. */
  loadCheckpoint: (request: FastifyRequest, sessionId: string, moduleId: string, query: typeof CheckpointQuery.static) => Promise<Materialization>
  /**
   * A materialization of the caller's session, made by any replica, or a 404: this replica's own,
   * else its record: a ready one opened here (served lazily), a pending or failed one as recorded
   * (a pending one whose replica stopped is failed first).
   */
  find: (request: FastifyRequest, sessionId: string, id: string) => Promise<FoundMaterialization>
  /** One page of the session's materializations (every replica's), oldest first. */
  list: (request: FastifyRequest, sessionId: string, page: typeof PageQuery.static) => Promise<{ materializations: MaterializationView[], nextCursor: string | null }>
  /** Deletes a materialization of the caller's session: its record, and its memory on every replica (a running fill is cancelled); or a 404. */
  delete: (request: FastifyRequest, sessionId: string, id: string) => Promise<void>
  /** Deletes the materializations of a module (every replica's), as its module is deleted. */
  deleteOfModule: (sessionId: string, moduleId: string) => Promise<void>
  /** The materialization whose bytes this replica serves, or a 409 (with Retry-After while pending) when they cannot be served yet. */
  requireReady: (m: FoundMaterialization) => Materialization
  view: (m: FoundMaterialization) => MaterializationView
  href: (m: FoundMaterialization) => string
  /** The ETag of the part `what` of its bytes: from what determines them when they are reproducible (identity.ts), else from its id. */
  etag: (m: Materialization, what: string) => string
  shardFile: (m: Materialization, file: string, maxShardBytes: number | undefined) => ShardFile
  /** The files save_pretrained writes for a ready materialization of a transformers model (pretrained-files.ts); a 501 for other modules. */
  pretrained: (m: Materialization, maxShardBytes?: number) => Promise<PretrainedFiles>
}

/** The error of a materialization whose replica stopped (a crash, kill -9, a shutdown) before its fill ended. */
export const OWNER_STOPPED = 'the replica filling it stopped before it was ready'

/** The tenant part of a start, from the request's tenant and limits. */
const tenantOf = (request: FastifyRequest): MaterializationTenant => ({ id: request.tenant, maxResidentBytes: request.limits.maxResidentBytes })

const failed = (m: Materialization): Error => materiaError('materializationFailed', { reason: m.error ?? 'unknown' })

const notFound = (id: string): Error => materiaError('materializationNotFound', { id })

const isRecorded = (m: FoundMaterialization): m is RecordedMaterialization => 'record' in m

/** Shard sizes whose file lists one materialization keeps (a client asks for one or two). */
const PRETRAINED_CACHED = 4

export function createMaterializer (app: FastifyInstance): Materializer {
  const registry = app.materializations
  const services: FillServices = { registry, dataDir: app.dataDir }
  // the file lists of a materialization, by shard size: a download asks for each file twice (HEAD, GET)
  const pretrainedCache = new WeakMap<Materialization, Map<number | undefined, PretrainedFiles>>()
  const { store, replica } = app
  /** copies opened here from another replica's record → that record (their view and status are the record's) */
  const opened = new WeakMap<Materialization, MaterializationRecord>()
  /** opens under way, by id: concurrent requests for one record share one copy */
  const opening = new Map<string, Promise<Materialization>>()
  /** this replica's fills still running, whose records it marks failed if it stops first */
  const filling = new Set<Materialization>()
  let closing = false

  const logged = (what: string, ids: { sessionId: string, id: string }) => (err: unknown): void => {
    app.log.error({ err, sessionId: ids.sessionId, materializationId: ids.id }, what)
  }

  /** Frees a materialization here and deletes its record (every replica frees its copy). */
  async function forget (m: { sessionId: string, id: string }): Promise<void> {
    registry.delete(m.sessionId, m.id)
    await store.deleteMaterialization(m.sessionId, m.id)
  }

  /** Puts the record of a materialization this replica just started, and writes its status when its fill ends. */
  async function track (m: Materialization): Promise<void> {
    let put: boolean
    try {
      put = await store.putMaterialization(recordOf(m, replica.id))
    } catch (err) {
      registry.delete(m.sessionId, m.id)
      throw err
    }
    if (!put) {
      registry.delete(m.sessionId, m.id)
      throw materiaError('sessionNotFound', { id: m.sessionId })
    }
    if (m.lazy) return
    filling.add(m)
    void m.done.then(() => { settleUntilWritten(m) })
  }

  /** Writes the end of a fill; while the store cannot take it, again at each heartbeat interval (else the record would stay pending). */
  function settleUntilWritten (m: Materialization): void {
    settle(m).then(() => { filling.delete(m) }, (err: unknown) => {
      logged('materialization status not written: trying again', m)(err)
      setTimeout(() => { settleUntilWritten(m) }, HEARTBEAT_INTERVAL_MS).unref()
    })
  }

  /** Writes the status a fill ended with (and the checkpoint's file), unless the store already says otherwise. */
  async function settle (m: Materialization): Promise<void> {
    // stopping: onClose marked it failed; deleted: its record went with it
    if (closing || registry.get(m.sessionId, m.id) !== m) return
    const set = await store.setMaterializationStatus(m.sessionId, m.id, 'pending', { status: m.status, ...(m.error !== undefined ? { error: m.error } : {}) })
    if (set === undefined) {
      registry.delete(m.sessionId, m.id)
      return
    }
    if (!set.changed) {
      if (set.record.status !== m.status) {
        // another replica declared it failed while this one's heartbeats were late: the record stands, everywhere
        app.log.warn({ materializationId: m.id, recorded: set.record.status }, 'fill ended after another replica declared it failed')
        registry.delete(m.sessionId, m.id)
      }
      return
    }
    if (m.status === 'ready' && m.file !== undefined) {
      await store.putMaterialization(recordOf(m, replica.id))
      // deleted between the status and the file: the put must not bring the record back
      if (registry.get(m.sessionId, m.id) !== m) await store.deleteMaterialization(m.sessionId, m.id)
    }
  }

  /** A pending record whose replica no longer sends heartbeats is failed (compare-and-set); the record as it stands, or undefined when gone. */
  async function resolve (r: MaterializationRecord): Promise<MaterializationRecord | undefined> {
    if (r.status !== 'pending') return r
    // this replica holds every fill it runs: a pending record of its own that it does not hold is over
    if (r.owner !== replica.id && await store.isReplicaAlive(r.owner)) return r
    const set = await store.setMaterializationStatus(r.sessionId, r.id, 'pending', { status: 'failed', error: OWNER_STOPPED })
    if (set?.changed === true) app.log.warn({ materializationId: r.id, owner: r.owner }, 'its replica stopped mid-fill: marked failed')
    return set?.record
  }

  /** The module of a record, built again; a module deleted meanwhile makes its materialization a 404. */
  async function moduleOf (r: MaterializationRecord): Promise<RebuiltModule> {
    try {
      return await app.moduleRecords.rebuild(r.sessionId, r.moduleId)
    } catch (err) {
      if (err instanceof MateriaError && err.code === errorDefs.moduleNotFound.code) throw notFound(r.id)
      throw err
    }
  }

  /** The arena's plan of a record's materialization, as its replica planned it. */
  const planOfRecord = async (r: MaterializationRecord): Promise<ArenaPlan> => planOf((await moduleOf(r)).built, optionsOf(r).dtype)

  /** A reproducible materialization of another replica, served here lazily: the same options, so the same bytes and ETags. */
  function openReproducible (request: FastifyRequest, r: MaterializationRecord, { root, built }: RebuiltModule): Materialization {
    const o = optionsOf(r)
    // checkpoint records take the other path, so init is an InitKind here
    const base = o.init as InitKind
    // empty is served as zeros: the fill of 'empty' writes the buffers and leaves the rest zero, as the owner's fresh memory is
    const { opts, plan, fill } = planMaterialization({
      sessionId: r.sessionId,
      moduleId: r.moduleId,
      built,
      tree: root,
      device: o.device,
      init: o.overrides !== undefined ? { default: base, overrides: o.overrides } : base,
      seed: o.seed ?? undefined,
      rng: o.rng ?? undefined,
      dtype: o.dtype ?? undefined,
      tenant: tenantOf(request)
    })
    return registry.startLazy(r.id, opts, plan, fill)
  }

  /** Opens a ready record of another replica here (once, however many requests ask at the same time). */
  async function open (request: FastifyRequest, r: MaterializationRecord): Promise<Materialization> {
    const under = opening.get(r.id)
    if (under !== undefined) return await under
    const opens = (async () => {
      const module = await moduleOf(r)
      const m = optionsOf(r).init === 'checkpoint' ? await openCheckpointRecord(services, r, module) : openReproducible(request, r, module)
      opened.set(m, r)
      // deleted, or its session ended, while it was being opened: the deletion freed nothing here yet
      let still: MaterializationRecord | undefined
      try {
        still = await store.getMaterialization(r.sessionId, r.id)
      } finally {
        if (still === undefined) registry.delete(r.sessionId, r.id)
      }
      if (still === undefined) throw notFound(r.id)
      return m
    })()
    opening.set(r.id, opens)
    try {
      return await opens
    } finally {
      opening.delete(r.id)
    }
  }

  /** Waits for the fill; a client that goes away first cancels it and frees the memory. */
  async function awaitFill (request: FastifyRequest, m: Materialization): Promise<void> {
    const onClose = (): void => {
      if (m.status === 'pending') {
        request.log.info({ materializationId: m.id }, 'client went away: cancelling the fill')
        forget(m).catch(logged('record of a cancelled fill not deleted', m))
      }
    }
    request.raw.socket?.once('close', onClose)
    try {
      await m.done
    } finally {
      request.raw.socket?.off('close', onClose)
    }
  }

  const start: Materializer['start'] = async (request, r) => {
    const m = startMaterialization(services, { ...r, tenant: tenantOf(request) })
    await track(m)
    return m
  }

  async function awaitReady (request: FastifyRequest, m: Materialization): Promise<void> {
    await awaitFill(request, m)
    if (m.status === 'failed') throw failed(m)
  }

  const view = (m: FoundMaterialization): MaterializationView => isRecorded(m)
    ? materializationView(m.record, m.plan)
    : materializationView(opened.get(m) ?? recordOf(m, replica.id), m.plan, m.bytesDone())

  app.addHook('onClose', async () => {
    // a clean stop: the fills this replica runs will not finish; the others learn it now, not from missing heartbeats
    closing = true
    await Promise.all([...filling].map(async (m) => {
      // a fill that ended but whose status is not written yet: ready stays ready (other replicas can serve a reproducible one)
      const next = m.status === 'ready' ? { status: m.status } : { status: 'failed' as const, error: OWNER_STOPPED }
      await store.setMaterializationStatus(m.sessionId, m.id, 'pending', next).catch(logged('stopped fill\'s status not written', m))
    }))
  })

  return {
    start,
    awaitReady,

    async skipInit (request, sessionId, given) {
      // the python form read into the JSON form it stands for, whose class and device skip_init checks first
      const spec = jsonSpecOf(given) as ModuleSpecT
      // transformers models take no device argument, so a config.json is refused as their class would be
      if (spec.class === undefined) throw materiaError(spec.config !== undefined ? 'skipInitNoDeviceArg' : 'specNoClass', {})
      const found = lookupClass(spec.class)
      if (found.kind === 'nonModule') throw materiaError('notAModule', { pyClass: found.pyClass })
      if (!found.info.acceptsDevice) throw materiaError('skipInitNoDeviceArg', {})
      const device = spec.kwargs?.device ?? 'cpu'
      if (!isOneOf(Device, device)) {
        throw materiaError('skipInitDevice', { device: JSON.stringify(device) })
      }
      const { device: _final, ...kwargs } = spec.kwargs ?? {}
      const { id: moduleId, built, body: module } = await app.moduleRecords.create(request, sessionId, { ...spec, kwargs })
      const m = await start(request, { sessionId, moduleId, built, device, init: 'empty' })
      await awaitReady(request, m)
      return { m, module }
    },

    async loadCheckpoint (request, sessionId, moduleId, query) {
      const { root: tree, built } = await app.moduleRecords.rebuild(sessionId, moduleId)
      const fileSize = contentLength(request.headers)
      const body = uploadBody(request.body as Readable, app.config.receiveTimeout, fileSize)
      const { m, failure } = await startCheckpointLoad(services, { sessionId, moduleId, built, tree, query, body, fileSize, tenant: tenantOf(request) })
      await track(m)
      await awaitFill(request, m)
      if (m.status === 'failed' && m.error !== undefined && m.error !== 'cancelled') {
        // a file that fails its checks leaves nothing behind: its memory and its record
        await forget(m).catch(logged('record of a failed checkpoint not deleted', m))
        throw failure() ?? materiaError('checkpointFailed', { message: m.error })
      }
      if (m.status === 'failed') throw failed(m)
      return m
    },

    async find (request, sessionId, id) {
      // the record decides, even for a copy held here: a deletion whose message this replica missed
      // (its subscriber was reconnecting) frees the copy at its next request; read beside the session
      // check, so it costs no round trip
      const [session, stored] = await Promise.all([app.requireSession(request, sessionId), store.getMaterialization(sessionId, id)])
      if (stored === undefined) {
        if (registry.delete(session.id, id)) app.log.info({ materializationId: id }, 'its record is gone: the copy held here is freed')
        throw notFound(id)
      }
      const held = registry.get(session.id, id)
      if (held !== undefined) return held
      const r = await resolve(stored)
      if (r === undefined) throw notFound(id)
      if (r.status === 'ready') return await open(request, r)
      return { id: r.id, sessionId: r.sessionId, record: r, plan: await planOfRecord(r) }
    },

    async list (request, sessionId, query) {
      const session = await app.requireSession(request, sessionId)
      const page = await store.pageMaterializations(session.id, query)
      // a page's materializations share their modules: each module and dtype planned once
      const plans = new Map<string, Promise<ArenaPlan>>()
      const views = await Promise.all(page.items.map(async (stored) => {
        const held = registry.get(session.id, stored.id)
        if (held !== undefined) return view(held)
        const r = await resolve(stored)
        if (r === undefined) return undefined
        const key = `${r.moduleId}\0${String(optionsOf(r).dtype)}`
        const plan = plans.get(key) ?? planOfRecord(r)
        plans.set(key, plan)
        try {
          return materializationView(r, await plan)
        } catch (err) {
          // its module was deleted while the page was read: so is the materialization
          if (err instanceof MateriaError && err.code === errorDefs.materializationNotFound.code) return undefined
          throw err
        }
      }))
      return { materializations: views.filter((v) => v !== undefined), nextCursor: page.nextCursor }
    },

    async delete (request, sessionId, id) {
      const session = await app.requireSession(request, sessionId)
      // every replica hears of the deletion and frees its copy (onMaterializationEnd); this one at once
      const stored = await store.deleteMaterialization(session.id, id)
      const held = registry.delete(session.id, id)
      if (stored === undefined && !held) throw notFound(id)
    },

    async deleteOfModule (sessionId, moduleId) {
      const records = await allPages(async (req) => await store.pageMaterializations(sessionId, req))
      for (const r of records) if (r.moduleId === moduleId) await store.deleteMaterialization(sessionId, r.id)
      registry.deleteOfSession(sessionId, moduleId)
    },

    requireReady (m) {
      const status = isRecorded(m) ? m.record.status : m.status
      const error = isRecorded(m) ? m.record.error : m.error
      if (status !== 'ready' || isRecorded(m)) {
        throw materiaError('materializationNotReady', { id: m.id, status, reason: error !== undefined ? ` (${error})` : '' }, status === 'pending' ? { 'retry-after': '1' } : undefined)
      }
      return m
    },

    view,
    href: materializationHref,
    etag: (m, what) => etagOf(m.identity ?? m.id, what),
    shardFile,

    async pretrained (m, maxShardBytes) {
      const cached = pretrainedCache.get(m) ?? new Map<number | undefined, PretrainedFiles>()
      let files = cached.get(maxShardBytes)
      if (files === undefined) {
        const { root } = await app.moduleRecords.rebuild(m.sessionId, m.moduleId)
        files = pretrainedFiles(m, root, maxShardBytes)
        if (cached.size >= PRETRAINED_CACHED) cached.clear()
        cached.set(maxShardBytes, files)
        pretrainedCache.set(m, cached)
      }
      return files
    }
  }
}

export default fp(async function materializerPlugin (app: FastifyInstance): Promise<void> {
  app.decorate('materializer', createMaterializer(app))
}, { name: 'materializer', fastify: '5.x', dependencies: ['auth', 'session-store', 'worker-pool', 'materializations', 'data-dir', 'module-records', 'replica'] })
