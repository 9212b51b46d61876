import t from 'tap'
import { MemorySessionStore } from '../../src/store/memory-store.js'
import type { SessionRecord } from '../../src/store/session-store.js'

function clockedStore (): { store: MemorySessionStore, advance: (ms: number) => void } {
  let now = 1_000_000
  const store = new MemorySessionStore({ now: () => now, sweepIntervalMs: 60_000 })
  return { store, advance: (ms) => { now += ms } }
}

t.test('handles are prefixed and unguessable', async (t) => {
  const { store } = clockedStore()
  t.teardown(() => store.close())
  const a = await store.createSession('public', 60)
  const b = await store.createSession('public', 60)
  t.match(a.id, /^ses_[A-Za-z0-9_-]{24}$/)
  t.not(a.id, b.id)
})

t.test('sliding TTL: each touch extends, expiry ends the session once', async (t) => {
  const { store, advance } = clockedStore()
  t.teardown(() => store.close())
  const ended: SessionRecord[] = []
  store.onSessionEnd((s) => ended.push(s))
  const s = await store.createSession('public', 10)
  advance(9_000)
  const touched = await store.touchSession('public', s.id)
  t.equal(touched?.expiresAt, s.createdAt + 19_000, 'expiry moved to now + ttl')
  advance(9_000)
  t.ok(await store.touchSession('public', s.id), 'still alive 18 s after creation')
  advance(10_001)
  t.equal(await store.touchSession('public', s.id), undefined, 'expired')
  t.equal(ended.length, 1)
  t.equal(ended[0]?.id, s.id)
  t.same(await store.listSessions('public'), [])
})

t.test('tenants see only their own sessions', async (t) => {
  const { store } = clockedStore()
  t.teardown(() => store.close())
  const mine = await store.createSession('a', 60)
  await store.createSession('b', 60)
  t.same((await store.listSessions('a')).map((s) => s.id), [mine.id])
  t.equal(await store.touchSession('b', mine.id), undefined)
  t.equal(await store.deleteSession('b', mine.id), undefined)
  t.ok(await store.deleteSession('a', mine.id))
})

t.test('modules live and die with their session', async (t) => {
  const { store } = clockedStore()
  t.teardown(() => store.close())
  const s = await store.createSession('public', 60)
  await store.putModule(s.id, { id: 'mod_1', sessionId: s.id, createdAt: 1, body: { class: 'torch.nn.Linear' } })
  t.equal(await store.countModules(s.id), 1)
  t.equal((await store.getModule(s.id, 'mod_1'))?.body.class, 'torch.nn.Linear')
  t.ok(await store.deleteModule(s.id, 'mod_1'))
  t.notOk(await store.deleteModule(s.id, 'mod_1'))
  await store.putModule(s.id, { id: 'mod_2', sessionId: s.id, createdAt: 1, body: { class: 'torch.nn.ReLU' } })
  await store.deleteSession('public', s.id)
  t.equal(await store.getModule(s.id, 'mod_2'), undefined)
  t.same(await store.listModules(s.id), [])
})
