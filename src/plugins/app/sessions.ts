// Sessions as an app service: created within the tenant's quota and the TTL bounds, and the API's
// view of one (what it holds: modules and materializations counted in the store, memory in this replica's registry).
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { materiaError } from '../../errors.js'
import type { Session } from '../../schemas/sessions.js'
import type { SessionRecord } from '../../store/session-store.js'

declare module 'fastify' {
  interface FastifyInstance { sessions: Sessions }
}

export interface Sessions {
  /** A new session of the caller's tenant (TTL: `ttlSeconds` or MATERIA_SESSION_TTL), within its session quota (429). */
  create: (request: FastifyRequest, ttlSeconds: number | undefined) => Promise<SessionRecord>
  view: (s: SessionRecord) => Promise<typeof Session.static>
  /** Deletes a session of the caller's tenant (the store's end-of-session listeners free what it held), or a 404. */
  delete: (request: FastifyRequest, sessionId: string) => Promise<void>
}

export function createSessions (app: FastifyInstance): Sessions {
  const { config, store, materializations } = app
  return {
    async create (request, ttlSeconds) {
      const ttl = ttlSeconds ?? config.sessionTtl
      if (ttl > config.maxSessionTtl) {
        throw materiaError('sessionTtlTooLong', { max: config.maxSessionTtl })
      }
      // counted in the store, so replicas sharing a Redis share the count (concurrent creates may pass it by a few)
      const held = await store.countSessions(request.tenant)
      if (held >= request.limits.maxSessions) {
        throw materiaError('tenantSessionQuota', { held, max: request.limits.maxSessions })
      }
      return await store.createSession(request.tenant, ttl)
    },

    async view (s) {
      return {
        id: s.id,
        createdAt: new Date(s.createdAt).toISOString(),
        expiresAt: new Date(s.expiresAt).toISOString(),
        ttlSeconds: s.ttlSeconds,
        modules: await store.countModules(s.id),
        // every replica's (the store's records); the bytes held are this replica's own
        materializations: await store.countMaterializations(s.id),
        residentBytes: materializations.residentBytesOf(s.id)
      }
    },

    async delete (request, sessionId) {
      const s = await store.deleteSession(request.tenant, sessionId)
      if (s === undefined) throw materiaError('sessionNotFound', { id: sessionId })
    }
  }
}

export default fp(async function sessionsPlugin (app: FastifyInstance): Promise<void> {
  app.decorate('sessions', createSessions(app))
}, { name: 'sessions', fastify: '5.x', dependencies: ['auth', 'session-store', 'materializations'] })
