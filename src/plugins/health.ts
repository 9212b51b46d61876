// Liveness, readiness and load shedding during shutdown. Other plugins register readiness checks
// (store reachable, worker pool up); once the app starts closing every new request gets a 503.
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'
import { materiaError } from '../errors.js'
import { errorResponses } from '../schemas/common.js'
import { Health, Readiness } from '../schemas/operations.js'

export type ReadinessCheck = () => Promise<void>

declare module 'fastify' {
  interface FastifyInstance {
    readiness: { add: (name: string, check: ReadinessCheck) => void }
  }
}

async function healthPlugin (app: FastifyInstance): Promise<void> {
  const checks = new Map<string, ReadinessCheck>()
  let closing = false
  app.decorate('readiness', { add: (name: string, check: ReadinessCheck) => { checks.set(name, check) } })
  app.addSchema(Health)
  app.addSchema(Readiness)

  app.addHook('preClose', async () => { closing = true })
  app.addHook('onRequest', async (_request, reply) => {
    if (closing) {
      void reply.header('connection', 'close')
      throw materiaError('shuttingDown', {}, { 'retry-after': '1' })
    }
  })

  app.get('/healthz', {
    schema: {
      operationId: 'getHealth',
      tags: ['operations'],
      security: [],
      summary: 'Liveness',
      description: 'Answers while the process can serve requests; does not check dependencies.',
      response: { 200: Type.Ref(Health, { description: 'Alive.' }), ...errorResponses('notReady') }
    }
  }, async () => ({ status: 'ok' as const, uptimeSeconds: Math.round(process.uptime()) }))

  app.get('/readyz', {
    schema: {
      operationId: 'getReadiness',
      tags: ['operations'],
      security: [],
      summary: 'Readiness',
      description: 'Answers 200 when the session store is reachable and the worker pool is up, 503 (with Retry-After) otherwise.',
      response: { 200: Type.Ref(Readiness, { description: 'Ready to serve.' }), ...errorResponses('notReady') }
    }
  }, async (request) => {
    const results: Record<string, 'ok'> = {}
    for (const [name, check] of checks) {
      try {
        await check()
        results[name] = 'ok'
      } catch (err) {
        request.log.warn({ err, check: name }, 'readiness check failed')
        throw materiaError('checkFailed', { name }, { 'retry-after': '5' })
      }
    }
    return { status: 'ready' as const, checks: results }
  })
}

export default fp(healthPlugin, { name: 'health', fastify: '5.x', dependencies: ['error-handler'] })
