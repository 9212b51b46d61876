// Sessions: create, list, get (extends the TTL), delete (frees everything the session held).
import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { materiaError } from '../src/errors.js'
import { errorResponses, PageQuery } from '../src/schemas/common.js'
import { CreateSession, Session, SessionId, SessionList } from '../src/schemas/sessions.js'
import type { SessionRecord } from '../src/store/session-store.js'

export default async function sessionRoutes (fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { store } = app

  async function view (s: SessionRecord): Promise<typeof Session.static> {
    return {
      id: s.id,
      createdAt: new Date(s.createdAt).toISOString(),
      expiresAt: new Date(s.expiresAt).toISOString(),
      ttlSeconds: s.ttlSeconds,
      modules: await store.countModules(s.id),
      materializations: app.materializations.list(s.id).length,
      residentBytes: app.materializations.residentBytesOf(s.id)
    }
  }
  const params = Type.Object({ sessionId: SessionId })

  app.post('/v1/sessions', {
    schema: {
      operationId: 'createSession',
      tags: ['sessions'],
      summary: 'Create a session',
      description: 'A session holds modules and materializations. Its TTL slides: any use of the session extends it.',
      body: Type.Ref(CreateSession),
      response: { 201: Type.Ref(Session, { description: 'The new session.' }), ...errorResponses('validation', 'tenantSessionQuota', 'unauthorized', 'notReady') }
    },
    // the body is optional: no body means all defaults
    preValidation: async (request) => { request.body ??= {} }
  }, async (request, reply) => {
    const ttl = request.body.ttlSeconds ?? app.config.sessionTtl
    if (ttl > app.config.maxSessionTtl) {
      throw materiaError('validation', `ttlSeconds must be at most ${app.config.maxSessionTtl}`)
    }
    // counted in the store, so replicas sharing a Redis share the count (concurrent creates may pass it by a few)
    const held = await store.countSessions(request.tenant)
    if (held >= request.limits.maxSessions) {
      throw materiaError('tenantSessionQuota', `This tenant holds ${held} live sessions, as many as its quota allows (${request.limits.maxSessions}: ` +
        'MATERIA_TENANT_MAX_SESSIONS or the tenant\'s maxSessions); delete a session or let one expire')
    }
    const s = await store.createSession(request.tenant, ttl)
    void reply.code(201).header('location', `/v1/sessions/${s.id}`)
    return await view(s)
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
    const page = await store.pageSessions(request.tenant, request.query)
    // each view reads its own session's figures: O(page), never a scan of every materialization
    return { sessions: await Promise.all(page.items.map(view)), nextCursor: page.nextCursor }
  })

  app.get('/v1/sessions/:sessionId', {
    schema: {
      operationId: 'getSession',
      tags: ['sessions'],
      summary: 'Get a session (extends its TTL)',
      params,
      response: { 200: Type.Ref(Session, { description: 'The session.' }), ...errorResponses('validation', 'sessionNotFound', 'unauthorized') }
    }
  }, async (request) => await view(await app.requireSession(request, request.params.sessionId)))

  app.delete('/v1/sessions/:sessionId', {
    schema: {
      operationId: 'deleteSession',
      tags: ['sessions'],
      summary: 'Delete a session and everything it holds',
      params,
      response: { 204: Type.Null({ description: 'Deleted; every byte it held is freed.' }), ...errorResponses('validation', 'sessionNotFound', 'unauthorized') }
    }
  }, async (request, reply) => {
    const s = await store.deleteSession(request.tenant, request.params.sessionId)
    if (s === undefined) throw materiaError('sessionNotFound', `Session '${request.params.sessionId}' not found`)
    return await reply.code(204).send(null)
  })
}
