// The SessionStore contract, run against both stores: the memory store and the Redis store on a
// real redis-server (REDIS_URL, default redis://127.0.0.1:6379; .ci/run starts one on loopback).
// Expiry uses real time with 1 s TTLs: the tests wait for it, they do not time it.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { MemorySessionStore } from '../../src/store/memory-store.js'
import { RedisSessionStore } from '../../src/store/redis-store.js'
import type { ModuleRecord, SessionRecord, SessionStore } from '../../src/store/session-store.js'
import { redisUrl } from '../helper.js'

const stores: Record<string, () => SessionStore> = {
  memory: () => new MemorySessionStore({ sweepIntervalMs: 100 }),
  // a prefix of its own per store: test files run in parallel on one Redis
  redis: () => new RedisSessionStore(new Redis(redisUrl()), { prefix: `materia-test-${randomBytes(6).toString('hex')}:`, sweepIntervalMs: 100 })
}

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }
const mod = (sessionId: string, id: string, cls: string): ModuleRecord => ({ id, sessionId, createdAt: Date.now(), body: { class: cls, spec: { class: cls } } })

for (const [kind, make] of Object.entries(stores)) {
  t.test(`${kind}: sessions, tenants and deletion`, async (t) => {
    const store = make()
    t.teardown(async () => { await store.close() })
    t.equal(store.kind, kind)
    await store.ping()
    const ended: string[] = []
    store.onSessionEnd((s) => ended.push(s.id))
    const a1 = await store.createSession('a', 60)
    const a2 = await store.createSession('a', 60)
    const b1 = await store.createSession('b', 60)
    t.match(a1.id, /^ses_[A-Za-z0-9_-]{24}$/)
    t.same(Object.keys(a1).sort(), ['createdAt', 'expiresAt', 'id', 'tenant', 'ttlSeconds'])
    t.same((await store.listSessions('a')).map((s) => s.id), [a1.id, a2.id], 'oldest first')
    t.same((await store.listSessions('b')).map((s) => s.id), [b1.id])
    t.equal(await store.touchSession('b', a1.id), undefined, 'another tenant\'s session is not found')
    t.equal(await store.deleteSession('b', a1.id), undefined)
    const touched = await store.touchSession('a', a1.id) as SessionRecord
    t.ok(touched.expiresAt >= a1.expiresAt, 'a touch slides the expiry forward')
    t.equal((await store.deleteSession('a', a1.id))?.id, a1.id)
    t.equal(await store.deleteSession('a', a1.id), undefined, 'deleted once')
    t.equal(await store.touchSession('a', a1.id), undefined)
    t.same(ended, [a1.id], 'the end listener ran once')
    t.same((await store.listSessions('a')).map((s) => s.id), [a2.id])
  })

  t.test(`${kind}: modules keep their order and die with their session`, async (t) => {
    const store = make()
    t.teardown(async () => { await store.close() })
    const s = await store.createSession('public', 60)
    const other = await store.createSession('public', 60)
    for (const [i, cls] of ['torch.nn.Linear', 'torch.nn.ReLU', 'torch.nn.LSTM'].entries()) await store.putModule(s.id, mod(s.id, `mod_${3 - i}`, cls))
    await store.putModule(other.id, mod(other.id, 'mod_x', 'torch.nn.GRU'))
    t.equal(await store.countModules(s.id), 3)
    t.same((await store.listModules(s.id)).map((m) => m.id), ['mod_3', 'mod_2', 'mod_1'], 'in the order they were put')
    t.same((await store.getModule(s.id, 'mod_2'))?.body, { class: 'torch.nn.ReLU', spec: { class: 'torch.nn.ReLU' } }, 'the body round-trips')
    t.equal(await store.getModule(s.id, 'mod_x'), undefined, 'another session\'s module is not found')
    t.ok(await store.deleteModule(s.id, 'mod_2'))
    t.notOk(await store.deleteModule(s.id, 'mod_2'))
    t.same((await store.listModules(s.id)).map((m) => m.id), ['mod_3', 'mod_1'])
    await store.deleteSession('public', s.id)
    t.equal(await store.getModule(s.id, 'mod_1'), undefined)
    t.same(await store.listModules(s.id), [])
    t.equal(await store.countModules(s.id), 0)
    await store.putModule(s.id, mod(s.id, 'mod_late', 'torch.nn.Linear'))
    t.equal(await store.countModules(s.id), 0, 'a module put after its session ended is not kept')
    t.equal(await store.countModules(other.id), 1, 'the other session keeps its module')
  })

  t.test(`${kind}: expiry ends a session once, with its modules; a touch keeps it alive`, async (t) => {
    const store = make()
    t.teardown(async () => { await store.close() })
    const ended: string[] = []
    store.onSessionEnd((s) => ended.push(s.id))
    const short = await store.createSession('public', 1)
    const kept = await store.createSession('public', 1)
    await store.putModule(short.id, mod(short.id, 'mod_1', 'torch.nn.Linear'))
    await store.putModule(kept.id, mod(kept.id, 'mod_2', 'torch.nn.Linear'))
    for (let i = 0; i < 6; i++) {
      await sleep(300)
      t.ok(await store.touchSession('public', kept.id), `touched at ${(i + 1) * 300} ms`)
    }
    for (let i = 0; i < 50 && !ended.includes(short.id); i++) await sleep(100)
    t.same(ended, [short.id], 'the expired session ended (by the sweep, without any call naming it)')
    t.equal(await store.touchSession('public', short.id), undefined)
    t.equal(await store.getModule(short.id, 'mod_1'), undefined, 'its modules are gone')
    t.ok(await store.getModule(kept.id, 'mod_2'), 'the touched session kept its module past the first TTL')
    t.same((await store.listSessions('public')).map((s) => s.id), [kept.id])
  })
}
