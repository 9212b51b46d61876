// API keys (MATERIA_API_KEYS). Every /v1 request carries a tenant: the hash of its key, or "public"
// when the API is open. Handles of another tenant answer 404, as if they did not exist.
//
// The decision is made on the route the router matched (request.routeOptions.url), never on the raw
// URL: find-my-way decodes percent-escapes, so `/v%31/sessions` reaches the `/v1/sessions` handler
// while the raw URL does not start with `/v1/`. Default deny: when keys are set, only matched routes
// outside /v1 (health, metrics, docs) are open; a request that matches no route needs a key too, so
// a caller without one learns nothing about which paths exist.
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

// Query parameter names that carry credentials (api_key, apiKey, access_token, x-api-key, password…).
// A URL ends up in access logs, proxies and browser history (RFC 6750 §5.3: "Don't pass bearer
// tokens in page URLs"), so such a request is refused rather than served.
const credentialName = /^(?:x)?(?:api|access|auth|session|id|refresh|client|bearer)?(?:key|token|secret|password|passwd|pwd|auth|authorization|bearer|jwt|credentials?)$/

/** The first query parameter of `request` whose name looks like a credential, if any. */
export function credentialQueryParam (query: unknown): string | undefined {
  if (query === null || typeof query !== 'object') return undefined
  return Object.keys(query).find((name) => credentialName.test(name.toLowerCase().replace(/[^a-z0-9]/g, '')))
}

/** Whether a request must present a key: every /v1 route, and every request that matched no route. */
export function needsKey (request: FastifyRequest): boolean {
  const route = request.routeOptions.url
  return route === undefined || route.startsWith('/v1/') || route === '/v1'
}

async function authPlugin (app: FastifyInstance, opts: AuthOptions): Promise<void> {
  const keys = opts.apiKeys.map(digest)
  if (keys.length === 0) app.log.warn('MATERIA_API_KEYS is not set: the API is open to every caller')
  app.decorateRequest('tenant', 'public')

  app.addHook('onRequest', async (request) => {
    const param = credentialQueryParam(request.query)
    if (param !== undefined) {
      throw materiaError('credentialInQuery', `Query parameter '${param}' looks like a credential; URLs are logged and cached, so send API keys as Authorization: Bearer <key> or x-api-key`)
    }
    if (keys.length === 0 || !needsKey(request)) return
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

/** `url` with its query string replaced by `?[redacted]`: query strings may carry secrets into logs. */
export function redactUrl (url: string): string {
  const i = url.indexOf('?')
  return i < 0 ? url : `${url.slice(0, i)}?[redacted]`
}

interface LoggedRequest { method: string, url: string, host?: string, ip?: string, headers?: Record<string, string | string[] | undefined>, socket?: { remotePort?: number } }

/** pino serializers for the server logger: fastify's own `req` serializer with the query string redacted. */
export const logSerializers = {
  req: (req: LoggedRequest) => ({
    method: req.method,
    url: redactUrl(req.url),
    version: typeof req.headers?.['accept-version'] === 'string' ? req.headers['accept-version'] : undefined,
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort
  })
}
