// The save_pretrained directory of a materialization of a transformers model: its listing and files.
import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { errorResponses } from '../src/schemas/common.js'
import { MaterializationParams } from '../src/schemas/materializations.js'
import { pretrainedFileResponses, PretrainedFileParams, PretrainedListing, PretrainedQuery } from '../src/schemas/hub.js'
import { sendBytes } from '../src/http/byte-response.js'
import { pretrainedFile } from '../src/plugins/app/materializer/pretrained-files.js'

export default async function pretrainedRoutes (fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { materializer } = app
  const errors = ['validation', 'sessionNotFound', 'materializationNotFound', 'moduleNotFound', 'materializationNotReady', 'pretrainedUnavailable', 'unauthorized'] as const

  app.get('/v1/sessions/:sessionId/materializations/:materializationId/pretrained', {
    schema: {
      operationId: 'listPretrainedFiles',
      tags: ['materializations'],
      summary: 'The files model.save_pretrained(dir) writes',
      description: 'For a materialization of a transformers model: config.json (as config.to_json_string() writes it), generation_config.json ' +
        'when the model can generate, and model.safetensors or the shards and model.safetensors.index.json at max_shard_size = maxShardBytes ' +
        '(default "50GB"), tied weights left out as transformers leaves them out. Byte-identical to transformers 5.18 (docs/hub.md).',
      params: MaterializationParams,
      querystring: PretrainedQuery,
      response: { 200: Type.Ref(PretrainedListing, { description: 'The files, in the order save_pretrained writes them.' }), ...errorResponses(...errors) }
    }
  }, async (request) => {
    const m = materializer.requireReady(await materializer.find(request, request.params.sessionId, request.params.materializationId))
    const { maxShardBytes } = request.query
    const files = await materializer.pretrained(m, maxShardBytes)
    const query = maxShardBytes !== undefined ? `?maxShardBytes=${maxShardBytes}` : ''
    return { files: files.files.map((f) => ({ name: f.name, size: f.size, href: `${materializer.href(m)}/pretrained/${f.name}${query}` })) }
  })

  app.get('/v1/sessions/:sessionId/materializations/:materializationId/pretrained/:file', {
    schema: {
      operationId: 'getPretrainedFile',
      tags: ['materializations'],
      summary: 'One file of the save_pretrained directory',
      description: 'config.json, generation_config.json, model.safetensors, a shard or model.safetensors.index.json, byte for byte as ' +
        'save_pretrained(max_shard_size=maxShardBytes) writes it; pass the same maxShardBytes as the listing. HEAD, Range and ETag.',
      produces: ['application/octet-stream', 'application/json'],
      params: PretrainedFileParams,
      querystring: PretrainedQuery,
      response: { ...pretrainedFileResponses, ...errorResponses(...errors, 'tensorNotFound', 'rangeNotSatisfiable', 'memoryBudget') }
    }
  }, async (request, reply) => {
    const m = materializer.requireReady(await materializer.find(request, request.params.sessionId, request.params.materializationId))
    const { maxShardBytes } = request.query
    const f = pretrainedFile(await materializer.pretrained(m, maxShardBytes), request.params.file)
    void reply.header('content-disposition', `attachment; filename="${f.name}"`)
    return sendBytes(request, reply, f.segments, materializer.etag(m, `pretrained:${maxShardBytes ?? 'default'}:${f.name}`), {}, f.contentType)
  })
}
