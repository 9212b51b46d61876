// Sessions: create, list, get (extends the TTL), delete (frees everything the session held).
import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { bodyErrorResponses, errorResponses, PageQuery } from '../src/schemas/common.js'
import { CreateSession, Session, SessionList, SessionParams } from '../src/schemas/sessions.js'

export default async function sessionRoutes (fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { sessions } = app

  app.post('/v1/sessions', {
    schema: {
      operationId: 'createSession',
      tags: ['sessions'],
      summary: 'Create a session',
      description: 'A session holds modules and materializations. Its TTL slides: any use of the session extends it.',
      body: Type.Ref(CreateSession),
      response: { 201: Type.Ref(Session, { description: 'The new session.' }), ...bodyErrorResponses('validation', 'tenantSessionQuota', 'unauthorized', 'notReady') }
    },
    // the body is optional: no body means all defaults
    preValidation: async (request) => { request.body ??= {} }
  }, async (request, reply) => {
    const s = await sessions.create(request, request.body.ttlSeconds)
    void reply.code(201).header('location', `/v1/sessions/${s.id}`)
    return await sessions.view(s)
  })

  app.get('/v1/sessions', {
    schema: {
      operationId: 'listSessions',
      tags: ['sessions'],
      summary: "List the caller's sessions",
      description: 'Paged: `limit` sessions (default 100, at most 1000) after `cursor`; `nextCursor` is null on the last page.',
      querystring: PageQuery,
      response: { 200: Type.Ref(SessionList, { description: 'Live sessions, oldest first.' }), ...errorResponses('validation', 'invalidCursor', 'unauthorized', 'notReady') }
    }
  }, async (request) => {
    const page = await app.store.pageSessions(request.tenant, request.query)
    // each view reads its own session's figures: O(page), never a scan of every materialization
    return { sessions: await Promise.all(page.items.map(sessions.view)), nextCursor: page.nextCursor }
  })

  app.get('/v1/sessions/:sessionId', {
    schema: {
      operationId: 'getSession',
      tags: ['sessions'],
      summary: 'Get a session (extends its TTL)',
      params: SessionParams,
      response: { 200: Type.Ref(Session, { description: 'The session.' }), ...errorResponses('validation', 'sessionNotFound', 'unauthorized') }
    }
  }, async (request) => await sessions.view(await app.requireSession(request, request.params.sessionId)))

  app.delete('/v1/sessions/:sessionId', {
    schema: {
      operationId: 'deleteSession',
      tags: ['sessions'],
      summary: 'Delete a session and everything it holds',
      params: SessionParams,
      response: { 204: Type.Null({ description: 'Deleted; every byte it held is freed.' }), ...bodyErrorResponses('validation', 'sessionNotFound', 'unauthorized') }
    }
  }, async (request, reply) => {
    await sessions.delete(request, request.params.sessionId)
    return await reply.code(204).send(null)
  })
}
