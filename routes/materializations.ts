// Materializations: a module given real memory (empty, constant, or from a checkpoint upload),
// its status and progress, and its bytes as raw tensors and safetensors files.
import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { materiaError } from '../src/errors.js'
import { bodyErrorResponses, errorResponses, PageQuery } from '../src/schemas/common.js'
import {
  byteResponses, CheckpointQuery, CreateMaterialization, Materialization, MaterializationList, MaterializationParams, SafetensorsIndex, ShardParams, ShardQuery, TensorParams
} from '../src/schemas/materializations.js'
import { ModuleParams, SessionParams } from '../src/schemas/sessions.js'
import type { Materialization as Mat } from '../src/materialize/registry.js'
import { sendBytes } from '../src/http/byte-response.js'
import { lingeringClose } from '../src/http/lingering-close.js'

export default async function materializationRoutes (fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { materializer } = app

  // checkpoint uploads arrive as a stream: no buffering, no body limit beyond the module's own size
  app.addContentTypeParser('application/octet-stream', (_request, payload, done) => { done(null, payload) })
  const settleUnreadBody = lingeringClose(app)
  const lookupErrors = errorResponses('validation', 'sessionNotFound', 'materializationNotFound', 'unauthorized')
  const bytesResponses = {
    ...byteResponses,
    ...errorResponses('validation', 'sessionNotFound', 'materializationNotFound', 'tensorNotFound', 'materializationNotReady', 'rangeNotSatisfiable', 'memoryBudget', 'checkpointFile', 'unauthorized')
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
        'The materialization\'s own safetensors file (the bytes `…/safetensors` serves) is then persisted in MATERIA_DATA_DIR ' +
        'before it is ready, so every replica sharing that directory serves it and it survives restarts; its space counts against ' +
        'MATERIA_DATA_BUDGET (507 MATERIA_ERR_DATA_BUDGET when full). The query options apply to uploads only.',
      params: ModuleParams,
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
        ...bodyErrorResponses('validation', 'materializationOptions', 'checkpointInvalid', 'checkpointMismatch', 'sessionNotFound', 'moduleNotFound',
          'materializationNotReady', 'memoryBudget', 'tenantMemoryQuota', 'dataBudget', 'checkpointFile', 'initUnavailable', 'unsupportedMediaType', 'requestTimeout', 'unauthorized')
      }
    }
  }, async (request, reply) => {
    const { sessionId, moduleId } = request.params
    const session = await app.requireSession(request, sessionId)
    let m: Mat
    if (request.headers['content-type']?.startsWith('application/octet-stream') === true) {
      settleUnreadBody(request, reply)
      m = await materializer.loadCheckpoint(request, session.id, moduleId, request.query)
    } else {
      if (Object.keys(request.query).length > 0) {
        throw materiaError('queryOptionsOnJson', { options: Object.keys(request.query).join(', ') })
      }
      // no body (and no content type): every option at its default, as POST /v1/sessions takes it
      const body = (request.body ?? {}) as typeof CreateMaterialization.static
      const { root: tree, built } = await app.moduleRecords.rebuild(session.id, moduleId)
      m = await materializer.start(request, { sessionId: session.id, moduleId, built, tree, device: body.device ?? 'cpu', init: body.init ?? 'empty', seed: body.seed, rng: body.rng, dtype: body.dtype, lazy: body.lazy })
      // a lazy materialization is ready at once: 201 whatever wait says
      if (body.wait === false && !m.lazy) {
        return await reply.code(202).header('location', materializer.href(m)).send(materializer.view(m))
      }
      await materializer.awaitReady(request, m)
    }
    return await reply.code(201).header('location', materializer.href(m)).send(materializer.view(m))
  })

  app.get('/v1/sessions/:sessionId/materializations', {
    schema: {
      operationId: 'listMaterializations',
      tags: ['materializations'],
      summary: 'List the materializations of a session',
      description: 'Paged: `limit` materializations (default 100, at most 1000) after `cursor`; `nextCursor` is null on the last page.',
      params: SessionParams,
      querystring: PageQuery,
      response: { 200: Type.Ref(MaterializationList, { description: 'Materializations, oldest first.' }), ...errorResponses('validation', 'invalidCursor', 'sessionNotFound', 'unauthorized') }
    }
  }, async (request) => {
    return await materializer.list(request, request.params.sessionId, request.query)
  })

  app.get('/v1/sessions/:sessionId/materializations/:materializationId', {
    schema: {
      operationId: 'getMaterialization',
      tags: ['materializations'],
      summary: 'Status and progress of a materialization',
      params: MaterializationParams,
      response: { 200: Type.Ref(Materialization, { description: 'The materialization.' }), ...lookupErrors }
    }
  }, async (request) => materializer.view(await materializer.find(request, request.params.sessionId, request.params.materializationId)))

  app.delete('/v1/sessions/:sessionId/materializations/:materializationId', {
    schema: {
      operationId: 'deleteMaterialization',
      tags: ['materializations'],
      summary: 'Delete a materialization (cancels a running fill, frees the memory)',
      params: MaterializationParams,
      response: { 204: Type.Null({ description: 'Deleted; its memory is returned.' }), ...bodyErrorResponses('validation', 'sessionNotFound', 'materializationNotFound', 'unauthorized') }
    }
  }, async (request, reply) => {
    await materializer.delete(request, request.params.sessionId, request.params.materializationId)
    return await reply.code(204).send(null)
  })

  app.get('/v1/sessions/:sessionId/materializations/:materializationId/tensors/:name', {
    schema: {
      operationId: 'getTensorBytes',
      tags: ['materializations'],
      summary: 'Raw bytes of one tensor',
      description: 'Little-endian, C order. Headers x-tensor-dtype, x-tensor-shape (comma-separated), ETag; HEAD and Range (206/416).',
      produces: ['application/octet-stream'],
      params: TensorParams,
      response: bytesResponses
    }
  }, async (request, reply) => {
    const found = await materializer.find(request, request.params.sessionId, request.params.materializationId)
    const t = found.plan.byName.get(request.params.name)
    if (t === undefined) throw materiaError('tensorNotFound', { id: found.id, name: request.params.name })
    const m = materializer.requireReady(found)
    return sendBytes(request, reply, [{ arena: m.arena, offset: t.offset, length: t.nbytes }], materializer.etag(m, `tensor:${t.name}`),
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
      params: MaterializationParams,
      response: bytesResponses
    }
  }, async (request, reply) => {
    const m = materializer.requireReady(await materializer.find(request, request.params.sessionId, request.params.materializationId))
    const { layout } = m.plan
    void reply.header('content-disposition', 'attachment; filename="model.safetensors"')
    return sendBytes(request, reply, [{ buffer: layout.header }, { arena: m.arena, offset: 0, length: layout.dataSize }], materializer.etag(m, 'safetensors'), {})
  })

  app.get('/v1/sessions/:sessionId/materializations/:materializationId/safetensors/:file', {
    schema: {
      operationId: 'getSafetensorsShard',
      tags: ['materializations'],
      summary: 'Sharded export: the index or one shard',
      description: '`model.safetensors.index.json` or `model-0000k-of-0000n.safetensors` exactly as save_pretrained(max_shard_size=maxShardBytes) ' +
        'splits the state dict (huggingface_hub\'s algorithm). Pass the same maxShardBytes to the index and the shards.',
      produces: ['application/octet-stream'],
      params: ShardParams,
      querystring: ShardQuery,
      response: {
        ...bytesResponses,
        200: {
          description: 'The index (JSON) or the shard (bytes).',
          content: {
            'application/json': { schema: Type.Ref(SafetensorsIndex) },
            'application/octet-stream': { schema: { type: 'string', format: 'binary' } }
          }
        }
      }
    }
  }, async (request, reply) => {
    const m = materializer.requireReady(await materializer.find(request, request.params.sessionId, request.params.materializationId))
    const { file } = request.params
    const tag = `shards:${request.query.maxShardBytes ?? 'default'}`
    const f = materializer.shardFile(m, file, request.query.maxShardBytes)
    if ('index' in f) return sendBytes(request, reply, [{ buffer: f.index }], materializer.etag(m, `${tag}:index`), {}, 'application/json; charset=utf-8')
    void reply.header('content-disposition', `attachment; filename="${file}"`)
    return sendBytes(request, reply, f.segments, materializer.etag(m, `${tag}:${file}`), {})
  })
}
