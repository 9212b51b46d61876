import t from 'tap'
import { readFileSync } from 'node:fs'
import { build, assertErrorBody } from './helper.js'
import { allErrorDefs, errorDefs, MateriaError } from '../src/errors.js'

t.test('the registry: unique codes, stable shape, documented in openapi.yaml and nowhere else', async (t) => {
  const codes = allErrorDefs.map((d) => d.code)
  t.equal(new Set(codes).size, codes.length, 'codes are unique')
  for (const d of allErrorDefs) {
    t.match(d.code, /^MATERIA_ERR_[A-Z0-9_]+$/)
    t.ok(d.statusCode >= 400 && d.statusCode < 600, `${d.code} has an error status`)
    t.ok(d.description.length > 10, `${d.code} is described`)
  }
  const yaml = readFileSync(new URL('../openapi.yaml', import.meta.url), 'utf8')
  for (const c of codes) t.match(yaml, c, `${c} appears in openapi.yaml`)
  const inYaml = new Set(yaml.match(/MATERIA_ERR_[A-Z0-9_]+/g) ?? [])
  t.same([...inYaml].filter((c) => !codes.includes(c)), [], 'openapi.yaml names no stale code')
})

t.test('unknown route → 404 in the one body', async (t) => {
  const app = await build(t)
  const res = await app.inject('/v1/nothing-here')
  const body = assertErrorBody(t, res, 404, errorDefs.routeNotFound.code)
  t.match(body.message, /GET \/v1\/nothing-here/)
})

t.test('bad JSON, empty JSON, body too large, unsupported media type', async (t) => {
  const app = await build(t, { MATERIA_BODY_LIMIT: '1KiB' }, (app) => { app.post('/echo', async (req) => req.body ?? {}) })
  const bad = await app.inject({ method: 'POST', url: '/echo', payload: '{"a":', headers: { 'content-type': 'application/json' } })
  assertErrorBody(t, bad, 400, errorDefs.badRequest.code)
  const empty = await app.inject({ method: 'POST', url: '/echo', payload: '', headers: { 'content-type': 'application/json' } })
  assertErrorBody(t, empty, 400, errorDefs.badRequest.code)
  const large = await app.inject({ method: 'POST', url: '/echo', payload: JSON.stringify({ a: 'x'.repeat(2000) }), headers: { 'content-type': 'application/json' } })
  assertErrorBody(t, large, 413, errorDefs.bodyTooLarge.code)
  const media = await app.inject({ method: 'POST', url: '/echo', payload: 'x', headers: { 'content-type': 'application/x-nope' } })
  assertErrorBody(t, media, 415, errorDefs.unsupportedMediaType.code)
})

t.test('schema validation → 400 validation code', async (t) => {
  const app = await build(t, {}, (app) => {
    app.post('/typed', { schema: { body: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } } } }, async () => ({}))
  })
  const res = await app.inject({ method: 'POST', url: '/typed', payload: { n: 'x' } })
  const body = assertErrorBody(t, res, 400, errorDefs.validation.code)
  t.match(body.message, /n/)
})

t.test('a thrown MateriaError keeps its status, code, message and headers', async (t) => {
  const app = await build(t, {}, (app) => {
    app.get('/busy', async () => { throw new MateriaError('notReady', 'busy now', { 'retry-after': '3' }) })
  })
  const res = await app.inject('/busy')
  const body = assertErrorBody(t, res, 503, errorDefs.notReady.code)
  t.equal(body.message, 'busy now')
  t.equal(res.headers['retry-after'], '3')
})

t.test('an unexpected error → 500 without internals, logged with the request id', async (t) => {
  const lines: string[] = []
  const { buildApp } = await import('../src/app.js')
  const { testConfig } = await import('./helper.js')
  const app = await buildApp({ config: testConfig(), logger: { level: 'error', stream: { write: (l: string) => { lines.push(l) } } } })
  t.teardown(async () => { await app.close() })
  app.get('/boom', async () => { throw new Error('secret internal detail at /srv/x.ts:12') })
  const res = await app.inject({ url: '/boom', headers: { 'x-request-id': 'req-boom-1' } })
  const body = assertErrorBody(t, res, 500, errorDefs.internal.code)
  t.notMatch(res.body, /secret|\.ts|at /)
  t.equal(body.message, 'Internal server error')
  const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.reqId === 'req-boom-1')
  t.ok(logged, 'the 5xx is logged under the request id')
  t.match(JSON.stringify(logged), /secret internal detail/)
})

t.test('router errors (a path parameter too long, a URL that does not decode) have the one error shape', async (t) => {
  const app = await build(t)
  assertErrorBody(t, await app.inject({ url: `/v1/sessions/ses_${'A'.repeat(300)}` }), 414, 'MATERIA_ERR_URI_TOO_LONG')
  assertErrorBody(t, await app.inject({ url: '/v1/sessions/%E0%A4%A' }), 400, 'MATERIA_ERR_BAD_REQUEST')
})
