// Every list route is paged: ?limit (1-1000, default 100) and an opaque ?cursor; nextCursor is null
// on the last page. A walk returns every item once, in creation order, also while items are added;
// a cursor this service did not issue is 400 MATERIA_ERR_INVALID_CURSOR; a bad limit 400 MATERIA_ERR_VALIDATION.
import t, { type Test } from 'tap'
import { randomBytes } from 'node:crypto'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { FastifyInstance } from 'fastify'
import { assertErrorBody, build, redisUrl } from '../helper.js'

interface PageBody { nextCursor: string | null, [items: string]: unknown }

/** GETs every page of `url` with `limit`; `between` runs after each page. Returns the ids in order. */
async function walk (t: Test, app: FastifyInstance, url: string, key: string, limit: number | undefined, between?: () => Promise<void>): Promise<string[]> {
  const ids: string[] = []
  let cursor: string | null = null
  for (let pages = 0; pages < 10_000; pages++) {
    const q = new URLSearchParams()
    if (limit !== undefined) q.set('limit', String(limit))
    if (cursor !== null) q.set('cursor', cursor)
    const res = await app.inject({ method: 'GET', url: `${url}?${q.toString()}` })
    if (res.statusCode !== 200) throw new Error(res.body)
    const body = res.json() as PageBody
    const items = body[key] as Array<{ id: string }>
    if (items.length > (limit ?? 100)) t.fail(`a page of ${items.length} for limit ${limit ?? 100}`)
    ids.push(...items.map((i) => i.id))
    t.ok('nextCursor' in body, 'nextCursor is always present')
    if (body.nextCursor === null) return ids
    cursor = body.nextCursor
    await between?.()
  }
  throw new Error('the walk did not end')
}

const post = async (app: FastifyInstance, url: string, payload: object): Promise<string> => {
  const res = await app.inject({ method: 'POST', url, payload })
  if (res.statusCode !== 201) throw new Error(res.body)
  return res.json().id as string
}

const stores: Record<string, () => Record<string, string>> = {
  memory: () => ({}),
  redis: () => ({ MATERIA_STORE: 'redis', REDIS_URL: redisUrl(), MATERIA_REDIS_PREFIX: `materia-test-${randomBytes(6).toString('hex')}:` })
}

for (const [kind, env] of Object.entries(stores)) {
  t.test(`${kind}: sessions and modules walk once each, across inserts`, async (t) => {
    const app = await build(t, { ...env(), MATERIA_TENANT_MAX_SESSIONS: '100000' })
    const sessions: string[] = []
    for (let i = 0; i < 105; i++) sessions.push(await post(app, '/v1/sessions', {}))
    for (const limit of [1, 7, 50, 104, 105, 1000, undefined]) {
      t.same(await walk(t, app, '/v1/sessions', 'sessions', limit), sessions, `sessions, limit ${limit ?? 'default'}`)
    }
    const first = (await app.inject({ method: 'GET', url: '/v1/sessions' })).json() as { sessions: unknown[], nextCursor: string | null }
    t.equal(first.sessions.length, 100, 'the default limit is 100')
    t.type(first.nextCursor, 'string')
    const added: string[] = []
    t.same(await walk(t, app, '/v1/sessions', 'sessions', 10, async () => { added.push(await post(app, '/v1/sessions', {})) }),
      [...sessions, ...added], 'sessions created during the walk come after the rest, none twice')

    const sid = sessions[0] as string
    const modules: string[] = []
    for (let i = 0; i < 23; i++) modules.push(await post(app, `/v1/sessions/${sid}/modules`, { class: 'Linear', args: [1, 1] }))
    for (const limit of [1, 5, 23, 24]) t.same(await walk(t, app, `/v1/sessions/${sid}/modules`, 'modules', limit), modules, `modules, limit ${limit}`)
    const more: string[] = []
    t.same(await walk(t, app, `/v1/sessions/${sid}/modules`, 'modules', 4, async () => { more.push(await post(app, `/v1/sessions/${sid}/modules`, { class: 'ReLU' })) }),
      [...modules, ...more], 'modules created during the walk come last')
  })
}

