// API keys (MATERIA_API_KEYS). Every /v1 request carries a tenant: the hash of its key, or "public"
// when the API is open. Handles of another tenant answer 404, as if they did not exist.
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { createHash, timingSafeEqual } from 'node:crypto'
import { materiaError } from '../errors.js'

declare module 'fastify' {
  interface FastifyRequest { tenant: string }
}

export interface AuthOptions { apiKeys: string[] }

const digest = (key: string): Buffer => createHash('sha256').update(key).digest()

function presentedKey (request: FastifyRequest): string | undefined {
  const auth = request.headers.authorization
  if (typeof auth === 'string' && /^bearer\s+/i.test(auth)) return auth.replace(/^bearer\s+/i, '').trim()
  const header = request.headers['x-api-key']
  return typeof header === 'string' ? header.trim() : undefined
}

async function authPlugin (app: FastifyInstance, opts: AuthOptions): Promise<void> {
  const keys = opts.apiKeys.map(digest)
  if (keys.length === 0) app.log.warn('MATERIA_API_KEYS is not set: the API is open to every caller')
  app.decorateRequest('tenant', 'public')

  app.addHook('onRequest', async (request) => {
    if (keys.length === 0 || !request.url.startsWith('/v1/')) return
    const key = presentedKey(request)
    if (key === undefined || key === '') {
      throw materiaError('unauthorized', 'Missing API key: send Authorization: Bearer <key> or x-api-key', { 'www-authenticate': 'Bearer' })
    }
    const d = digest(key)
    // compare against every key in constant time, so timing says nothing about which one is close
    let match = false
    for (const k of keys) match = timingSafeEqual(k, d) || match
    if (!match) throw materiaError('unauthorized', 'Invalid API key', { 'www-authenticate': 'Bearer' })
    request.tenant = d.subarray(0, 8).toString('hex')
  })
}

export default fp(authPlugin, { name: 'auth', fastify: '5.x', dependencies: ['error-handler'] })
