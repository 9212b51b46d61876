// API keys are checked on the route the router matched, so no spelling of a /v1 path gets past
// them; credentials in query strings are refused and query strings never reach the log.
import t from 'tap'
import fc from 'fast-check'
import { request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import { build, assertErrorBody, testConfig } from './helper.js'
import { buildApp } from '../src/app.js'
import { errorDefs } from '../src/errors.js'
import { credentialQueryParam, redactUrl } from '../src/plugins/auth.js'

interface Raw { statusCode: number, body: string }

/** Sends `path` byte for byte (app.inject resolves dot segments and would hide those spellings). */
async function raw (port: number, method: string, path: string, headers: Record<string, string> = {}): Promise<Raw> {
  return await new Promise((resolve, reject) => {
    const body = method === 'POST' ? '{}' : undefined
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => { resolve({ statusCode: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }) })
    })
    req.on('error', reject)
    req.end(body)
  })
}

const bases = [
  ['POST', '/v1/sessions'],
  ['GET', '/v1/sessions'],
  ['GET', '/v1/modules'],
  ['GET', '/v1/modules/Linear'],
  ['POST', '/v1/estimate'],
  ['GET', '/v1/sessions/ses_AAAAAAAAAAAAAAAAAAAAAAAA'],
  ['DELETE', '/v1/sessions/ses_AAAAAAAAAAAAAAAAAAAAAAAA'],
  ['POST', '/v1/sessions/ses_x/modules'],
  ['GET', '/v1/sessions/ses_x/materializations/mat_x/safetensors']
] as const

const hex = (c: string, upper: boolean): string => {
  const h = c.charCodeAt(0).toString(16).padStart(2, '0')
  return `%${upper ? h.toUpperCase() : h}`
}
const flipCase = (c: string): string => c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()

// one way to spell each character: itself, percent-encoded (either hex case), case flipped;
// a slash may also be doubled, dotted, encoded or followed by a `;param` (all but the leading one:
// Node's HTTP parser refuses a request-target that does not start with one)
function spell (c: string, how: number): string {
  if (c === '/') return ['/', '//', '/./', '%2F', '%2f', '/x/../', '/;p=1/', '/'][how] ?? '/'
  return [c, hex(c, true), hex(c, false), flipCase(c), c, c, c, hex(c, true)][how] ?? c
}

const spelling = fc.constantFrom(...bases).chain(([method, path]) => fc.record({
  method: fc.constant(method),
  base: fc.constant(path),
  // a few characters respelled at a time, so that many spellings still route
  path: fc.array(fc.tuple(fc.integer({ min: 1, max: path.length - 1 }), fc.integer({ min: 1, max: 7 })), { minLength: 1, maxLength: 4 }).map((edits) => {
    const hows = new Map(edits)
    return [...path].map((c, i) => spell(c, hows.get(i) ?? 0)).join('')
  }),
  tail: fc.constantFrom('', '/', ';a=b', '?x=1', '/.', '%20', '//')
}))

