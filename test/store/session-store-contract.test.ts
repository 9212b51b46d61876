// The SessionStore contract, run against both stores: the memory store and the Redis store on a
// real redis-server (REDIS_URL, default redis://127.0.0.1:6379; .ci/run starts one on loopback).
// Expiry uses real time with 1 s TTLs: the tests wait for it, they do not time it.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { MemorySessionStore } from '../../src/store/memory-store.js'
import { RedisSessionStore } from '../../src/store/redis-store.js'
import type { ModuleRecord, Page, PageRequest, SessionRecord, SessionStore } from '../../src/store/session-store.js'
import { redisUrl } from '../helper.js'

const stores: Record<string, () => SessionStore> = {
  memory: () => new MemorySessionStore({ sweepIntervalMs: 100 }),
  // a prefix of its own per store: test files run in parallel on one Redis
  redis: () => new RedisSessionStore(new Redis(redisUrl()), { prefix: `materia-test-${randomBytes(6).toString('hex')}:`, sweepIntervalMs: 100 })
}

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }
const mod = (sessionId: string, id: string, cls: string): ModuleRecord => ({ id, sessionId, createdAt: Date.now(), body: { class: cls, spec: { class: cls } } })

/** Walks every page with `limit`; `between` runs after each page (to insert or delete meanwhile). */
async function walk<T> (page: (req: PageRequest) => Promise<Page<T>>, limit: number, between?: (pageNo: number) => Promise<void>): Promise<{ items: T[], pages: number }> {
  const items: T[] = []
  let cursor: string | undefined
  for (let pages = 1; ; pages++) {
    const p = await page({ limit, cursor })
    if (p.items.length > limit) throw new Error(`a page of ${p.items.length} items for limit ${limit}`)
    items.push(...p.items)
    if (p.nextCursor === null) return { items, pages }
    cursor = p.nextCursor
    await between?.(pages)
  }
}

const invalidCursors = ['', 'not a cursor!', Buffer.from('[-1]').toString('base64url'), Buffer.from('{"a":1}').toString('base64url'),
  Buffer.from('["x"]').toString('base64url'), Buffer.from('[1.5]').toString('base64url'), 'A'.repeat(600), 'bm90IGpzb24']

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

for (const [kind, make] of Object.entries(stores)) {
  t.test(`${kind}: session pages walk every session once, in creation order, across inserts`, async (t) => {
    const store = make()
    t.teardown(async () => { await store.close() })
    const made: string[] = []
    for (let i = 0; i < 23; i++) made.push((await store.createSession('p', 60)).id)
    await store.createSession('q', 60)
    for (const limit of [1, 2, 5, 7, 22, 23, 24, 1000]) {
      const { items, pages } = await walk(async (req) => await store.pageSessions('p', req), limit)
      t.same(items.map((s) => s.id), made, `limit ${limit}: every session once, oldest first`)
      t.equal(pages, Math.max(1, Math.ceil(23 / limit)), `limit ${limit}: ${pages} pages`)
    }
    // sessions created while a walk is under way come after every earlier one: none is skipped or repeated
    const added: string[] = []
    const { items } = await walk(async (req) => await store.pageSessions('p', req), 4, async () => {
      added.push((await store.createSession('p', 60)).id)
    })
    t.same(items.map((s) => s.id), [...made, ...added], 'the walk saw the old sessions once, then the new ones')
    // a session deleted behind the walk does not disturb it
    const first = await store.pageSessions('p', { limit: 3 })
    await store.deleteSession('p', made[2] as string)
    const rest = await walk(async (req) => await store.pageSessions('p', req.cursor === undefined ? { ...req, cursor: first.nextCursor ?? undefined } : req), 5)
    t.same(rest.items.map((s) => s.id), [...made.slice(3), ...added], 'resumes after the deleted cursor session')
    t.same((await store.pageSessions('nobody', { limit: 10 })), { items: [], nextCursor: null })
    t.same((await store.listSessions('p')).length, 22 + added.length, 'listSessions walks the pages')
    for (const c of invalidCursors) {
      await t.rejects(store.pageSessions('p', { cursor: c }), { code: 'MATERIA_ERR_INVALID_CURSOR', statusCode: 400 }, `cursor ${JSON.stringify(c.slice(0, 20))} is refused`)
    }
  })

  t.test(`${kind}: module pages keep the order they were put`, async (t) => {
    const store = make()
    t.teardown(async () => { await store.close() })
    const s = await store.createSession('public', 60)
    const ids = Array.from({ length: 12 }, (_, i) => `mod_${String.fromCharCode(108 - i)}`) // not in id order
    for (const id of ids) await store.putModule(s.id, mod(s.id, id, 'torch.nn.Linear'))
    for (const limit of [1, 5, 12, 13]) {
      t.same((await walk(async (req) => await store.pageModules(s.id, req), limit)).items.map((m) => m.id), ids, `limit ${limit}`)
    }
    const added: string[] = []
    const { items } = await walk(async (req) => await store.pageModules(s.id, req), 5, async (n) => {
      added.push(`mod_new${n}`)
      await store.putModule(s.id, mod(s.id, `mod_new${n}`, 'torch.nn.ReLU'))
    })
    t.same(items.map((m) => m.id), [...ids, ...added], 'modules put during the walk come last, none twice')
    for (const c of invalidCursors) await t.rejects(store.pageModules(s.id, { cursor: c }), { code: 'MATERIA_ERR_INVALID_CURSOR' })
  })

  t.test(`${kind}: countSessions counts the tenant's live sessions`, async (t) => {
    const store = make()
    t.teardown(async () => { await store.close() })
    const ended: string[] = []
    store.onSessionEnd((s) => ended.push(s.id))
    t.equal(await store.countSessions('c'), 0, 'an unknown tenant has none')
    const a = await store.createSession('c', 60)
    await store.createSession('c', 60)
    const short = await store.createSession('c', 1)
    await store.createSession('d', 60)
    t.equal(await store.countSessions('c'), 3)
    t.equal(await store.countSessions('d'), 1, 'per tenant')
    await store.deleteSession('c', a.id)
    t.equal(await store.countSessions('c'), 2, 'a deleted session leaves the count')
    await store.touchSession('c', short.id)
    t.equal(await store.countSessions('c'), 2, 'a touch does not count twice')
    for (let i = 0; i < 50 && !ended.includes(short.id); i++) await sleep(100)
    t.ok(ended.includes(short.id), 'the short session ended')
    t.equal(await store.countSessions('c'), 1, 'an expired session leaves the count')
    t.same((await store.pageSessions('c', {})).items.length, 1, 'and the listing')
  })
}
