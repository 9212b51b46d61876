import t from 'tap'
import { build, assertErrorBody } from '../helper.js'
import { errorDefs } from '../../src/errors.js'

t.test('create, get, list, delete a session', async (t) => {
  const app = await build(t)
  const created = await app.inject({ method: 'POST', url: '/v1/sessions', payload: { ttlSeconds: 120 } })
  t.equal(created.statusCode, 201)
  const s = created.json()
  t.match(s.id, /^ses_/)
  t.equal(created.headers.location, `/v1/sessions/${s.id}`)
  t.equal(s.ttlSeconds, 120)
  t.same([s.modules, s.materializations, s.residentBytes], [0, 0, 0])
  t.equal(Date.parse(s.expiresAt) - Date.parse(s.createdAt), 120_000)

  const got = await app.inject(`/v1/sessions/${s.id}`)
  t.equal(got.statusCode, 200)
  t.ok(Date.parse(got.json().expiresAt) >= Date.parse(s.expiresAt), 'a GET extends the TTL')

  const list = await app.inject('/v1/sessions')
  t.same(list.json().sessions.map((x: { id: string }) => x.id), [s.id])

  const del = await app.inject({ method: 'DELETE', url: `/v1/sessions/${s.id}` })
  t.equal(del.statusCode, 204)
  t.equal(del.body, '')
  assertErrorBody(t, await app.inject(`/v1/sessions/${s.id}`), 404, errorDefs.sessionNotFound.code)
  assertErrorBody(t, await app.inject({ method: 'DELETE', url: `/v1/sessions/${s.id}` }), 404, errorDefs.sessionNotFound.code)
})

t.test('a session without a body takes the configured TTL', async (t) => {
  const app = await build(t, { MATERIA_SESSION_TTL: '77' })
  const res = await app.inject({ method: 'POST', url: '/v1/sessions' })
  t.equal(res.statusCode, 201)
  t.equal(res.json().ttlSeconds, 77)
})

t.test('bad session requests are 400s', async (t) => {
  const app = await build(t, { MATERIA_MAX_SESSION_TTL: '100', MATERIA_SESSION_TTL: '50' })
  assertErrorBody(t, await app.inject({ method: 'POST', url: '/v1/sessions', payload: { ttlSeconds: 0 } }), 400, errorDefs.validation.code)
  assertErrorBody(t, await app.inject({ method: 'POST', url: '/v1/sessions', payload: { ttlSeconds: 'long' } }), 400, errorDefs.validation.code)
  assertErrorBody(t, await app.inject({ method: 'POST', url: '/v1/sessions', payload: { ttl: 5 } }), 400, errorDefs.validation.code)
  const tooLong = assertErrorBody(t, await app.inject({ method: 'POST', url: '/v1/sessions', payload: { ttlSeconds: 101 } }), 400, errorDefs.validation.code)
  t.match(tooLong.message, /at most 100/)
  assertErrorBody(t, await app.inject('/v1/sessions/not-a-handle'), 400, errorDefs.validation.code)
})

t.test('API keys: 401 without a valid key; tenants are isolated (404, not 403)', async (t) => {
  const app = await build(t, { MATERIA_API_KEYS: 'alpha,beta' })
  assertErrorBody(t, await app.inject('/v1/sessions'), 401, errorDefs.unauthorized.code)
  const wrong = await app.inject({ url: '/v1/sessions', headers: { authorization: 'Bearer gamma' } })
  assertErrorBody(t, wrong, 401, errorDefs.unauthorized.code)
  t.equal(wrong.headers['www-authenticate'], 'Bearer')
  t.equal((await app.inject('/healthz')).statusCode, 200, 'operations stay open')
  const a = await app.inject({ method: 'POST', url: '/v1/sessions', headers: { authorization: 'Bearer alpha' } })
  t.equal(a.statusCode, 201)
  const id = a.json().id as string
  t.equal((await app.inject({ url: `/v1/sessions/${id}`, headers: { 'x-api-key': 'alpha' } })).statusCode, 200)
  assertErrorBody(t, await app.inject({ url: `/v1/sessions/${id}`, headers: { 'x-api-key': 'beta' } }), 404, errorDefs.sessionNotFound.code)
  t.same((await app.inject({ url: '/v1/sessions', headers: { 'x-api-key': 'beta' } })).json().sessions, [])
})
