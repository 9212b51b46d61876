// Modules of a session, built on the meta device: shapes and dtypes only, no tensor memory.
import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { bodyErrorResponses, errorResponses, PageQuery } from '../src/schemas/common.js'
import { AnyModuleSpec } from '../src/schemas/nn.js'
import { Module, ModuleList, ModuleParams, SessionParams } from '../src/schemas/sessions.js'

export default async function moduleRoutes (fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { moduleRecords } = app

  app.post('/v1/sessions/:sessionId/modules', {
    schema: {
      operationId: 'createModule',
      tags: ['modules'],
      summary: 'Build a module on the meta device',
      description: 'Validates the constructor call like PyTorch and returns the tensors of `state_dict()` (names, shapes, dtypes, ' +
        'strides, kinds), non-persistent buffers last, and `python`, the canonical expression. No tensor memory is allocated. ' +
        'The spec is JSON or written as Python (`{"python": "nn.Linear(4, 8)"}`).',
      params: SessionParams,
      body: Type.Ref(AnyModuleSpec),
      response: {
        201: Type.Ref(Module, { description: 'The module.' }),
        ...bodyErrorResponses('validation', 'constructorArgs', 'pythonSyntax', 'notAModule', 'badTie', 'specTooLarge', 'unknownClass', 'sessionNotFound', 'bodyTooLarge',
          'moduleTooLarge', 'sessionModuleQuota', 'tenantModuleQuota', 'moduleBudget', 'unauthorized')
      }
    }
  }, async (request, reply) => {
    const session = await app.requireSession(request, request.params.sessionId)
    const { id, body } = await moduleRecords.create(request, session.id, request.body)
    void reply.code(201).header('location', `/v1/sessions/${session.id}/modules/${id}`)
    return body
  })

  app.get('/v1/sessions/:sessionId/modules', {
    schema: {
      operationId: 'listModules',
      tags: ['modules'],
      summary: 'List the modules of a session',
      description: 'Paged: `limit` modules (default 100, at most 1000) after `cursor`; `nextCursor` is null on the last page.',
      params: SessionParams,
      querystring: PageQuery,
      response: { 200: Type.Ref(ModuleList, { description: 'Modules, oldest first.' }), ...errorResponses('validation', 'invalidCursor', 'sessionNotFound', 'unauthorized') }
    }
  }, async (request) => {
    const session = await app.requireSession(request, request.params.sessionId)
    const page = await app.store.pageModules(session.id, request.query)
    return { modules: page.items.map((m) => m.body as typeof Module.static), nextCursor: page.nextCursor }
  })

  app.get('/v1/sessions/:sessionId/modules/:moduleId', {
    schema: {
      operationId: 'getModule',
      tags: ['modules'],
      summary: 'Get a module',
      params: ModuleParams,
      response: { 200: Type.Ref(Module, { description: 'The module.' }), ...errorResponses('validation', 'sessionNotFound', 'moduleNotFound', 'unauthorized') }
    }
  }, async (request) => {
    const session = await app.requireSession(request, request.params.sessionId)
    return await moduleRecords.get(session.id, request.params.moduleId)
  })

  app.get('/v1/sessions/:sessionId/modules/:moduleId/repr', {
    schema: {
      operationId: 'getModuleRepr',
      tags: ['modules'],
      summary: 'print(module), as PyTorch prints it',
      description: 'Exactly what `print(module)` prints in PyTorch 2.13 (without the final newline): each class\'s `extra_repr()`, ' +
        'children indented by two spaces, and ModuleList\'s runs of equal blocks grouped as `(0-2): 3 x Linear(...)`. ' +
        'It prints the arguments as the JSON spec holds them, as PyTorch would print `json.loads` of it: an integral number is an ' +
        'int (`1.0` given in a python spec prints `1`), an array a list where a module keeps its argument as given (`kernel_size=[2, 2]`).',
      params: ModuleParams,
      produces: ['text/plain'],
      response: {
        200: { description: 'The repr, `text/plain; charset=utf-8`.', type: 'string' },
        ...errorResponses('validation', 'sessionNotFound', 'moduleNotFound', 'reprUnavailable', 'unauthorized')
      }
    }
  }, async (request, reply) => {
    const session = await app.requireSession(request, request.params.sessionId)
    const text = await moduleRecords.repr(session.id, request.params.moduleId)
    return await reply.type('text/plain; charset=utf-8').send(text)
  })

  app.delete('/v1/sessions/:sessionId/modules/:moduleId', {
    schema: {
      operationId: 'deleteModule',
      tags: ['modules'],
      summary: 'Delete a module and its materializations',
      params: ModuleParams,
      response: { 204: Type.Null({ description: 'Deleted.' }), ...bodyErrorResponses('validation', 'sessionNotFound', 'moduleNotFound', 'unauthorized') }
    }
  }, async (request, reply) => {
    const session = await app.requireSession(request, request.params.sessionId)
    await moduleRecords.delete(session.id, request.params.moduleId)
    await app.materializer.deleteOfModule(session.id, request.params.moduleId)
    return await reply.code(204).send(null)
  })
}
