// The session store as an app service: built from config, checked by /readyz, closed on shutdown.
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { materiaError } from '../errors.js'
import { MemorySessionStore } from '../store/memory-store.js'
import type { SessionRecord, SessionStore } from '../store/session-store.js'

declare module 'fastify' {
  interface FastifyInstance {
    store: SessionStore
    /** The caller's live session (TTL extended), or a 404 in the one error body. */
    requireSession: (request: FastifyRequest, sessionId: string) => Promise<SessionRecord>
  }
}

async function sessionStorePlugin (app: FastifyInstance): Promise<void> {
  if (app.config.store !== 'memory') {
    throw new Error(`MATERIA_STORE=${app.config.store}: this build has the memory store only`)
  }
  const store: SessionStore = new MemorySessionStore()
  app.decorate('store', store)
  app.decorate('requireSession', async (request: FastifyRequest, sessionId: string) => {
    const s = await store.touchSession(request.tenant, sessionId)
    if (s === undefined) throw materiaError('sessionNotFound', `Session '${sessionId}' not found`)
    return s
  })
  app.readiness.add('store', async () => { await store.ping() })
  store.onSessionEnd((s) => { app.log.info({ sessionId: s.id }, 'session ended') })
  app.addHook('onClose', async () => { await store.close() })
}

export default fp(sessionStorePlugin, { name: 'session-store', fastify: '5.x', dependencies: ['health', 'auth'] })
