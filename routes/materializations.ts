// Materializations: a module given real memory (empty, constant, or from a checkpoint upload),
// its status and progress, and its bytes as raw tensors and safetensors files.
import { createHash } from 'node:crypto'
import type { Socket } from 'node:net'
import type { Readable } from 'node:stream'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { errorDefs, MateriaError, materiaError } from '../src/errors.js'
import { DTYPES } from '../src/tensor/dtype.js'
import { parseDType, type BuiltModule, type DType, type ModuleNode } from '../src/nn/index.js'
import { errorResponses, PageQuery } from '../src/schemas/common.js'
import { CheckpointQuery, CreateMaterialization, InitSpec, Materialization, MaterializationId, MaterializationList } from '../src/schemas/materializations.js'
import { ModuleId, SessionId } from '../src/schemas/sessions.js'
import { newHandle } from '../src/store/session-store.js'
import { pageInOrder } from '../src/store/cursor.js'
import { castTensors, constantFills, planArena, type InitKind } from '../src/materialize/plan.js'
import type { FillRange } from '../src/materialize/constant-fill.js'
import type { Device, Materialization as Mat, MaterializationOptions } from '../src/materialize/registry.js'
import { checkCheckpoint, checkpointCopies, readCheckpointHeader } from '../src/materialize/checkpoint.js'
import { planShards, INDEX_FILE_NAME } from '../src/serialize/sharding.js'
import { sendBytes, type Segment } from './byte-response.js'
import { storedModule } from './modules.js'
import { InitRuleError } from '../src/init/module-init.js'
import { OverrideError, parseOverrides, type Override } from '../src/init/init-overrides.js'
import { planInit } from '../src/materialize/init-plan.js'

type MaterializationView = typeof Materialization.static

const base = (m: Mat): string => `/v1/sessions/${m.sessionId}/materializations/${m.id}`

export function materializationView (m: Mat): MaterializationView {
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
      href: `${base(m)}/tensors/${encodeURIComponent(t.name)}`
    })),
    safetensors: `${base(m)}/safetensors`
  }
}

export interface StartRequest {
  sessionId: string
  moduleId: string
  built: BuiltModule
  /** the module tree (buildModuleTree), needed when the init draws random numbers */
  tree?: ModuleNode | undefined
  device: Device
  init: InitKind | typeof InitSpec.static
  seed?: number | undefined
  rng?: 'torch' | 'philox' | undefined
  dtype?: string | undefined
  /** the caller's tenant and its resident-bytes quota (docs/tenants.md) */
  tenant: NonNullable<MaterializationOptions['tenant']>
}

/** The tenant part of a StartRequest, from the request's tenant and limits. */
export function tenantOf (request: FastifyRequest): StartRequest['tenant'] {
  return { id: request.tenant, maxResidentBytes: request.limits.maxResidentBytes }
}

/** Whether the init needs the module tree and a random stream (init 'default' or any override). */
export function initDraws (init: StartRequest['init']): boolean {
  return typeof init === 'string' ? init === 'default' : (init.default ?? 'default') === 'default' || Object.keys(init.overrides ?? {}).length > 0
}

function parseInit (init: StartRequest['init']): { base: InitKind, overrides: Override[] } {
  if (typeof init === 'string') return { base: init, overrides: [] }
  try {
    return { base: init.default ?? 'default', overrides: parseOverrides(init.overrides ?? {}) }
  } catch (err) {
    if (err instanceof OverrideError) throw materiaError(err.unavailable ? 'initUnavailable' : 'materializationOptions', err.message)
    throw err
  }
}

