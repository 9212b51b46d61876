// The SessionStore contract, run against every store: the memory store, the Redis store on a real
// redis-server (REDIS_URL, default redis://127.0.0.1:6379; .ci/run starts one on loopback), and the
// Redis store on a real 3-master Redis Cluster this file starts on loopback (once, for every test).
// Expiry uses real time with 1 s TTLs: the tests wait for it, they do not time it.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { Cluster, Redis } from 'ioredis'
import { MemorySessionStore } from '../../src/store/memory-store.js'
import { RedisSessionStore } from '../../src/store/redis-store.js'
import type { MaterializationRecord, ModuleRecord, Page, PageRequest, SessionRecord, SessionStore } from '../../src/store/session-store.js'
import { redisUrl, until } from '../helper.js'
import { startCluster } from './redis-servers.js'

const cluster = await startCluster()
t.teardown(async () => { await cluster.close() })

/** Each kind makes a store on a key prefix; stores made on one prefix are replicas of one deployment (memory: none). */
const kinds: Record<string, { kind: string, make: (prefix: string) => SessionStore, replicas: boolean }> = {
  memory: { kind: 'memory', make: () => new MemorySessionStore({ sweepIntervalMs: 100 }), replicas: false },
  redis: { kind: 'redis', make: (prefix) => new RedisSessionStore(new Redis(redisUrl()), { prefix, sweepIntervalMs: 100 }), replicas: true },
  'redis-cluster': { kind: 'redis', make: (prefix) => new RedisSessionStore(new Cluster(cluster.nodes), { prefix, sweepIntervalMs: 100 }), replicas: true }
}
// a prefix of its own per store: test files run in parallel on one Redis
const newPrefix = (): string => `materia-test-${randomBytes(6).toString('hex')}:`
const stores: Record<string, () => SessionStore> = Object.fromEntries(Object.entries(kinds).map(([name, k]) => [name, () => k.make(newPrefix())]))

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }
const mod = (sessionId: string, id: string, cls: string): ModuleRecord => ({ id, sessionId, createdAt: Date.now(), body: { class: cls, spec: { class: cls } } })

/** A record whose options hold what a JSON round trip through Lua would spoil: doubles of 17 digits, an empty array, an empty object. */
const mat = (sessionId: string, id: string, extra: Partial<MaterializationRecord> = {}): MaterializationRecord => ({
  id,
  sessionId,
  moduleId: 'mod_1',
  createdAt: Date.now(),
  owner: 'replica-a',
  status: 'pending',
  options: { init: 'default', seed: 2 ** 53 - 1, overrides: [], rng: {}, std: 0.12345678901234568, dtype: 'float32', nested: { a: [1, 'b', null] } },
  etag: 'e1',
  lazy: false,
  nbytes: 123_456_789_012,
  ...extra
})

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
    t.equal(store.kind, kinds[kind]?.kind)
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
    t.ok(await store.putMaterialization(mat(short.id, 'mat_1')))
    t.ok(await store.putMaterialization(mat(kept.id, 'mat_2')))
    for (let i = 0; i < 6; i++) {
      await sleep(300)
      t.ok(await store.touchSession('public', kept.id), `touched at ${(i + 1) * 300} ms`)
    }
    for (let i = 0; i < 50 && !ended.includes(short.id); i++) await sleep(100)
    t.same(ended, [short.id], 'the expired session ended (by the sweep, without any call naming it)')
    t.equal(await store.touchSession('public', short.id), undefined)
    t.equal(await store.getModule(short.id, 'mod_1'), undefined, 'its modules are gone')
    t.ok(await store.getModule(kept.id, 'mod_2'), 'the touched session kept its module past the first TTL')
    t.equal(await store.getMaterialization(short.id, 'mat_1'), undefined, 'its materialization records are gone')
    t.equal(await store.countMaterializations(short.id), 0)
    t.same(await store.pageMaterializations(short.id, {}), { items: [], nextCursor: null })
    t.equal((await store.getMaterialization(kept.id, 'mat_2'))?.id, 'mat_2', 'the touched session kept its materialization record too')
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