t.test('materializations walk once each, across inserts and deletes', async (t) => {
  const app = await build(t)
  const sid = await post(app, '/v1/sessions', {})
  const mid = await post(app, `/v1/sessions/${sid}/modules`, { class: 'Linear', args: [2, 2] })
  const url = `/v1/sessions/${sid}/materializations`
  const made: string[] = []
  for (let i = 0; i < 17; i++) made.push(await post(app, `/v1/sessions/${sid}/modules/${mid}/materializations`, { init: 'zeros' }))
  const other = await post(app, '/v1/sessions', {})
  const otherMid = await post(app, `/v1/sessions/${other}/modules`, { class: 'Linear', args: [2, 2] })
  await post(app, `/v1/sessions/${other}/modules/${otherMid}/materializations`, {})
  for (const limit of [1, 4, 17, 18]) t.same(await walk(t, app, url, 'materializations', limit), made, `limit ${limit}`)
  const added: string[] = []
  t.same(await walk(t, app, url, 'materializations', 5, async () => { added.push(await post(app, `/v1/sessions/${sid}/modules/${mid}/materializations`, {})) }),
    [...made, ...added], 'materializations started during the walk come last')
  // the cursor's own materialization deleted before the next page: the walk goes on after it
  const page = (await app.inject({ method: 'GET', url: `${url}?limit=3` })).json() as { nextCursor: string }
  t.equal((await app.inject({ method: 'DELETE', url: `${url}/${made[2] as string}` })).statusCode, 204)
  const next = (await app.inject({ method: 'GET', url: `${url}?limit=3&cursor=${page.nextCursor}` })).json() as { materializations: Array<{ id: string }> }
  t.same(next.materializations.map((m) => m.id), made.slice(3, 6))
})

t.test('bad cursors and limits are 400s with their codes, on every list route', async (t) => {
  const app = await build(t)
  const sid = await post(app, '/v1/sessions', {})
  for (const url of ['/v1/sessions', `/v1/sessions/${sid}/modules`, `/v1/sessions/${sid}/materializations`]) {
    for (const cursor of ['x', 'not%20base64', Buffer.from('[-1]').toString('base64url'), Buffer.from('{}').toString('base64url'), 'A'.repeat(600)]) {
      const body = assertErrorBody(t, await app.inject({ method: 'GET', url: `${url}?cursor=${cursor}` }), 400, 'MATERIA_ERR_INVALID_CURSOR')
      t.match(body.message, /^Invalid cursor: /)
    }
    for (const limit of ['0', '1001', '-1', '2.5', 'ten']) {
      assertErrorBody(t, await app.inject({ method: 'GET', url: `${url}?limit=${limit}` }), 400, 'MATERIA_ERR_VALIDATION')
    }
    t.equal((await app.inject({ method: 'GET', url: `${url}?limit=1000` })).statusCode, 200, `${url}: limit 1000 is accepted`)
  }
})

t.test('a page of sessions reads only its own sessions\' materializations (the registry\'s session index)', async (t) => {
  const app = await build(t, { MATERIA_TENANT_MAX_SESSIONS: '100000' })
  const sessions: string[] = []
  for (let i = 0; i < 2000; i++) sessions.push((await app.store.createSession('public', 600)).id)
  const mods = new Map<string, string>()
  for (let i = 0; i < 500; i++) {
    const sid = sessions[i * 4] as string
    const mid = mods.get(sid) ?? await post(app, `/v1/sessions/${sid}/modules`, { class: 'Linear', args: [2, 2] })
    mods.set(sid, mid)
    await post(app, `/v1/sessions/${sid}/modules/${mid}/materializations`, {})
  }
  // count every read of a materialization's sessionId: the index answers without reading any
  let reads = 0
  for (const sid of mods.keys()) {
    for (const m of app.materializations.list(sid)) {
      const v = m.sessionId
      Object.defineProperty(m, 'sessionId', { get: () => { reads++; return v }, configurable: true })
    }
  }
  const h = monitorEventLoopDelay({ resolution: 1 })
  h.enable()
  const res = await app.inject({ method: 'GET', url: '/v1/sessions?limit=1000' })
  await new Promise((resolve) => setTimeout(resolve, 20)) // a late timer records the block
  h.disable()
  t.equal(res.statusCode, 200)
  const body = res.json() as { sessions: Array<{ id: string, materializations: number, residentBytes: number }>, nextCursor: string | null }
  t.equal(body.sessions.length, 1000)
  t.type(body.nextCursor, 'string')
  t.equal(reads, 0, 'no materialization was looked at to find a session\'s own')
  t.same(body.sessions.filter((s) => s.materializations > 0).map((s) => s.id), sessions.slice(0, 1000).filter((_, i) => i % 4 === 0),
    'the sessions with materializations are the ones that made them')
  t.ok(body.sessions.every((s) => s.residentBytes === s.materializations * 24), 'residentBytes: 24 bytes per Linear(2, 2)')
  t.ok(h.count > 0, 'the delay monitor took samples')
  t.ok(h.max / 1e6 < 100, `the event loop was blocked at most ${(h.max / 1e6).toFixed(1)} ms`)
  // the index follows deletes
  const sid = sessions[0] as string
  const [first] = app.materializations.list(sid)
  t.ok(first !== undefined && app.materializations.delete(sid, first.id))
  t.equal(app.materializations.list(sid).length, 0)
  t.equal(app.materializations.residentBytesOf(sid), 0)
})