/** Validates the options, plans the arena and starts the fill (shared by skip_init). */
export function startMaterialization (app: FastifyInstance, r: StartRequest): Mat {
  let dtype: DType | undefined
  if (r.dtype !== undefined) {
    dtype = parseDType(r.dtype)
    if (dtype === undefined || !DTYPES[dtype].floating) {
      throw materiaError('materializationOptions', `dtype must be a floating dtype (float32, float64, float16, bfloat16), got '${r.dtype}'`)
    }
  }
  const { base, overrides } = parseInit(r.init)
  const draws = initDraws(r.init)
  if (!draws && (r.seed !== undefined || r.rng !== undefined)) {
    throw materiaError('materializationOptions', `seed and rng apply to init 'default' or overrides only (init is '${base}')`)
  }
  const plan = planArena(castTensors(r.built.tensors, dtype))
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
  if (!draws) return app.materializations.start(newHandle('mat'), opts, plan, { constants: constantFills(plan, base) })
  if (r.tree === undefined) throw new Error('internal: init with random draws needs the module tree')
  if (opts.rng === 'philox') {
    if (overrides.some((o) => o.fn === 'trunc_normal_')) {
      throw materiaError('initUnavailable', "trunc_normal_ overrides need rng 'torch' (its rejection loop is defined on torch's stream)")
    }
  }
  let exec
  try {
    exec = planInit(r.tree, plan, { base, overrides, rng: opts.rng ?? 'torch', seed: opts.seed ?? 0 })
  } catch (err) {
    if (err instanceof OverrideError) throw materiaError(err.unavailable ? 'initUnavailable' : 'materializationOptions', err.message)
    if (err instanceof InitRuleError) throw materiaError('initUnavailable', `init '${base}' for ${r.built.qualname}: ${err.message}`)
    throw err
  }
  return app.materializations.start(newHandle('mat'), opts, plan, { constants: exec.constants, init: exec })
}

/** Waits for the fill; a client that goes away first cancels it and frees the memory. */
export async function awaitFill (app: FastifyInstance, request: FastifyRequest, m: Mat): Promise<void> {
  const onClose = (): void => {
    if (m.status === 'pending') {
      request.log.info({ materializationId: m.id }, 'client went away: cancelling the fill')
      app.materializations.delete(m.sessionId, m.id)
    }
  }
  request.raw.socket?.once('close', onClose)
  try {
    await m.done
  } finally {
    request.raw.socket?.off('close', onClose)
  }
}

/**
 * A checkpoint upload's body as chunks. One that sends nothing for `idleMs` (MATERIA_RECEIVE_TIMEOUT)
 * fails with a 408, so a client that sends its header and stalls cannot hold a module's reservation
 * until Node's 300 s requestTimeout (https://nodejs.org/api/http.html#serverrequesttimeout).
 */
function uploadBody (stream: Readable, idleMs: number, length: number | undefined): AsyncIterator<Uint8Array> {
  const chunks = stream[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>
  if (idleMs <= 0) return chunks
  let received = 0
  return {
    next: async () => {
      let timer: NodeJS.Timeout | undefined
      const idle = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => {
          reject(materiaError('requestTimeout', `The upload sent no byte for ${idleMs} ms after ${received} of ${length ?? 'an unknown number of'} bytes (MATERIA_RECEIVE_TIMEOUT)`))
        }, idleMs)
      })
      try {
        const next = await Promise.race([chunks.next(), idle])
        if (next.done !== true) received += next.value.length
        return next
      } finally {
        clearTimeout(timer)
      }
    }
  }
}

/** Bytes of an unread upload body dropped after the answer; past this the connection is closed. */
const LINGER_MAX_BYTES = 8 * 2 ** 20
/** Longest pause in the dropped bytes before the connection is closed (nginx's lingering_timeout). */
const LINGER_IDLE_MS = 5000

/**
 * After the answer to an upload whose body was not read to its end (refused early, or timed out):
 * left paused, the rest would hold the connection open, and app.close() with it. Like nginx's
 * lingering_close (https://nginx.org/en/docs/http/ngx_http_core_module.html#lingering_close), the
 * rest is read and dropped for a while, so the client reads the answer rather than a connection
 * reset; the connection is closed after LINGER_MAX_BYTES, after a pause, on a 408 (the client is
 * stalled) or when the service is shutting down. A body that ends in time keeps the connection.
 */