for (const [kind, make] of Object.entries(stores)) {
  t.test(`${kind}: materialization records round-trip, keep their place when put again and die with their session`, async (t) => {
    const store = make()
    t.teardown(async () => { await store.close() })
    const s = await store.createSession('public', 60)
    const other = await store.createSession('public', 60)
    const b = mat(s.id, 'mat_b', { file: { name: 'f.safetensors', bytes: 10, sha256: 'ab'.repeat(32) } })
    t.equal(await store.putMaterialization(b), true)
    t.same(await store.getMaterialization(s.id, 'mat_b'), b, 'every field comes back as put')
    t.equal(JSON.stringify(await store.getMaterialization(s.id, 'mat_b')), JSON.stringify(b), 'numbers, empty arrays and objects exactly')
    t.ok(await store.putMaterialization(mat(s.id, 'mat_a', { status: 'failed', error: 'out of memory' })))
    t.ok(await store.putMaterialization(mat(s.id, 'mat_c', { lazy: true })))
    t.ok(await store.putMaterialization(mat(other.id, 'mat_x')))
    t.same((await store.getMaterialization(s.id, 'mat_a'))?.error, 'out of memory')
    const replaced = mat(s.id, 'mat_b', { status: 'ready', nbytes: 7 })
    t.ok(await store.putMaterialization(replaced))
    t.same(await store.getMaterialization(s.id, 'mat_b'), replaced, 'put again: replaced')
    t.same((await walk(async (req) => await store.pageMaterializations(s.id, req), 2)).items.map((m) => m.id), ['mat_b', 'mat_a', 'mat_c'],
      'in the order first put: the replaced one kept its place')
    t.ok(await store.putMaterialization(mat(s.id, 'mat_a', { status: 'pending' })))
    t.notOk('error' in (await store.getMaterialization(s.id, 'mat_a') ?? {}), 'put again without an error: none')
    t.equal(await store.countMaterializations(s.id), 3)
    t.equal(await store.countMaterializations(other.id), 1)
    t.equal(await store.getMaterialization(s.id, 'mat_x'), undefined, 'another session\'s record is not found')
    t.equal(await store.getMaterialization('ses_nothing', 'mat_b'), undefined)
    const copy = await store.getMaterialization(s.id, 'mat_c') as MaterializationRecord
    copy.options.init = 'changed'
    t.equal((await store.getMaterialization(s.id, 'mat_c'))?.options.init, 'default', 'a caller\'s edit never reaches the store')
    await store.deleteSession('public', s.id)
    t.equal(await store.getMaterialization(s.id, 'mat_a'), undefined, 'gone with its session')
    t.equal(await store.countMaterializations(s.id), 0)
    t.same(await store.pageMaterializations(s.id, {}), { items: [], nextCursor: null })
    t.equal(await store.putMaterialization(mat(s.id, 'mat_late')), false, 'a session that is gone takes no record')
    t.equal(await store.countMaterializations(s.id), 0)
    t.equal(await store.countMaterializations(other.id), 1, 'the other session keeps its record')
  })

  t.test(`${kind}: a status compare-and-set changes the record only from the expected status`, async (t) => {
    const store = make()
    t.teardown(async () => { await store.close() })
    const s = await store.createSession('public', 60)
    const m = mat(s.id, 'mat_1')
    await store.putMaterialization(m)
    const r1 = await store.setMaterializationStatus(s.id, 'mat_1', 'pending', { status: 'ready' })
    t.same(r1, { record: { ...m, status: 'ready' }, changed: true }, 'pending → ready')
    const r2 = await store.setMaterializationStatus(s.id, 'mat_1', 'pending', { status: 'failed', error: 'late' })
    t.same(r2, { record: { ...m, status: 'ready' }, changed: false }, 'not pending any more: unchanged, the stored record returned')
    const r3 = await store.setMaterializationStatus(s.id, 'mat_1', 'ready', { status: 'failed', error: 'owner gone' })
    t.same(r3, { record: { ...m, status: 'failed', error: 'owner gone' }, changed: true })
    t.same(await store.getMaterialization(s.id, 'mat_1'), { ...m, status: 'failed', error: 'owner gone' }, 'as stored')
    const r4 = await store.setMaterializationStatus(s.id, 'mat_1', 'failed', { status: 'pending' })
    t.equal(r4?.changed, true)
    t.notOk('error' in (r4?.record ?? {}), 'no error in next: the error is removed')
    t.same(await store.getMaterialization(s.id, 'mat_1'), m, 'back to the record as put')
    t.equal(JSON.stringify((await store.getMaterialization(s.id, 'mat_1'))?.options), JSON.stringify(m.options), 'its options untouched')
    t.equal(await store.setMaterializationStatus(s.id, 'mat_none', 'pending', { status: 'ready' }), undefined, 'absent record')
    t.equal(await store.setMaterializationStatus('ses_nothing', 'mat_1', 'pending', { status: 'ready' }), undefined, 'absent session')
  })

  t.test(`${kind}: materialization pages keep the order they were put`, async (t) => {
    const store = make()
    t.teardown(async () => { await store.close() })
    const s = await store.createSession('public', 60)
    const ids = Array.from({ length: 12 }, (_, i) => `mat_${String.fromCharCode(108 - i)}`) // not in id order
    for (const id of ids) await store.putMaterialization(mat(s.id, id))
    for (const limit of [1, 5, 12, 13]) {
      const { items, pages } = await walk(async (req) => await store.pageMaterializations(s.id, req), limit)
      t.same(items.map((m) => m.id), ids, `limit ${limit}`)
      t.equal(pages, Math.ceil(12 / limit), `limit ${limit}: ${pages} pages`)
    }
    const added: string[] = []
    const { items } = await walk(async (req) => await store.pageMaterializations(s.id, req), 5, async (n) => {
      added.push(`mat_new${n}`)
      await store.putMaterialization(mat(s.id, `mat_new${n}`))
      await store.deleteMaterialization(s.id, ids[12 - n] as string) // one the walk has not reached yet
    })
    t.same(added, ['mat_new1', 'mat_new2'])
    t.same(items.map((m) => m.id), [...ids.slice(0, 10), ...added], 'records put during the walk come last, deleted ones are skipped, none twice')
    for (const c of invalidCursors) await t.rejects(store.pageMaterializations(s.id, { cursor: c }), { code: 'MATERIA_ERR_INVALID_CURSOR' })
  })

  t.test(`${kind}: a deleted record is heard once by every replica's listeners`, async (t) => {
    const prefix = newPrefix()
    const k = kinds[kind] as typeof kinds[string]
    const a = k.make(prefix)
    // the memory store has no replicas: its one instance hears its own deletes
    const b = k.replicas ? k.make(prefix) : a
    t.teardown(async () => { await a.close(); if (b !== a) await b.close() })
    const heardA: string[] = []
    const heardB: string[] = []
    a.onMaterializationEnd((m) => heardA.push(`${m.sessionId}/${m.id}`))
    if (b !== a) b.onMaterializationEnd((m) => heardB.push(`${m.sessionId}/${m.id}`))
    // pub/sub has no replay: B hears what is published once its subscription is live
    for (const store of [a, b]) if (store instanceof RedisSessionStore) t.equal(await store.listening, true, 'subscribed')
    const s = await a.createSession('public', 60)
    for (const id of ['mat_1', 'mat_2', 'mat_3']) await a.putMaterialization(mat(s.id, id))
    const deleted = await a.deleteMaterialization(s.id, 'mat_1')
    t.same(deleted, mat(s.id, 'mat_1', { createdAt: deleted?.createdAt }), 'the record as it was')
    t.same(heardA, [`${s.id}/mat_1`], 'the deleting replica\'s listeners ran before the delete returned')
    t.equal(await a.deleteMaterialization(s.id, 'mat_1'), undefined, 'deleted once')
    t.equal(await b.getMaterialization(s.id, 'mat_1'), undefined, 'gone for every replica')
    t.equal(await b.countMaterializations(s.id), 2)
    if (b === a) return
    // b deletes the next one; a second delivery of anything would show in the counts below. B hears
    // its own delete at once and A's through the channel: on a cluster, A's message crosses the
    // cluster bus and can come after B's own, so each replica's list is compared as a set
    t.equal((await b.deleteMaterialization(s.id, 'mat_2'))?.id, 'mat_2')
    await until('A hears that B deleted mat_2', () => heardA.length === 2)
    await until('B hears that A deleted mat_1', () => heardB.length === 2)
    t.same([...heardA].sort(), [`${s.id}/mat_1`, `${s.id}/mat_2`], 'A heard each delete once, its own and B\'s')
    t.same([...heardB].sort(), [`${s.id}/mat_1`, `${s.id}/mat_2`], 'B too')
    await a.deleteSession('public', s.id)
    t.equal(await b.getMaterialization(s.id, 'mat_3'), undefined)
    // one more delete, heard after anything the session's end could have announced
    const s2 = await b.createSession('public', 60)
    await b.putMaterialization(mat(s2.id, 'mat_9'))
    await b.deleteMaterialization(s2.id, 'mat_9')
    await until('both hear mat_9', () => heardA.length === 3 && heardB.length === 3)
    t.same([heardA[2], heardB[2]], [`${s2.id}/mat_9`, `${s2.id}/mat_9`], 'records that end with their session are not announced')
  })

  t.test(`${kind}: a heartbeat keeps a replica alive for its TTL`, async (t) => {
    const store = make()
    t.teardown(async () => { await store.close() })
    t.equal(await store.isReplicaAlive('replica-1'), false, 'never heard of')
    await store.heartbeat('replica-1', 60_000)
    await store.heartbeat('replica-2', 300)
    t.equal(await store.isReplicaAlive('replica-1'), true)
    let alive = true
    for (let i = 0; i < 100 && alive; i++) {
      await sleep(50)
      alive = await store.isReplicaAlive('replica-2')
    }
    t.equal(alive, false, 'dead once its TTL ran out')
    t.equal(await store.isReplicaAlive('replica-1'), true, 'the other one is still alive')
    await store.heartbeat('replica-2', 60_000)
    t.equal(await store.isReplicaAlive('replica-2'), true, 'a new heartbeat brings it back')
  })
}
