import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { build, assertErrorBody } from './helper.js'
import { allErrorDefs, errorDefs, errorMessages, formatMessage, materiaError, MateriaError, type ErrorDef, type ErrorMessage, type MessageName } from '../src/errors.js'

// Where errors are raised: materiaError(name, …) (a message name, or an errorDefs name for a whole
// message), new MateriaError(name, …), errorMessages.name, and the fastify codes the error handler
// maps (errorDefs.name there). A static scan, so a code no code path can raise is noticed.
function sources (dir: URL): Array<{ file: string, text: string }> {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => ({ file: f, text: readFileSync(new URL(f, dir), 'utf8') }))
}
const code = [...sources(new URL('../src/', import.meta.url)).filter((s) => s.file !== 'errors.ts'), ...sources(new URL('../routes/', import.meta.url))]

function raisedNames (): Map<string, string[]> {
  const names = new Map<string, string[]>()
  const add = (name: string, file: string): void => { names.set(name, [...(names.get(name) ?? []), file]) }
  for (const { file, text } of code) {
    for (const m of text.matchAll(/materiaError\(\s*([^,]+?),/g)) for (const q of (m[1] ?? '').matchAll(/'(\w+)'/g)) add(q[1] ?? '', file)
    for (const m of text.matchAll(/new MateriaError\(\s*'(\w+)'/g)) add(m[1] ?? '', file)
    for (const m of text.matchAll(/errorMessages\.(\w+)/g)) add(m[1] ?? '', file)
    if (file.endsWith('error-handler.ts')) for (const m of text.matchAll(/errorDefs\.(\w+)/g)) add(m[1] ?? '', file)
  }
  return names
}

t.test('the registry: unique codes of the MATERIA_ERR_ form, each with an error status and a description', async (t) => {
  const codes = allErrorDefs.map((d) => d.code)
  t.equal(new Set(codes).size, codes.length, 'codes are unique')
  for (const d of allErrorDefs) {
    t.match(d.code, /^MATERIA_ERR_[A-Z0-9_]+$/)
    t.ok(d.statusCode >= 400 && d.statusCode < 600, `${d.code} has an error status`)
    t.ok(d.description.length > 10, `${d.code} is described`)
  }
})

t.test('every code is raised somewhere in src/ or routes/, and every message template is used', async (t) => {
  const raised = raisedNames()
  const messages = errorMessages as Record<string, ErrorMessage>
  const defs = errorDefs as Record<string, ErrorDef>
  for (const name of raised.keys()) t.ok(name in messages || name in defs, `'${name}' (raised in ${raised.get(name)?.join(', ') ?? ''}) is in the registry`)
  const raisedCodes = new Set([...raised.keys()].map((n) => messages[n]?.error ?? n))
  for (const name of Object.keys(errorDefs)) t.ok(raisedCodes.has(name), `${defs[name]?.code ?? name} is raised somewhere`)
  for (const name of Object.keys(errorMessages)) t.ok(raised.has(name), `message '${name}' is raised somewhere`)
})

t.test('every template has its placeholders filled: formatted with one value each, no {name} is left', async (t) => {
  for (const [name, m] of Object.entries(errorMessages as Record<string, ErrorMessage>)) {
    t.ok(m.error in errorDefs, `${name} answers with a registered code`)
    const keys = [...m.template.matchAll(/\{(\w+)\}/g)].map((x) => x[1] ?? '')
    const text = formatMessage(m.template, Object.fromEntries(keys.map((k) => [k, `<${k}>`])))
    t.notMatch(text, /\{\w+\}/, `${name}: every placeholder filled`)
    for (const k of keys) t.match(text, `<${k}>`, `${name}: {${k}} is replaced`)
    if (keys.length > 0) t.throws(() => formatMessage(m.template, {}), /no parameter/, `${name}: a missing parameter is an error`)
    const e = materiaError(name as MessageName, Object.fromEntries(keys.map((k) => [k, 1])) as never)
    t.equal(e.code, errorDefs[m.error].code, `${name} carries its code`)
    t.equal(e.statusCode, errorDefs[m.error].statusCode, `${name} carries its status`)
  }
  // the typed helper refuses a call without the template's parameters (checked by tsc)
  // @ts-expect-error missing 'id'
  t.throws(() => materiaError('materializationNotFound', {}))
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