t.test('no spelling of a /v1 path reaches a handler without a key (property)', async (t) => {
  const reached: Array<{ url: string, route: string | undefined, authorized: boolean }> = []
  const app = await build(t, { MATERIA_API_KEYS: 'alpha' }, (app) => {
    // preHandler runs only after every onRequest hook (auth included) let the request through
    // (the not-found handler runs it too: only matched routes count)
    app.addHook('preHandler', async (request) => {
      if (request.routeOptions.url !== undefined) reached.push({ url: request.url, route: request.routeOptions.url, authorized: request.headers['x-api-key'] === 'alpha' })
    })
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo

  // the reproduction: the router decodes %31 to 1, the old check read the raw URL
  const before = await raw(port, 'POST', '/v%31/sessions')
  assertErrorBody(t, { ...before, headers: { 'content-type': 'application/json' } }, 401, errorDefs.unauthorized.code)
  t.equal((await raw(port, 'POST', '/v%31/sessions', { 'x-api-key': 'alpha' })).statusCode, 201, 'the encoded spelling does route to POST /v1/sessions')

  let withKeyReached = 0
  let nonCanonicalReached = 0
  await fc.assert(fc.asyncProperty(spelling, async ({ method, base, path, tail }) => {
    const url = path + tail
    const n = reached.length
    const res = await raw(port, method, url)
    if (reached.length !== n) throw new Error(`${method} ${url} reached ${String(reached[n]?.route)} without a key`)
    // default deny: a keyless request gets 401 whether or not it names a route (a 400 for a URL
    // the parser refuses is the only other answer)
    if (res.statusCode !== 401 && res.statusCode !== 400) throw new Error(`${method} ${url} → ${res.statusCode} ${res.body}`)
    const keyed = await raw(port, method, url, { 'x-api-key': 'alpha' })
    if (reached.length > n) {
      withKeyReached++
      if (url !== base) nonCanonicalReached++
    }
    if (keyed.statusCode === 401) throw new Error(`${method} ${url} with a valid key → 401`)
  }), { numRuns: 500, seed: 20240901 })
  t.ok(withKeyReached > 20, `with a key, ${withKeyReached} generated spellings reached a handler (the generator finds routable spellings)`)
  t.ok(nonCanonicalReached > 0, `${nonCanonicalReached} of them were non-canonical`)
  t.ok(reached.every((r) => r.authorized), 'every request that reached a handler carried the key')
})

t.test('fixed spellings: encoded, mixed case, doubled slash, dotted, ;params, trailing slash, %2F', async (t) => {
  const app = await build(t, { MATERIA_API_KEYS: 'alpha' })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  for (const url of ['/v1/sessions', '/v%31/sessions', '/%761/sessions', '/%56%31/sessions', '/v1/%73essions', '/V1/sessions', '//v1/sessions',
    '/v1//sessions', '/./v1/sessions', '/v1/./sessions', '/x/../v1/sessions', '/v1/sessions/', '/v1;x/sessions', '/v1/sessions;a=b', '/v1%2Fsessions', '/v1%2fsessions', '/nothing-here']) {
    const res = await raw(port, 'POST', url)
    t.equal(res.statusCode, 401, `POST ${url} without a key → 401`)
    t.notMatch(res.body, /ses_/, 'no session in the body')
  }
  t.same((await app.inject({ url: '/v1/sessions', headers: { 'x-api-key': 'alpha' } })).json().sessions, [], 'no session was created')
  t.equal((await raw(port, 'GET', '/healthz')).statusCode, 200, 'operations stay open')
  t.equal((await raw(port, 'GET', '/metrics')).statusCode, 200)
  t.equal((await raw(port, 'GET', '/openapi.json')).statusCode, 200)
})

t.test('an open API (no keys) still routes every spelling', async (t) => {
  const app = await build(t)
  t.equal((await app.inject({ method: 'POST', url: '/v%31/sessions' })).statusCode, 201)
  t.equal((await app.inject('/nothing-here')).statusCode, 404)
})

t.test('credential-like query parameters → 400, on every route, before the key is checked', async (t) => {
  const app = await build(t, { MATERIA_API_KEYS: 'alpha' })
  for (const q of ['api_key=alpha', 'apiKey=alpha', 'api-key=alpha', 'API_KEY=alpha', 'api%5Fkey=alpha', 'key=alpha', 'token=alpha', 'access_token=alpha',
    'x-api-key=alpha', 'password=alpha', 'secret=alpha', 'auth=alpha', 'limit=1&token=alpha', 'token']) {
    for (const path of ['/v1/sessions', '/healthz', '/nothing']) {
      const res = await app.inject({ url: `${path}?${q}`, headers: { 'x-api-key': 'alpha' } })
      const body = assertErrorBody(t, res, 400, errorDefs.credentialInQuery.code)
      t.match(body.message, /Authorization: Bearer/)
      t.notMatch(body.message, /=alpha/, 'the value is not echoed')
    }
  }
  t.equal((await app.inject({ url: '/healthz?verbose=1' })).statusCode, 200, 'other parameters pass')
  t.equal((await app.inject({ url: '/v1/modules/Linear?monkey=1', headers: { 'x-api-key': 'alpha' } })).statusCode, 200, 'a name that merely contains "key" passes')
  t.equal(credentialQueryParam({ strict: 'false', limit: '5', cursor: 'abc' }), undefined)
  t.equal(credentialQueryParam({ refresh_token: 'x' }), 'refresh_token')
})

t.test('logged URLs carry no query string', async (t) => {
  const lines: string[] = []
  const app = await buildApp({ config: testConfig({ MATERIA_API_KEYS: 'alpha' }), logger: { level: 'info', stream: { write: (l: string) => { lines.push(l) } } } })
  t.teardown(async () => { await app.close() })
  await app.ready()
  t.equal((await app.inject({ url: '/v1/sessions?api_key=supersecret-1' })).statusCode, 400)
  t.equal((await app.inject({ url: '/healthz?x=supersecret-2' })).statusCode, 200)
  t.equal((await app.inject({ url: '/v1/sessions?sig=supersecret-3', headers: { 'x-api-key': 'alpha' } })).statusCode, 200)
  t.equal((await app.inject({ url: '/nowhere?q=supersecret-4' })).statusCode, 401)
  const logged = lines.map((l) => JSON.parse(l) as { req?: { url: string } })
  const urls = logged.flatMap((l) => l.req === undefined ? [] : [l.req.url])
  t.same(urls, ['/v1/sessions?[redacted]', '/healthz?[redacted]', '/v1/sessions?[redacted]', '/nowhere?[redacted]'], 'each incoming request logged with its query redacted')
  t.notMatch(lines.join('\n'), /supersecret/, 'no secret in any log line')
  t.equal(redactUrl('/v1/sessions'), '/v1/sessions')
})
