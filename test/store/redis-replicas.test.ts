// Several replicas on one Redis (a real redis-server): sessions and modules made on one replica are
// served by another, a session deleted on one frees the memory another holds for it, an unreachable
// Redis is a 503 (never a 500) and a clear message at boot.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { RedisSessionStore } from '../../src/store/redis-store.js'
import { buildApp } from '../../src/app.js'
import { assertErrorBody, build, redisUrl, testConfig } from '../helper.js'
import { startRedis } from './redis-servers.js'

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

t.test('two stores on one Redis share sessions and hear of each other\'s deletes', async (t) => {
  const prefix = `materia-test-${randomBytes(6).toString('hex')}:`
  const a = new RedisSessionStore(new Redis(redisUrl()), { prefix })
  const b = new RedisSessionStore(new Redis(redisUrl()), { prefix })
  t.teardown(async () => { await a.close(); await b.close() })
  const endedOnA: string[] = []
  a.onSessionEnd((s) => endedOnA.push(s.id))
  const s = await a.createSession('public', 60)
  await a.putModule(s.id, { id: 'mod_1', sessionId: s.id, createdAt: 1, body: { class: 'torch.nn.Linear' } })
  t.equal((await b.touchSession('public', s.id))?.id, s.id, 'B sees A\'s session')
  t.equal((await b.getModule(s.id, 'mod_1'))?.body.class, 'torch.nn.Linear', 'and its module')
  t.ok(await b.deleteSession('public', s.id))
  for (let i = 0; i < 50 && endedOnA.length === 0; i++) await sleep(20)
  t.same(endedOnA, [s.id], 'A heard that B deleted the session (pub/sub)')
  t.equal(await a.deleteSession('public', s.id), undefined, 'gone for A too')
})

t.test('every key the store writes expires (nothing outlives its sessions in Redis)', async (t) => {
  const prefix = `materia-test-${randomBytes(6).toString('hex')}:`
  const store = new RedisSessionStore(new Redis(redisUrl()), { prefix })
  const probe = new Redis(redisUrl())
  t.teardown(async () => { await store.close(); await probe.quit() })
  const s1 = await store.createSession('t1', 30)
  const s2 = await store.createSession('t1', 60)
  await store.putModule(s1.id, { id: 'mod_1', sessionId: s1.id, createdAt: 1, body: { class: 'torch.nn.Linear' } })
  await store.putMaterialization({ id: 'mat_1', sessionId: s1.id, moduleId: 'mod_1', createdAt: 1, owner: 'r', status: 'pending', options: {}, etag: 'e', lazy: false, nbytes: 1 })
  await store.touchSession('t1', s2.id)
  await store.heartbeat('replica-1', 60_000)
  const keys = await probe.keys(`${prefix}*`)
  t.same(keys.map((k) => k.slice(prefix.length).replace(/ses_[A-Za-z0-9_-]{24}/, 'ID')).sort(),
    ['replica:replica-1', '{ID}:materialization-index', '{ID}:materializations', '{ID}:module-index', '{ID}:modules', '{ID}:session', '{ID}:session', '{tenant:t1}:expiry', '{tenant:t1}:sessions'])
  for (const k of keys) {
    const ttl = await probe.pttl(k)
    t.ok(ttl > 0 && ttl <= 60_000, `${k.slice(prefix.length)} expires (in ${ttl} ms)`)
  }
  for (const k of ['{tenant:t1}:sessions', '{tenant:t1}:expiry']) t.ok(await probe.pttl(`${prefix}${k}`) > 30_000, `${k} lives as long as its longest session`)
  await probe.call('SCRIPT', 'FLUSH')
  t.equal((await store.touchSession('t1', s1.id))?.id, s1.id, 'a touch after SCRIPT FLUSH loads the script again')
  t.equal(await store.touchSession('t2', s1.id), undefined, 'the script checks the tenant')
})

t.test('an unreachable Redis answers 503 notReady from every call', async (t) => {
  const client = new Redis('redis://127.0.0.1:1', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null })
  client.on('error', () => {})
  const store = new RedisSessionStore(client)
  t.teardown(async () => { await store.close() })
  await t.rejects(store.createSession('public', 60), { code: 'MATERIA_ERR_NOT_READY', statusCode: 503 })
  await t.rejects(store.touchSession('public', 'ses_x'), { code: 'MATERIA_ERR_NOT_READY' })
  await t.rejects(store.ping(), { code: 'MATERIA_ERR_NOT_READY', message: /^Session store unavailable \(Redis ping: / })
})

