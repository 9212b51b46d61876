// Requests per minute per tenant: 429 MATERIA_ERR_RATE_LIMITED with Retry-After and RateLimit-*,
// one tenant's limit never touches another's, operations routes are exempt, and with the Redis
// store the count is shared by replicas.
import t from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { assertErrorBody, build, redisUrl } from './helper.js'
import { errorDefs } from '../src/errors.js'

const key = (k: string): Record<string, string> => ({ 'x-api-key': k })

t.test('a tenant over its rate gets 429 with the headers; another tenant and ops routes do not', async (t) => {
  const app = await build(t, { MATERIA_API_KEYS: 'alpha,beta', MATERIA_RATE_LIMIT: '3' })
  for (let i = 0; i < 3; i++) {
    const res = await app.inject({ url: '/v1/modules', headers: key('alpha') })
    t.equal(res.statusCode, 200)
    t.equal(res.headers['ratelimit-limit'], '3')
    t.equal(res.headers['ratelimit-remaining'], String(2 - i))
    t.ok(Number(res.headers['ratelimit-reset']) > 0 && Number(res.headers['ratelimit-reset']) <= 60, 'reset within the minute')
  }
  const over = await app.inject({ method: 'POST', url: '/v1/sessions', headers: key('alpha') })
  const body = assertErrorBody(t, over, 429, errorDefs.rateLimited.code)
  t.match(body.message, /3 requests per minute for this tenant/)
  t.equal(over.headers['ratelimit-remaining'], '0')
  t.ok(Number(over.headers['retry-after']) >= 1 && Number(over.headers['retry-after']) <= 60, `Retry-After ${String(over.headers['retry-after'])}`)
  t.equal(over.headers['retry-after'], over.headers['ratelimit-reset'])

  const other = await app.inject({ url: '/v1/modules', headers: key('beta') })
  t.equal(other.statusCode, 200, 'another tenant is not limited by the first')
  t.equal(other.headers['ratelimit-remaining'], '2')
  for (const url of ['/healthz', '/readyz', '/metrics', '/openapi.json']) {
    const res = await app.inject({ url, headers: key('alpha') })
    t.equal(res.statusCode, 200, `${url} answers a tenant over its rate`)
    t.equal(res.headers['ratelimit-limit'], undefined, `${url} is not counted`)
  }
  t.equal((await app.inject({ url: '/v1/modules' })).statusCode, 401, 'a keyless request is refused by auth, not counted')
  // the /hub repositories are the API too (HF_TOKEN is the key): counted like /v1
  const hub = await app.inject({ url: '/hub/api/models/ses_x/mat_y', headers: { authorization: 'Bearer alpha' } })
  assertErrorBody(t, hub, 429, errorDefs.rateLimited.code)
})

t.test('per-tenant rates from the tenants file; 0 is unlimited', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'materia-rl-'))
  const path = join(dir, 'tenants.json')
  const sha = (k: string): string => createHash('sha256').update(k).digest('hex')
  writeFileSync(path, JSON.stringify({ tenants: [{ name: 'slow', keys: [sha('slow')], limits: { rateLimit: 1 } }, { name: 'free', keys: [sha('free')], limits: { rateLimit: 0 } }] }))
  const app = await build(t, { MATERIA_TENANTS_FILE: path, MATERIA_RATE_LIMIT: '0' })
  t.equal((await app.inject({ url: '/v1/modules', headers: key('slow') })).statusCode, 200)
  assertErrorBody(t, await app.inject({ url: '/v1/modules', headers: key('slow') }), 429, errorDefs.rateLimited.code)
  for (let i = 0; i < 20; i++) {
    const res = await app.inject({ url: '/v1/modules', headers: key('free') })
    if (res.statusCode !== 200 || res.headers['ratelimit-limit'] !== undefined) t.fail(`free tenant request ${i}: ${res.statusCode}`)
  }
})

t.test('the open API counts per client address', async (t) => {
  const app = await build(t, { MATERIA_RATE_LIMIT: '1' })
  t.equal((await app.inject({ url: '/v1/modules', remoteAddress: '10.0.0.1' })).statusCode, 200)
  const over = await app.inject({ url: '/v1/modules', remoteAddress: '10.0.0.1' })
  t.match(assertErrorBody(t, over, 429, errorDefs.rateLimited.code).message, /for this client/)
  t.equal((await app.inject({ url: '/v1/modules', remoteAddress: '10.0.0.2' })).statusCode, 200, 'another address has its own count')
})

t.test('MATERIA_RATE_LIMIT=0 and no tenant limits: no counting, no headers', async (t) => {
  const app = await build(t, { MATERIA_RATE_LIMIT: '0' })
  const res = await app.inject('/v1/modules')
  t.equal(res.statusCode, 200)
  t.equal(res.headers['ratelimit-limit'], undefined)
})

t.test('two replicas on one Redis share each tenant\'s count', async (t) => {
  const env = { MATERIA_STORE: 'redis', REDIS_URL: redisUrl(), MATERIA_REDIS_PREFIX: `materia-test-${randomBytes(6).toString('hex')}:`, MATERIA_API_KEYS: 'alpha,beta', MATERIA_RATE_LIMIT: '3' }
  const a = await build(t, env)
  const b = await build(t, env)
  t.equal((await a.inject({ url: '/v1/modules', headers: key('alpha') })).headers['ratelimit-remaining'], '2')
  t.equal((await b.inject({ url: '/v1/modules', headers: key('alpha') })).headers['ratelimit-remaining'], '1', 'B counts what A saw')
  t.equal((await a.inject({ url: '/v1/modules', headers: key('alpha') })).statusCode, 200)
  assertErrorBody(t, await b.inject({ url: '/v1/modules', headers: key('alpha') }), 429, errorDefs.rateLimited.code)
  assertErrorBody(t, await a.inject({ url: '/v1/modules', headers: key('alpha') }), 429, errorDefs.rateLimited.code)
  t.equal((await b.inject({ url: '/v1/modules', headers: key('beta') })).statusCode, 200, 'another tenant is unaffected')
})
