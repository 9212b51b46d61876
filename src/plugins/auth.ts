// API keys (MATERIA_API_KEYS, MATERIA_TENANTS_FILE). Every /v1 request carries a tenant (its id: a
// tenants-file name, the hash of a MATERIA_API_KEYS key, or "public" when the API is open) and that
// tenant's limits. Handles of another tenant answer 404, as if they did not exist.
//
// The decision is made on the route the router matched (request.routeOptions.url), never on the raw
// URL: find-my-way decodes percent-escapes, so `/v%31/sessions` reaches the `/v1/sessions` handler
// while the raw URL does not start with `/v1/`. Default deny: when keys are set, only matched routes
// outside /v1 (health, metrics, docs) are open; a request that matches no route needs a key too, so
// a caller without one learns nothing about which paths exist.
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { materiaError } from '../errors.js'
import { defaultLimits, type TenantLimits } from '../tenants/limits.js'
import { TenantDirectory } from '../tenants/tenants.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** the tenant's id, which the store keys its sessions by */
    tenant: string
    /** what the tenant may hold and send */
    limits: TenantLimits
  }
  interface FastifyInstance { tenants: TenantDirectory }
}

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

/** Whether the matched route is one of the API's: /v1 and the /hub repositories (whose HF_TOKEN is the API key). */
export function isApiRoute (request: FastifyRequest): boolean {
  const route = request.routeOptions.url
  return route !== undefined && (route.startsWith('/v1/') || route === '/v1' || route.startsWith('/hub/'))
}

/** Whether a request must present a key: every API route, and every request that matched no route. */
export function needsKey (request: FastifyRequest): boolean {
  return request.routeOptions.url === undefined || isApiRoute(request)
}

async function authPlugin (app: FastifyInstance): Promise<void> {
  const { config } = app
  const directory = new TenantDirectory(config.apiKeys, config.tenants, defaultLimits(config))
  if (directory.isOpen) app.log.warn('MATERIA_API_KEYS and MATERIA_TENANTS_FILE are not set: the API is open to every caller')
  app.decorate('tenants', directory)
  app.decorateRequest('tenant', directory.open.id)
  // an object default would be shared by every request: set per request below (fastify decorators docs)
  app.decorateRequest('limits', null as unknown as TenantLimits)

  app.addHook('onRequest', async (request) => {
    request.limits = directory.open.limits
    const param = credentialQueryParam(request.query)
    if (param !== undefined) {
      throw materiaError('credentialInQuery', { param })
    }
    if (directory.isOpen || !needsKey(request)) return
    const key = presentedKey(request)
    if (key === undefined || key === '') {
      throw materiaError('missingApiKey', {}, { 'www-authenticate': 'Bearer' })
    }
    const tenant = directory.lookup(key)
    if (tenant === undefined) throw materiaError('invalidApiKey', {}, { 'www-authenticate': 'Bearer' })
    request.tenant = tenant.id
    request.limits = tenant.limits
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
