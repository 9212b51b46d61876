import t from 'tap'
import { build } from './helper.js'

t.test('healthz answers ok with a request id', async (t) => {
  const app = await build(t)
  const res = await app.inject('/healthz')
  t.equal(res.statusCode, 200)
  t.equal(res.json().status, 'ok')
  t.match(String(res.headers['x-request-id']), /^[0-9a-f-]{36}$/)
})

t.test('a sane incoming x-request-id is kept, an insane one replaced', async (t) => {
  const app = await build(t)
  const kept = await app.inject({ url: '/healthz', headers: { 'x-request-id': 'abc-123' } })
  t.equal(kept.headers['x-request-id'], 'abc-123')
  const replaced = await app.inject({ url: '/healthz', headers: { 'x-request-id': 'a b\u00e9'.repeat(100) } })
  t.not(replaced.headers['x-request-id'], 'a b\u00e9'.repeat(100))
})

t.test('readyz runs every readiness check', async (t) => {
  const app = await build(t)
  const res = await app.inject('/readyz')
  t.equal(res.statusCode, 200)
  t.equal(res.json().status, 'ready')
})

t.test('metrics exposes request-duration histograms by route', async (t) => {
  const app = await build(t)
  await app.inject('/healthz')
  await app.inject('/healthz')
  const res = await app.inject('/metrics')
  t.equal(res.statusCode, 200)
  t.match(String(res.headers['content-type']), /^text\/plain/)
  t.match(res.body, /# TYPE materia_http_request_duration_seconds histogram/)
  t.match(res.body, /materia_http_request_duration_seconds_count\{method="GET",route="\/healthz",status_code="200"\} 2/)
  t.match(res.body, /materia_process_process_resident_memory_bytes \d+/)
})

t.test('metrics has the live sessions gauge', async (t) => {
  const app = await build(t)
  const sessions = async (): Promise<number> => Number(/^materia_sessions (\d+)$/m.exec((await app.inject('/metrics')).body)?.[1])
  t.equal(await sessions(), 0)
  const ids: string[] = []
  for (let i = 0; i < 3; i++) ids.push((await app.inject({ method: 'POST', url: '/v1/sessions', payload: {} })).json().id as string)
  t.equal(await sessions(), 3)
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/sessions/${ids[0] as string}` })).statusCode, 204)
  t.equal(await sessions(), 2)
})

t.test('docs and the OpenAPI document are served', async (t) => {
  const app = await build(t)
  const docs = await app.inject('/docs/')
  t.equal(docs.statusCode, 200)
  t.match(docs.body, /swagger-ui/i)
  const json = await app.inject('/openapi.json')
  t.equal(json.statusCode, 200)
  const doc = json.json()
  t.equal(doc.openapi, '3.0.3')
  t.ok(doc.paths['/healthz'])
  const yaml = await app.inject('/openapi.yaml')
  t.equal(yaml.statusCode, 200)
  t.match(String(yaml.headers['content-type']), /^application\/yaml/)
  t.match(yaml.body, /^openapi: 3\.0\.3/)
})
