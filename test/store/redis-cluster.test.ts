// The Redis store on a real 3-master Redis Cluster started on loopback (once for this file; the
// contract suite runs on another): each session's keys sit in one slot, sessions spread over the
// masters, the service built against the cluster (both ways of naming it) shares sessions, modules
// and rate-limit counts between replicas, and a master going away is a 503 with Retry-After.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { Cluster, Redis } from 'ioredis'
import { RedisSessionStore } from '../../src/store/redis-store.js'
import { assertErrorBody, build } from '../helper.js'
import { startCluster } from './redis-servers.js'

const cluster = await startCluster()
t.teardown(async () => { await cluster.close() })
const seeds = cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',')
const newPrefix = (): string => `materia-test-${randomBytes(6).toString('hex')}:`

/** Every key under `prefix` on each master: key → the master's port. */
async function keysByMaster (prefix: string): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  for (const { port } of cluster.nodes) {
    const node = new Redis({ port, host: '127.0.0.1' })
    for (const k of await node.keys(`${prefix}*`)) out.set(k, port)
    await node.quit()
  }
  return out
}

t.test('a session\'s keys sit in one slot; sessions spread over every master', async (t) => {
  const prefix = newPrefix()
  const store = new RedisSessionStore(new Cluster(cluster.nodes), { prefix })
  const probe = new Cluster(cluster.nodes)
  t.teardown(async () => { await store.close(); await probe.quit() })
  const ids: string[] = []
  for (let i = 0; i < 30; i++) {
    const s = await store.createSession('spread', 60)
    await store.putModule(s.id, { id: 'mod_1', sessionId: s.id, createdAt: 1, body: { class: 'torch.nn.Linear' } })
    await store.putMaterialization({ id: 'mat_1', sessionId: s.id, moduleId: 'mod_1', createdAt: 1, owner: 'r', status: 'pending', options: {}, etag: 'e', lazy: false, nbytes: 1 })
    await store.touchSession('spread', s.id)
    ids.push(s.id)
  }
  const keys = await keysByMaster(prefix)
  const slot = async (k: string): Promise<number> => Number(await probe.cluster('KEYSLOT', k))
  const mastersUsed = new Set<number>()
  for (const id of ids) {
    const own = [...keys.keys()].filter((k) => k.includes(`{${id}}`))
    t.equal(own.length, 5, 'session, modules, module order, materializations, their order')
    t.equal(new Set(await Promise.all(own.map(slot))).size, 1, `${id}: one slot`)
    t.equal(new Set(own.map((k) => keys.get(k))).size, 1, `${id}: one master`)
    mastersUsed.add(keys.get(own[0] as string) as number)
  }
  t.equal(mastersUsed.size, 3, 'the sessions of one tenant spread over all three masters')
  const tenantKeys = [...keys.keys()].filter((k) => k.includes('{tenant:spread}'))
  t.equal(tenantKeys.length, 2)
  t.equal(new Set(await Promise.all(tenantKeys.map(slot))).size, 1, 'the tenant\'s two indexes share a slot')
  t.equal(await store.countSessions('spread'), 30)
  t.same((await store.listSessions('spread')).map((s) => s.id), ids, 'listed in creation order across the masters')
  t.equal((await store.deleteSession('spread', ids[3] as string))?.id, ids[3])
  t.equal(await store.countSessions('spread'), 29)
})

t.test('two replicas on the cluster: a session and module made through one are served by the other; rate limits are shared', async (t) => {
  const prefix = newPrefix()
  const limits = { MATERIA_API_KEYS: 'alpha', MATERIA_RATE_LIMIT: '8' }
  // one replica names the cluster by its seed nodes, the other by a redis+cluster:// URL
  const a = await build(t, { MATERIA_STORE: 'redis', REDIS_CLUSTER_NODES: seeds, MATERIA_REDIS_PREFIX: prefix, ...limits })
  const b = await build(t, { MATERIA_STORE: 'redis', REDIS_URL: `redis+cluster://${seeds}`, MATERIA_REDIS_PREFIX: prefix, ...limits })
  t.ok(a.redis instanceof Cluster && b.redis instanceof Cluster, 'both use ioredis\' Cluster client')
  t.equal((await a.inject('/readyz')).json().checks.store, 'ok')
  const auth = { authorization: 'Bearer alpha' }
  const sid = (await a.inject({ method: 'POST', url: '/v1/sessions', headers: auth, payload: {} })).json().id as string
  const created = await a.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules`, headers: auth, payload: { class: 'Linear', args: [4, 3] } })
  t.equal(created.statusCode, 201)
  const mid = created.json().id as string
  const onB = await b.inject({ url: `/v1/sessions/${sid}/modules/${mid}`, headers: auth })
  t.equal(onB.statusCode, 200)
  t.same(onB.json(), created.json(), 'B serves the module A built')
  t.same((await b.inject({ url: '/v1/sessions', headers: auth })).json().sessions.map((s: { id: string }) => s.id), [sid])
  // 4 requests so far on a limit of 8 a minute, counted in the cluster: 4 more pass, the 9th is refused
  const statuses: number[] = []
  for (let i = 0; i < 5; i++) statuses.push((await (i % 2 === 0 ? a : b).inject({ url: `/v1/sessions/${sid}`, headers: auth })).statusCode)
  t.same(statuses, [200, 200, 200, 200, 429], 'the two replicas count against one limit')
})

t.test('a master going away: calls on its slots answer 503 with Retry-After, not a hang or a 500', async (t) => {
  const prefix = newPrefix()
  const app = await build(t, { MATERIA_STORE: 'redis', REDIS_CLUSTER_NODES: seeds, MATERIA_REDIS_PREFIX: prefix })
  const sid = (await app.inject({ method: 'POST', url: '/v1/sessions', payload: {} })).json().id as string
  const port = (await keysByMaster(prefix)).get(`${prefix}{${sid}}:session`) as number
  // last test of the file: the cluster stays broken until teardown
  await cluster.servers.get(port)?.stop()
  const res = await app.inject(`/v1/sessions/${sid}`)
  assertErrorBody(t, res, 503, 'MATERIA_ERR_NOT_READY')
  t.equal(res.headers['retry-after'], '1')
  t.match(res.json().message, /^Session store unavailable \(Redis touch: /)
})
