// Requests per minute per tenant (MATERIA_RATE_LIMIT, or a tenant's rateLimit in the tenants file),
// with @fastify/rate-limit. Keyed by tenant, or by client address when the API is open (every
// caller is then the one tenant "public"). With MATERIA_STORE=redis the counters live in the
// store's Redis, so the limit holds across replicas. Each counter is one key, read and incremented
// by a one-key script, so on a Redis Cluster (the same client) counters need no hash tag: they
// spread over the masters. Operations routes are never limited.
// Headers: draft-ietf-httpapi-ratelimit-headers (RateLimit-Limit/Remaining/Reset) plus Retry-After.
import fp from 'fastify-plugin'
import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { materiaError } from '../errors.js'
import { isApiRoute } from './auth.js'

const WINDOW_MS = 60_000

/** Whether a request counts against its tenant's rate: only matched API routes (/v1, /hub) of a tenant with a limit. */
const exempt = (request: FastifyRequest): boolean => !isApiRoute(request) || request.limits.rateLimit === 0

async function rateLimitPlugin (app: FastifyInstance): Promise<void> {
  const { tenants } = app
  // nobody has a limit: no hook on any route
  if (tenants.defaults.rateLimit === 0 && tenants.tenants.every((t) => t.limits.rateLimit === 0)) return
  await app.register(rateLimit, {
    global: true,
    // route hooks run after the app's onRequest hooks, so auth has set request.tenant and request.limits
    hook: 'onRequest',
    timeWindow: WINDOW_MS,
    max: (request: FastifyRequest) => request.limits.rateLimit,
    keyGenerator: (request: FastifyRequest) => tenants.isOpen ? `ip:${request.ip}` : `tenant:${request.tenant}`,
    allowList: (request: FastifyRequest) => exempt(request),
    enableDraftSpec: true,
    ...(app.redis !== undefined ? { redis: app.redis, nameSpace: `${app.config.redisPrefix}rate-limit:` } : {}),
    // the limit protects the service, it does not authorize: while Redis is down requests pass
    // (and those that need the store answer 503 there)
    skipOnError: true,
    errorResponseBuilder: (request, context) => {
      const seconds = Math.max(1, Math.ceil(context.ttl / 1000))
      return materiaError('rateLimited', { max: context.max, holder: tenants.isOpen ? 'client' : 'tenant', seconds }, { 'retry-after': String(seconds) })
    }
  })
}

export default fp(rateLimitPlugin, { name: 'rate-limit', fastify: '5.x', dependencies: ['auth', 'session-store', 'error-handler'] })