t.test('Redis going away mid-service: requests answer 503 with Retry-After, /readyz 503, no crash', async (t) => {
  // a Redis of this test's own, to stop
  const redis = await startRedis(['--appendonly', 'no'])
  t.teardown(async () => { await redis.close() })
  const app = await build(t, { MATERIA_STORE: 'redis', REDIS_URL: redis.url })
  const sid = (await app.inject({ method: 'POST', url: '/v1/sessions', payload: {} })).json().id as string
  t.equal((await app.inject(`/v1/sessions/${sid}`)).statusCode, 200)
  await redis.stop()
  await sleep(100)
  const res = await app.inject(`/v1/sessions/${sid}`)
  assertErrorBody(t, res, 503, 'MATERIA_ERR_NOT_READY')
  t.equal(res.headers['retry-after'], '1')
  t.match(res.json().message, /^Session store unavailable \(Redis touch: /)
  t.equal((await app.inject('/readyz')).statusCode, 503)
  assertErrorBody(t, await app.inject({ method: 'POST', url: '/v1/sessions', payload: {} }), 503, 'MATERIA_ERR_NOT_READY')
})

t.test('MATERIA_STORE=redis with no Redis stops the boot with the URL, password hidden', async (t) => {
  await t.rejects(buildApp({ config: testConfig({ LOG_LEVEL: 'silent', MATERIA_STORE: 'redis', REDIS_URL: 'redis://user:secret@127.0.0.1:1/0' }) }),
    { message: /^MATERIA_STORE=redis: cannot reach Redis at redis:\/\/user:\*\*\*@127\.0\.0\.1:1\/0 / })
})

t.test('a Redis user that may not subscribe stops the boot: a replica would miss the others\' deletions', async (t) => {
  const admin = new Redis(redisUrl())
  const user = `materia-test-${randomBytes(6).toString('hex')}`
  // every command and key, no pub/sub channel
  await admin.call('ACL', 'SETUSER', user, 'on', '>pw', '~*', '+@all', 'resetchannels')
  t.teardown(async () => { await admin.call('ACL', 'DELUSER', user); admin.disconnect() })
  const url = new URL(redisUrl())
  url.username = user
  url.password = 'pw'
  await t.rejects(buildApp({ config: testConfig({ LOG_LEVEL: 'silent', MATERIA_STORE: 'redis', REDIS_URL: url.href }) }),
    { message: /^MATERIA_STORE=redis: cannot subscribe to announcements on Redis at redis:\/\/materia-test-[0-9a-f]+:\*\*\*@/ })
})

t.test('two replicas over HTTP: a module made on A is served by B; deleting the session on B frees A\'s memory', async (t) => {
  // a prefix of this test's own: the replicas share it, other test files do not
  const env = { MATERIA_STORE: 'redis', REDIS_URL: redisUrl(), MATERIA_REDIS_PREFIX: `materia-test-${randomBytes(6).toString('hex')}:` }
  const a = await build(t, env)
  const b = await build(t, env)
  t.equal((await a.inject('/readyz')).json().checks.store, 'ok')
  const sid = (await a.inject({ method: 'POST', url: '/v1/sessions', payload: {} })).json().id as string
  const created = await a.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules`, payload: { class: 'LSTM', args: [6, 9], kwargs: { bidirectional: true } } })
  t.equal(created.statusCode, 201)
  const mid = created.json().id as string
  const onB = await b.inject(`/v1/sessions/${sid}/modules/${mid}`)
  t.equal(onB.statusCode, 200)
  t.same(onB.json(), created.json(), 'B serves the module A built, tensor table and all')
  t.same((await b.inject(`/v1/sessions/${sid}/modules`)).json().modules.map((m: { id: string }) => m.id), [mid])
  t.same((await b.inject('/v1/sessions')).json().sessions.map((s: { id: string }) => s.id), [sid], 'B lists the session A made, and only it (its prefix)')
  const m = await a.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules/${mid}/materializations`, payload: { init: 'default', seed: 1 } })
  t.equal(m.statusCode, 201)
  t.ok(a.materializations.residentBytes > 0)
  t.equal((await b.inject({ method: 'DELETE', url: `/v1/sessions/${sid}` })).statusCode, 204)
  for (let i = 0; i < 50 && a.materializations.residentBytes > 0; i++) await sleep(20)
  t.equal(a.materializations.residentBytes, 0, 'A freed the materialization of the session B deleted')
  t.equal((await a.inject(`/v1/sessions/${sid}`)).statusCode, 404)
})
