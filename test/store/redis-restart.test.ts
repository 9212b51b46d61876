// A Redis with the append-only file on (a server of this test's own) restarting under two replicas:
// sessions, modules and materialization records survive, calls during the outage answer 503 with
// Retry-After, and after the restart the replicas serve again by themselves and hear each other's
// deletes (pub/sub resubscribed).
import t from 'tap'
import { randomBytes } from 'node:crypto'
import type { MaterializationRecord } from '../../src/store/session-store.js'
import { StoreUnavailableError } from '../../src/store/session-store.js'
import { assertErrorBody, build, until } from '../helper.js'
import { poll, redisCli, startRedis } from './redis-servers.js'

t.test('a Redis restart loses nothing; the replicas ride it out and recover by themselves', async (t) => {
  // appendfsync always: every write is on disk before Redis answers it, whatever the moment of the stop
  const redis = await startRedis(['--appendonly', 'yes', '--appendfsync', 'always'])
  t.teardown(async () => { await redis.close() })
  const env = { MATERIA_STORE: 'redis', REDIS_URL: redis.url, MATERIA_REDIS_PREFIX: `materia-test-${randomBytes(6).toString('hex')}:` }
  const a = await build(t, env)
  const b = await build(t, env)
  const heardOnA: string[] = []
  a.store.onMaterializationEnd((m) => heardOnA.push(m.id))
  const endedOnA: string[] = []
  a.store.onSessionEnd((s) => endedOnA.push(s.id))

  const sid = (await a.inject({ method: 'POST', url: '/v1/sessions', payload: {} })).json().id as string
  const module = await a.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules`, payload: { class: 'Linear', args: [4, 3] } })
  const mid = module.json().id as string
  const record = (id: string): MaterializationRecord => ({
    id, sessionId: sid, moduleId: mid, createdAt: Date.now(), owner: 'replica-a', status: 'ready', options: { init: 'zeros' }, etag: id, lazy: true, nbytes: 60
  })
  const records = ['mat_1', 'mat_2'].map(record)
  for (const r of records) t.ok(await a.store.putMaterialization(r))

  await redis.stop()
  const res = await a.inject(`/v1/sessions/${sid}/modules/${mid}`)
  assertErrorBody(t, res, 503, 'MATERIA_ERR_NOT_READY')
  t.equal(res.headers['retry-after'], '1', 'the client is told when to retry')
  t.equal((await b.inject('/readyz')).statusCode, 503)
  await t.rejects(a.store.getMaterialization(sid, 'mat_1'), StoreUnavailableError)
  await t.rejects(b.store.deleteMaterialization(sid, 'mat_1'), StoreUnavailableError)
  await t.rejects(a.store.heartbeat('replica-a', 1000), StoreUnavailableError)

  await redis.start()
  // no restart of the replicas: their clients reconnect by themselves
  await poll('A serves the module again', async () => (await a.inject(`/v1/sessions/${sid}/modules/${mid}`)).statusCode === 200)
  await poll('B is ready again', async () => (await b.inject('/readyz')).statusCode === 200)
  t.same((await b.inject(`/v1/sessions/${sid}/modules/${mid}`)).json(), module.json(), 'the module survived the restart')
  t.same(await b.store.getMaterialization(sid, 'mat_1'), records[0], 'the materialization records survived')
  t.same(await b.store.getMaterialization(sid, 'mat_2'), records[1])
  t.equal(await b.store.countMaterializations(sid), 2)
  t.same((await b.inject('/v1/sessions')).json().sessions.map((s: { id: string }) => s.id), [sid], 'the tenant index too')

  // both replicas' pub/sub connections are subscribed again (each subscribes to both channels)
  await poll('both replicas subscribed again', async () => {
    const out = await redisCli(redis.port, 'pubsub', 'numsub', `${env.MATERIA_REDIS_PREFIX}materialization-ended`, `${env.MATERIA_REDIS_PREFIX}session-ended`)
    return out.trim().split('\n').filter((_, j) => j % 2 === 1).every((n) => Number(n) === 2)
  })
  t.equal((await b.store.deleteMaterialization(sid, 'mat_2'))?.id, 'mat_2')
  await until('A hears B\'s delete', () => heardOnA.includes('mat_2'))
  t.same(heardOnA, ['mat_2'], 'a delete after the restart is heard')
  t.equal((await b.inject({ method: 'DELETE', url: `/v1/sessions/${sid}` })).statusCode, 204)
  await until('A hears the session end', () => endedOnA.includes(sid))
  t.equal((await a.inject(`/v1/sessions/${sid}`)).statusCode, 404)
})