function settleUnreadBody (request: FastifyRequest, reply: FastifyReply, lingering: Set<Socket>, closing: () => boolean): void {
  reply.raw.once('finish', () => {
    const body = request.raw
    const socket = body.socket
    // injected requests (light-my-request) have a stand-in socket with nothing to close
    if (body.complete || socket === null || socket.destroyed || typeof socket.destroy !== 'function') return
    if (reply.statusCode === errorDefs.requestTimeout.statusCode || closing()) {
      socket.destroy()
      return
    }
    const idleMs = Math.min(LINGER_IDLE_MS, request.server.config.receiveTimeout > 0 ? request.server.config.receiveTimeout : LINGER_IDLE_MS)
    let dropped = 0
    let timer: NodeJS.Timeout | undefined
    const stop = (): void => {
      clearTimeout(timer)
      body.off('readable', drop)
      lingering.delete(socket)
    }
    const close = (): void => { stop(); socket.destroy() }
    function drop (): void {
      for (let chunk = body.read() as Buffer | null; chunk !== null; chunk = body.read() as Buffer | null) dropped += chunk.length
      clearTimeout(timer)
      if (dropped > LINGER_MAX_BYTES) close()
      else timer = setTimeout(close, idleMs)
    }
    lingering.add(socket)
    body.on('readable', drop)
    body.once('end', () => { if (closing()) close(); else stop() })
    socket.once('close', stop)
    drop()
  })
}

function etagOf (m: Mat, what: string): string {
  return `"${createHash('sha256').update(`${m.id}\0${what}`).digest('base64url').slice(0, 27)}"`
}

