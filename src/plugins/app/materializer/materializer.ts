// The materializer as an app service: starts materializations from JSON options or checkpoint
// uploads for the caller's tenant, waits for their fills, finds them, and gives the API's view of
// them. Routes call it as `app.materializer`; the registry (`app.materializations`) holds them.
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Readable } from 'node:stream'
import { materiaError } from '../../../errors.js'
import type { CheckpointQuery } from '../../../schemas/materializations.js'
import type { AnyModuleSpecT, ModuleSpecT } from '../../../schemas/nn.js'
import type { Module } from '../../../schemas/sessions.js'
import { Device, isOneOf } from '../../../schemas/vocabulary.js'
import { jsonSpecOf, lookupClass } from '../../../nn/index.js'
import type { Materialization } from '../../../materialize/registry.js'
import { contentLength, uploadBody } from '../../../http/upload-body.js'
import { etagOf } from '../../../http/byte-response.js'
import { startMaterialization, type FillServices, type MaterializationTenant, type StartRequest } from './start.js'
import { startCheckpointLoad } from './checkpoint-load.js'
import { materializationHref, materializationView, type MaterializationView } from './view.js'
import { shardFile, type ShardFile } from './shard-files.js'
import { pretrainedFiles, type PretrainedFiles } from './pretrained-files.js'

declare module 'fastify' {
  interface FastifyInstance { materializer: Materializer }
}

export interface Materializer {
  /** Validates the options, plans the arena and starts the fill, for the caller's tenant. */
  start: (request: FastifyRequest, r: Omit<StartRequest, 'tenant'>) => Materialization
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
  /** A materialization of the caller's session, or a 404. */
  find: (request: FastifyRequest, sessionId: string, id: string) => Promise<Materialization>
  /** Refuses (409, with Retry-After while pending) a materialization whose bytes cannot be served yet. */
  requireReady: (m: Materialization) => void
  view: (m: Materialization) => MaterializationView
  href: (m: Materialization) => string
  /** The ETag of the part `what` of its bytes: from what determines them when they are reproducible (identity.ts), else from its id. */
  etag: (m: Materialization, what: string) => string
  shardFile: (m: Materialization, file: string, maxShardBytes: number | undefined) => ShardFile
  /** The files save_pretrained writes for a ready materialization of a transformers model (pretrained-files.ts); a 501 for other modules. */
  pretrained: (m: Materialization, maxShardBytes?: number) => Promise<PretrainedFiles>
}

/** The tenant part of a start, from the request's tenant and limits. */
const tenantOf = (request: FastifyRequest): MaterializationTenant => ({ id: request.tenant, maxResidentBytes: request.limits.maxResidentBytes })

const failed = (m: Materialization): Error => materiaError('materializationFailed', { reason: m.error ?? 'unknown' })

/** Shard sizes whose file lists one materialization keeps (a client asks for one or two). */
const PRETRAINED_CACHED = 4

export function createMaterializer (app: FastifyInstance): Materializer {
  const registry = app.materializations
  const services: FillServices = { registry }
  // the file lists of a materialization, by shard size: a download asks for each file twice (HEAD, GET)
  const pretrainedCache = new WeakMap<Materialization, Map<number | undefined, PretrainedFiles>>()

  /** Waits for the fill; a client that goes away first cancels it and frees the memory. */
  async function awaitFill (request: FastifyRequest, m: Materialization): Promise<void> {
    const onClose = (): void => {
      if (m.status === 'pending') {
        request.log.info({ materializationId: m.id }, 'client went away: cancelling the fill')
        registry.delete(m.sessionId, m.id)
      }
    }
    request.raw.socket?.once('close', onClose)
    try {
      await m.done
    } finally {
      request.raw.socket?.off('close', onClose)
    }
  }

  const start: Materializer['start'] = (request, r) => startMaterialization(services, { ...r, tenant: tenantOf(request) })

  async function awaitReady (request: FastifyRequest, m: Materialization): Promise<void> {
    await awaitFill(request, m)
    if (m.status === 'failed') throw failed(m)
  }

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
      const m = start(request, { sessionId, moduleId, built, device, init: 'empty' })
      await awaitReady(request, m)
      return { m, module }
    },

    async loadCheckpoint (request, sessionId, moduleId, query) {
      const { root: tree, built } = await app.moduleRecords.rebuild(sessionId, moduleId)
      const fileSize = contentLength(request.headers)
      const body = uploadBody(request.body as Readable, app.config.receiveTimeout, fileSize)
      const { m, timedOut } = await startCheckpointLoad(services, { sessionId, moduleId, built, tree, query, body, fileSize, tenant: tenantOf(request) })
      await awaitFill(request, m)
      if (m.status === 'failed' && m.error !== undefined && m.error !== 'cancelled') {
        // the reservation goes back with the failed materialization
        registry.delete(sessionId, m.id)
        throw timedOut() ?? materiaError('checkpointFailed', { message: m.error })
      }
      if (m.status === 'failed') throw failed(m)
      return m
    },

    async find (request, sessionId, id) {
      const session = await app.requireSession(request, sessionId)
      const m = registry.get(session.id, id)
      if (m === undefined) throw materiaError('materializationNotFound', { id })
      return m
    },

    requireReady (m) {
      if (m.status !== 'ready') {
        throw materiaError('materializationNotReady', { id: m.id, status: m.status, reason: m.error !== undefined ? ` (${m.error})` : '' }, m.status === 'pending' ? { 'retry-after': '1' } : undefined)
      }
    },

    view: materializationView,
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
}, { name: 'materializer', fastify: '5.x', dependencies: ['auth', 'session-store', 'worker-pool', 'materializations', 'module-records'] })