export default async function materializationRoutes (fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const registry = app.materializations

  // checkpoint uploads arrive as a stream: no buffering, no body limit beyond the module's own size
  app.addContentTypeParser('application/octet-stream', (_request, payload, done) => { done(null, payload) })
  // connections dropping the rest of a refused upload: closed at once when the service shuts down
  const lingering = new Set<Socket>()
  let closing = false
  app.addHook('preClose', async () => {
    closing = true
    for (const socket of lingering) socket.destroy()
  })

  const moduleParams = Type.Object({ sessionId: SessionId, moduleId: ModuleId })
  const sessionParams = Type.Object({ sessionId: SessionId })
  const matParams = Type.Object({ sessionId: SessionId, materializationId: MaterializationId })
  const lookupErrors = errorResponses('validation', 'sessionNotFound', 'materializationNotFound', 'unauthorized')

  async function requireMaterialization (request: FastifyRequest, sessionId: string, id: string): Promise<Mat> {
    const session = await app.requireSession(request, sessionId)
    const m = registry.get(session.id, id)
    if (m === undefined) throw materiaError('materializationNotFound', `Materialization '${id}' not found`)
    return m
  }
  function requireReady (m: Mat): void {
    if (m.status !== 'ready') {
      throw materiaError('materializationNotReady', `Materialization '${m.id}' is ${m.status}${m.error !== undefined ? ` (${m.error})` : ''}; bytes are served once it is ready`, m.status === 'pending' ? { 'retry-after': '1' } : undefined)
    }
  }

  app.post('/v1/sessions/:sessionId/modules/:moduleId/materializations', {
    bodyLimit: Number.MAX_SAFE_INTEGER,
    schema: {
      operationId: 'createMaterialization',
      tags: ['materializations'],
      summary: 'Give a module real memory',
      description: 'JSON options materialize empty (skip_init), zeros, ones, or PyTorch\'s seeded default init (optionally with ' +
        'per-tensor overrides), on `cpu` or `worker`. A body of type ' +
        '`application/octet-stream` holding a safetensors file materializes the module from that checkpoint instead, ' +
        'streamed in; keys and shapes are checked like load_state_dict(strict=True), floating tensors cast as param.copy_() does, or with `?strict=false` like ' +
        'load_state_dict(strict=False) with the missing keys filled by `init` (default: the module\'s seeded default init). ' +
        'The query options apply to uploads only.',
      params: moduleParams,
      querystring: CheckpointQuery,
      body: {
        content: {
          'application/json': { schema: Type.Ref(CreateMaterialization) },
          'application/octet-stream': { schema: { description: 'A safetensors file (binary), streamed in.' } }
        }
      },
      response: {
        201: Type.Ref(Materialization, { description: 'Materialized.' }),
        202: Type.Ref(Materialization, { description: 'Accepted (wait: false); poll the Location for progress.' }),
        ...errorResponses('validation', 'materializationOptions', 'checkpointInvalid', 'checkpointMismatch', 'sessionNotFound', 'moduleNotFound',
          'materializationNotReady', 'memoryBudget', 'tenantMemoryQuota', 'initUnavailable', 'unsupportedMediaType', 'requestTimeout', 'unauthorized')
      }
    }
  }, async (request, reply) => {
    const { sessionId, moduleId } = request.params
    const session = await app.requireSession(request, sessionId)
    let m: Mat
    if (request.headers['content-type']?.startsWith('application/octet-stream') === true) {
      settleUnreadBody(request, reply, lingering, () => closing)
      const { root, built } = await storedModule(app, session.id, moduleId)
      m = await loadCheckpoint(request, session.id, moduleId, built, root, request.query)
    } else {
      if (Object.keys(request.query).length > 0) {
        throw materiaError('materializationOptions', `Query options (${Object.keys(request.query).join(', ')}) apply to checkpoint uploads; a JSON request takes its options in the body`)
      }
      // no body (and no content type): every option at its default, as POST /v1/sessions takes it
      const body = (request.body ?? {}) as typeof CreateMaterialization.static
      const init = body.init ?? 'empty'
      const { root: tree, built } = await storedModule(app, session.id, moduleId)
      m = startMaterialization(app, { sessionId: session.id, moduleId, built, tree, device: body.device ?? 'cpu', init, seed: body.seed, rng: body.rng, dtype: body.dtype, tenant: tenantOf(request) })
      if (body.wait === false) {
        return await reply.code(202).header('location', base(m)).send(materializationView(m))
      }
      await awaitFill(app, request, m)
    }
    if (m.status === 'failed') {
      throw materiaError('materializationNotReady', `Materialization failed: ${m.error ?? 'unknown'}`)
    }
    return await reply.code(201).header('location', base(m)).send(materializationView(m))
  })

  async function loadCheckpoint (request: FastifyRequest, sessionId: string, moduleId: string, built: BuiltModule, tree: ModuleNode,
    query: typeof CheckpointQuery.static): Promise<Mat> {
    const strict = query.strict ?? true
    const missingInit = query.init ?? 'default'
    if (strict && (query.init !== undefined || query.seed !== undefined || query.rng !== undefined)) {
      throw materiaError('materializationOptions', 'init, seed and rng choose the values of missing keys: they need strict=false')
    }
    const draws = missingInit === 'default'
    if (!draws && (query.seed !== undefined || query.rng !== undefined)) {
      throw materiaError('materializationOptions', `seed and rng apply to init 'default' (init is '${missingInit}')`)
    }
    const length = request.headers['content-length'] !== undefined ? Number(request.headers['content-length']) : undefined
    const fileSize = length !== undefined && Number.isSafeInteger(length) ? length : undefined
    const body = uploadBody(request.body as Readable, app.config.receiveTimeout, fileSize)
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
      try {
        exec = planInit(tree, plan, { base: 'default', overrides: [], rng, seed, only: keys.unloaded })
      } catch (err) {
        if (err instanceof InitRuleError) throw materiaError('initUnavailable', `init 'default' for ${built.qualname}: ${err.message}`)
        throw err
      }
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
      tenant: tenantOf(request),
      checkpoint: { strict, missingKeys: keys.missingKeys, unexpectedKeys: keys.unexpectedKeys, missingInit }
    }
    let timedOut: MateriaError | undefined
    const data = {
      async next () {
        try {
          return await body.next()
        } catch (err) {
          if (err instanceof MateriaError && err.code === errorDefs.requestTimeout.code) timedOut = err
          throw err
        }
      }
    }
    const m = registry.start(newHandle('mat'), opts, plan, { constants: fills, init: exec, copies: checkpointCopies(header, plan) },
      { first: rest, body: data, size: header.dataSize })
    await awaitFill(app, request, m)
    if (m.status === 'failed' && m.error !== undefined && m.error !== 'cancelled') {
      // the reservation goes back with the failed materialization
      registry.delete(sessionId, m.id)
      throw timedOut ?? materiaError('checkpointInvalid', m.error)
    }
    return m
  }

  app.get('/v1/sessions/:sessionId/materializations', {
    schema: {
      operationId: 'listMaterializations',
      tags: ['materializations'],
      summary: 'List the materializations of a session',
      description: 'Paged: `limit` materializations (default 100, at most 1000) after `cursor`; `nextCursor` is null on the last page.',
      params: sessionParams,
      querystring: PageQuery,
      response: { 200: Type.Ref(MaterializationList, { description: 'Materializations, oldest first.' }), ...errorResponses('validation', 'invalidCursor', 'sessionNotFound', 'unauthorized') }
    }
  }, async (request) => {
    const session = await app.requireSession(request, request.params.sessionId)
    // the registry keeps a session's materializations in start order: a page is O(the session's own)
    const page = pageInOrder(registry.list(session.id), request.query, (m) => m)
    return { materializations: page.items.map(materializationView), nextCursor: page.nextCursor }
  })

  app.get('/v1/sessions/:sessionId/materializations/:materializationId', {
    schema: {
      operationId: 'getMaterialization',
      tags: ['materializations'],
      summary: 'Status and progress of a materialization',
      params: matParams,
      response: { 200: Type.Ref(Materialization, { description: 'The materialization.' }), ...lookupErrors }
    }
  }, async (request) => materializationView(await requireMaterialization(request, request.params.sessionId, request.params.materializationId)))

  app.delete('/v1/sessions/:sessionId/materializations/:materializationId', {
    schema: {
      operationId: 'deleteMaterialization',
      tags: ['materializations'],
      summary: 'Delete a materialization (cancels a running fill, frees the memory)',
      params: matParams,
      response: { 204: Type.Null({ description: 'Deleted; its memory is returned.' }), ...lookupErrors }
    }
  }, async (request, reply) => {
    const m = await requireMaterialization(request, request.params.sessionId, request.params.materializationId)
    registry.delete(m.sessionId, m.id)
    return await reply.code(204).send(null)
  })

  const bytesResponses = {
    200: { description: 'The bytes.', type: 'string', format: 'binary' },
    206: { description: 'The requested byte range.', type: 'string', format: 'binary' },
    304: { description: 'Not modified (If-None-Match).', type: 'null' },
    ...errorResponses('validation', 'sessionNotFound', 'materializationNotFound', 'tensorNotFound', 'materializationNotReady', 'rangeNotSatisfiable', 'unauthorized')
  }

  app.get('/v1/sessions/:sessionId/materializations/:materializationId/tensors/:name', {
    schema: {
      operationId: 'getTensorBytes',
      tags: ['materializations'],
      summary: 'Raw bytes of one tensor',
      description: 'Little-endian, C order. Headers x-tensor-dtype, x-tensor-shape (comma-separated), ETag; HEAD and Range (206/416).',
      produces: ['application/octet-stream'],
      params: Type.Object({ sessionId: SessionId, materializationId: MaterializationId, name: Type.String({ description: 'state_dict key.' }) }),
      response: bytesResponses
    }
  }, async (request, reply) => {
    const m = await requireMaterialization(request, request.params.sessionId, request.params.materializationId)
    const t = m.plan.byName.get(request.params.name)
    if (t === undefined) throw materiaError('tensorNotFound', `Materialization '${m.id}' has no tensor '${request.params.name}'`)
    requireReady(m)
    return sendBytes(request, reply, [{ arena: m.arena, offset: t.offset, length: t.nbytes }], etagOf(m, `tensor:${t.name}`),
      { 'x-tensor-dtype': t.dtype, 'x-tensor-shape': t.shape.join(',') })
  })

  app.get('/v1/sessions/:sessionId/materializations/:materializationId/safetensors', {
    schema: {
      operationId: 'getSafetensors',
      tags: ['materializations'],
      summary: 'The state dict as one safetensors file',
      description: 'Canonical safetensors, byte-compatible with the Python package (`__metadata__` has "format": "pt"); tied ' +
        'storage written once, the aliases recorded in `__metadata__` as safetensors.torch.save_model does. HEAD and Range.',
      produces: ['application/octet-stream'],
      params: matParams,
      response: bytesResponses
    }
  }, async (request, reply) => {
    const m = await requireMaterialization(request, request.params.sessionId, request.params.materializationId)
    requireReady(m)
    const { layout } = m.plan
    void reply.header('content-disposition', 'attachment; filename="model.safetensors"')
    return sendBytes(request, reply, [{ buffer: layout.header }, { arena: m.arena, offset: 0, length: layout.dataSize }], etagOf(m, 'safetensors'), {})
  })

  const shardQuery = Type.Object({ maxShardBytes: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'Largest shard in bytes, as save_pretrained(max_shard_size=…); default 5000000000.' })) })

  app.get('/v1/sessions/:sessionId/materializations/:materializationId/safetensors/:file', {
    schema: {
      operationId: 'getSafetensorsShard',
      tags: ['materializations'],
      summary: 'Sharded export: the index or one shard',
      description: '`model.safetensors.index.json` or `model-0000k-of-0000n.safetensors` exactly as save_pretrained(max_shard_size=maxShardBytes) ' +
        'splits the state dict (huggingface_hub\'s algorithm). Pass the same maxShardBytes to the index and the shards.',
      params: Type.Object({ sessionId: SessionId, materializationId: MaterializationId, file: Type.String({ description: 'A file name from the index.' }) }),
      querystring: shardQuery,
      response: { ...bytesResponses, 200: { description: 'The index (JSON) or the shard (bytes).', type: 'string', format: 'binary' } }
    }
  }, async (request, reply) => {
    const m = await requireMaterialization(request, request.params.sessionId, request.params.materializationId)
    requireReady(m)
    const persistent = m.plan.tensors.filter((t) => t.persistent)
    const params = persistent.filter((t) => t.kind === 'parameter' && t.tiedTo === undefined).reduce((n, t) => n + t.numel, 0)
    const plan = planShards(persistent.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, nbytes: t.nbytes, tiedTo: t.tiedTo })),
      { maxShardSize: request.query.maxShardBytes, totalParameters: params, tiedAliasesInMetadata: true })
    const tag = `shards:${request.query.maxShardBytes ?? 'default'}`
    if (request.params.file === INDEX_FILE_NAME) {
      return sendBytes(request, reply, [{ buffer: Buffer.from(plan.indexJson) }], etagOf(m, `${tag}:index`), {}, 'application/json; charset=utf-8')
    }
    const shard = plan.shards.find((s) => s.file === request.params.file)
    if (shard === undefined) {
      throw materiaError('tensorNotFound', `No file '${request.params.file}' in this export; the index lists ${plan.shards.map((s) => s.file).join(', ')}`)
    }
    const segments: Segment[] = [{ buffer: shard.layout.header }]
    for (const t of shard.layout.tensors) {
      const p = m.plan.byName.get(t.name)
      if (p !== undefined) segments.push({ arena: m.arena, offset: p.offset, length: t.nbytes })
    }
    void reply.header('content-disposition', `attachment; filename="${shard.file}"`)
    return sendBytes(request, reply, segments, etagOf(m, `${tag}:${shard.file}`), {})
  })
}
