// Two replicas in one process, on one session store, over real HTTP on loopback: a materialization
// made through one is found, listed, served and deleted through the other with the same view, the
// same bytes and the same ETags (a ready one the other does not hold is opened there lazily from
// its record; `empty` is zeros on both); a deletion or a session's end on either frees the memory
// on both; a fill whose replica stops (its heartbeats run out: kill -9) is reported failed, never
// pending forever. Each test runs on every store that implements materialization records: the
// memory store, and Redis when its store does.
import t, { type Test } from 'tap'
import { PassThrough } from 'node:stream'
import { randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { buildApp } from '../../src/app.js'
import { MemorySessionStore } from '../../src/store/memory-store.js'
import { RedisSessionStore } from '../../src/store/redis-store.js'
import { StoreUnavailableError, type SessionStore } from '../../src/store/session-store.js'
import { HEARTBEAT_TTL_MS } from '../../src/plugins/app/replica.js'
import { OWNER_STOPPED } from '../../src/plugins/app/materializer/materializer.js'
import { assertErrorBody, redisUrl, safetensorsTensors, testConfig, until } from '../helper.js'

// two replicas per case, each built twice (memory, Redis), and a fill left to die: longer than .taprc's timeout for one file on a busy runner
t.setTimeout(600_000)

interface StoreCase {
  name: string
  /** the store a replica uses (one shared instance, or one connection each to the same Redis) */
  storeFor: () => SessionStore
  /** lets `ms` of store time pass (heartbeats run out) */
  outlive: (ms: number) => Promise<void>
  close: () => Promise<void>
}

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

function memoryCase (): StoreCase {
  let skew = 0
  const store = new MemorySessionStore({ now: () => Date.now() + skew })
  return { name: 'memory', storeFor: () => store, outlive: async (ms) => { skew += ms }, close: async () => { await store.close() } }
}

/** Redis, when the tests have one and its store implements materialization records; else why not. */
async function redisCase (): Promise<StoreCase | string> {
  let url: string
  try {
    url = redisUrl()
  } catch (err) {
    return (err as Error).message
  }
  const prefix = `materia-test-${randomBytes(6).toString('hex')}:`
  const stores: RedisSessionStore[] = []
  const storeFor = (): RedisSessionStore => {
    const s = new RedisSessionStore(new Redis(url), { prefix })
    stores.push(s)
    return s
  }
  const close = async (): Promise<void> => { await Promise.all(stores.map(async (s) => { await s.close() })) }
  try {
    const probe = storeFor()
    const s = await probe.createSession('probe', 30)
    await probe.putMaterialization({ id: 'mat_probe', sessionId: s.id, moduleId: 'mod_probe', createdAt: 0, owner: 'rep_probe', status: 'ready', options: {}, etag: 'x', lazy: true, nbytes: 0 })
    await probe.deleteSession('probe', s.id)
  } catch (err) {
    await close()
    return `its store does not implement materialization records yet (${(err as Error).message})`
  }
  return { name: 'redis', storeFor, outlive: sleep, close }
}

interface Replica { app: FastifyInstance, url: string }

async function replica (t: Test, store: SessionStore): Promise<Replica> {
  const app = await buildApp({ config: testConfig(), store })
  t.teardown(async () => { await app.close() })
  await app.listen({ host: '127.0.0.1', port: 0 })
  return { app, url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` }
}

interface Answer { status: number, headers: Headers, body: Buffer }

async function call (r: Replica, path: string, init: { method?: string, headers?: Record<string, string>, json?: unknown } = {}): Promise<Answer> {
  const res = await fetch(r.url + path, {
    method: init.method ?? 'GET',
    headers: { ...init.headers, ...(init.json !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(init.json !== undefined ? { body: JSON.stringify(init.json) } : {})
  })
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) }
}

const json = (a: Answer): Record<string, unknown> => JSON.parse(a.body.toString('utf8')) as Record<string, unknown>

async function made (r: Replica, path: string, body: unknown): Promise<string> {
  const res = await call(r, path, { method: 'POST', json: body })
  if (res.status !== 201) throw new Error(`${path}: ${res.status} ${res.body.toString()}`)
  return json(res).id as string
}

/** A session and a module made through `r`. */
async function moduleOn (r: Replica, spec: object): Promise<{ sid: string, mid: string }> {
  const sid = await made(r, '/v1/sessions', {})
  return { sid, mid: await made(r, `/v1/sessions/${sid}/modules`, spec) }
}

const metric = async (r: Replica, name: string): Promise<number> => {
  const text = (await call(r, '/metrics')).body.toString()
  const line = text.split('\n').find((l) => l.startsWith(`${name} `))
  return Number(line?.split(' ')[1])
}

// a buffer with constructor values (running_var = 1) and a tied-free stack of parameters
const SPEC = { class: 'Sequential', args: [{ class: 'Linear', args: [8, 16] }, { class: 'BatchNorm1d', args: [16] }, { class: 'Linear', args: [16, 4] }] }

const INITS: Array<{ name: string, body: object }> = [
  { name: 'zeros', body: { init: 'zeros' } },
  { name: 'ones', body: { init: 'ones', device: 'worker' } },
  { name: 'empty', body: { init: 'empty' } },
  { name: 'default, torch', body: { init: 'default', seed: 7 } },
  { name: 'default, philox', body: { init: 'default', seed: 7, rng: 'philox', device: 'worker' } },
  { name: 'overrides', body: { init: { default: 'default', overrides: { '*.weight': { fn: 'normal_', std: 0.02 }, '*.bias': { fn: 'zeros_' } } }, seed: 3 } },
  { name: 'bfloat16', body: { init: 'default', seed: 1, dtype: 'bfloat16' } },
  { name: 'lazy', body: { init: 'default', seed: 5, lazy: true } }
]

/** Every answer a client sees for materialization `id`, through `r`: view, list, bytes, ranges, HEAD, shards, 304s. */
async function answers (r: Replica, sid: string, id: string): Promise<Record<string, unknown>> {
  const base = `/v1/sessions/${sid}/materializations/${id}`
  const out: Record<string, unknown> = {}
  const view = await call(r, base)
  out.view = json(view)
  const listed = json(await call(r, `/v1/sessions/${sid}/materializations`)).materializations as Array<{ id: string }>
  out.listed = listed.find((m) => m.id === id)
  const byte = async (name: string, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<void> => {
    const a = await call(r, path, { headers, method })
    out[name] = { status: a.status, etag: a.headers.get('etag'), length: a.headers.get('content-length'), range: a.headers.get('content-range'), body: a.body.toString('base64') }
  }
  await byte('safetensors', `${base}/safetensors`)
  await byte('head', `${base}/safetensors`, {}, 'HEAD')
  await byte('range', `${base}/tensors/0.weight`, { range: 'bytes=3-40' })
  await byte('tensor', `${base}/tensors/1.running_var`)
  await byte('index', `${base}/safetensors/model.safetensors.index.json?maxShardBytes=300`)
  const index = JSON.parse(Buffer.from((out.index as { body: string }).body, 'base64').toString()) as { weight_map: Record<string, string> }
  await byte('shard', `${base}/safetensors/${index.weight_map['2.weight'] ?? 'none'}?maxShardBytes=300`)
  const etag = (out.safetensors as { etag: string }).etag
  await byte('notModified', `${base}/safetensors`, { 'if-none-match': etag })
  return out
}

async function eachStore (name: string, fn: (t: Test, c: StoreCase) => Promise<void>): Promise<void> {
  const redis = await redisCase()
  const cases: Array<StoreCase | string> = [memoryCase(), redis]
  for (const c of cases) {
    if (typeof c === 'string') {
      t.test(`${name} (redis)`, { skip: `Redis: ${c}` }, async () => {})
      continue
    }
    await t.test(`${name} (${c.name})`, async (t) => {
      t.teardown(c.close)
      await fn(t, c)
    })
  }
}

await eachStore('a materialization made on A is the same through B: view, list, bytes, ranges, shards, ETags', async (t, c) => {
  const a = await replica(t, c.storeFor())
  const b = await replica(t, c.storeFor())
  const { sid, mid } = await moduleOn(a, SPEC)
  let zeros: Buffer | undefined
  for (const init of INITS) {
    const id = await made(a, `/v1/sessions/${sid}/modules/${mid}/materializations`, init.body)
    const onA = await answers(a, sid, id)
    t.equal((onA.safetensors as { status: number }).status, 200, `${init.name}: served by A`)
    t.equal((onA.notModified as { status: number }).status, 304, `${init.name}: If-None-Match on A`)
    t.equal((onA.range as { status: number }).status, 206, `${init.name}: a range on A`)
    t.equal((onA.shard as { status: number }).status, 200, `${init.name}: a shard on A`)
    t.equal(b.app.materializations.get(sid, id), undefined, `${init.name}: B does not hold it`)
    const onB = await answers(b, sid, id)
    t.same(onB, onA, `${init.name}: every answer through B is A's`)
    t.ok(b.app.materializations.get(sid, id)?.lazy, `${init.name}: B serves it lazily`)
    const lazy = (onA.view as { lazy: boolean }).lazy
    t.equal((onB.view as { residentBytes: number }).residentBytes, lazy ? 0 : (onA.view as { nbytes: number }).nbytes, `${init.name}: residentBytes is the maker's`)
    const file = Buffer.from((onA.safetensors as { body: string }).body, 'base64')
    if (init.name === 'zeros') zeros = file
    if (init.name === 'empty') {
      // the header differs by nothing (same layout): the whole file is zeros' file
      t.same(file, zeros, 'empty is zeros (and the buffers\' constructor values) on A and B')
      t.same([...safetensorsTensors(file).get('1.running_var') ?? []].slice(0, 4), [0, 0, 0x80, 0x3f], 'running_var = 1.0')
    }
  }
  const listA = json(await call(a, `/v1/sessions/${sid}/materializations?limit=3`))
  const listB = json(await call(b, `/v1/sessions/${sid}/materializations?limit=3`))
  t.same(listB, listA, 'a page of the list is the same through either, with the same cursor')
  const next = `/v1/sessions/${sid}/materializations?limit=100&cursor=${listA.nextCursor as string}`
  t.same(json(await call(b, next)), json(await call(a, next)), 'and so is the next page')
  t.equal((json(await call(b, next)).materializations as unknown[]).length, INITS.length - 3, 'pages through every replica\'s records')
  t.equal(json(await call(b, `/v1/sessions/${sid}`)).materializations, INITS.length, 'the session counts them all on B')
})

await eachStore('DELETE on either replica frees the memory on both', async (t, c) => {
  const a = await replica(t, c.storeFor())
  const b = await replica(t, c.storeFor())
  const { sid, mid } = await moduleOn(a, SPEC)
  const one = await made(a, `/v1/sessions/${sid}/modules/${mid}/materializations`, { init: 'ones' })
  const two = await made(a, `/v1/sessions/${sid}/modules/${mid}/materializations`, { init: 'zeros' })
  t.equal((await call(b, `/v1/sessions/${sid}/materializations/${one}/safetensors`)).status, 200, 'B opened a copy of the first')
  t.equal(b.app.materializations.count, 1)
  t.ok(a.app.materializations.residentBytes > 0)
  t.equal(await metric(a, 'materia_materializations'), 2)

  t.equal((await call(b, `/v1/sessions/${sid}/materializations/${two}`, { method: 'DELETE' })).status, 204, 'B deletes one it never opened')
  await until('A frees the second', () => a.app.materializations.count === 1)
  t.equal((await call(a, `/v1/sessions/${sid}/materializations/${two}`)).status, 404, 'gone on A')

  t.equal((await call(a, `/v1/sessions/${sid}/materializations/${one}`, { method: 'DELETE' })).status, 204, 'A deletes the first')
  await until('B frees its copy', () => b.app.materializations.count === 0)
  await until('A\'s memory is back', () => a.app.materializations.residentBytes === 0)
  t.equal(await metric(a, 'materia_resident_bytes'), 0, 'A\'s metrics say so')
  t.equal(await metric(a, 'materia_materializations'), 0)
  for (const r of [a, b]) {
    const got = await call(r, `/v1/sessions/${sid}/materializations/${one}`)
    assertErrorBody(t, { statusCode: got.status, headers: Object.fromEntries(got.headers), body: got.body.toString() }, 404, 'MATERIA_ERR_MATERIALIZATION_NOT_FOUND')
    const res = await call(r, `/v1/sessions/${sid}/materializations/${one}`, { method: 'DELETE' })
    t.equal(res.status, 404, 'a second DELETE is a 404 on either')
    t.equal(json(res).code, 'MATERIA_ERR_MATERIALIZATION_NOT_FOUND')
  }
  t.same(json(await call(b, `/v1/sessions/${sid}/materializations`)).materializations, [], 'nothing listed')
})

/** `store` as a replica whose subscriber missed every deletion message (it was reconnecting): its end listeners never run. */
const deaf = (store: SessionStore): SessionStore => new Proxy(store, {
  get (target, key) {
    if (key === 'onMaterializationEnd') return () => {}
    const v = Reflect.get(target, key, target) as unknown
    return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
  }
})

await eachStore('a deletion a replica did not hear frees its copy at the next request for it', async (t, c) => {
  const a = await replica(t, deaf(c.storeFor()))
  const b = await replica(t, c.storeFor())
  const { sid, mid } = await moduleOn(a, SPEC)
  const id = await made(a, `/v1/sessions/${sid}/modules/${mid}/materializations`, { init: 'ones' })
  t.ok(a.app.materializations.residentBytes > 0, 'A holds it')
  t.equal((await call(b, `/v1/sessions/${sid}/materializations/${id}`, { method: 'DELETE' })).status, 204, 'deleted on B')
  await sleep(200)
  t.equal(a.app.materializations.count, 1, 'A heard nothing and still holds it')
  const got = await call(a, `/v1/sessions/${sid}/materializations/${id}/safetensors`)
  t.equal(got.status, 404, 'A does not serve bytes of a deleted materialization')
  t.equal(json(got).code, 'MATERIA_ERR_MATERIALIZATION_NOT_FOUND')
  await until('A\'s memory is back', () => a.app.materializations.residentBytes === 0)
  t.equal(a.app.materializations.count, 0)
})

await eachStore('a module or a session deleted on B frees what A and B hold for it', async (t, c) => {
  const a = await replica(t, c.storeFor())
  const b = await replica(t, c.storeFor())
  const { sid, mid } = await moduleOn(a, SPEC)
  const other = await made(a, `/v1/sessions/${sid}/modules`, { class: 'Linear', args: [4, 4] })
  const gone = await made(a, `/v1/sessions/${sid}/modules/${mid}/materializations`, { init: 'ones' })
  const kept = await made(a, `/v1/sessions/${sid}/modules/${other}/materializations`, { init: 'ones' })
  await call(b, `/v1/sessions/${sid}/materializations/${gone}/safetensors`)
  await call(b, `/v1/sessions/${sid}/materializations/${kept}/safetensors`)
  t.equal(b.app.materializations.count, 2, 'B opened both')

  t.equal((await call(b, `/v1/sessions/${sid}/modules/${mid}`, { method: 'DELETE' })).status, 204)
  await until('the module\'s materialization is freed on A and B', () => a.app.materializations.count === 1 && b.app.materializations.count === 1)
  t.equal((await call(a, `/v1/sessions/${sid}/materializations/${gone}`)).status, 404, 'its record is gone')
  t.equal((await call(a, `/v1/sessions/${sid}/materializations/${kept}`)).status, 200, 'the other module\'s stays')

  t.equal((await call(b, `/v1/sessions/${sid}`, { method: 'DELETE' })).status, 204)
  await until('the session\'s end frees A and B', () => a.app.materializations.count === 0 && b.app.materializations.count === 0)
  await until('A\'s memory is back', () => a.app.materializations.residentBytes === 0)
})

/** The first `n` bytes of a safetensors file of `mid` (ones), made on `r`: a header and part of the data. */
async function partialFile (r: Replica, sid: string, mid: string, n: number): Promise<Buffer> {
  const id = await made(r, `/v1/sessions/${sid}/modules/${mid}/materializations`, { init: 'ones' })
  const file = (await call(r, `/v1/sessions/${sid}/materializations/${id}/safetensors`)).body
  await call(r, `/v1/sessions/${sid}/materializations/${id}`, { method: 'DELETE' })
  return file.subarray(0, file.readUInt32LE(0) + 8 + n)
}

/** Starts a checkpoint upload on `r` that sends `first` and then stalls: its fill stays pending. */
function stalledUpload (r: Replica, sid: string, mid: string, first: Buffer): { body: PassThrough, answered: Promise<unknown> } {
  const body = new PassThrough()
  body.write(first)
  const answered = r.app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules/${mid}/materializations`, headers: { 'content-type': 'application/octet-stream' }, payload: body })
  return { body, answered }
}

async function pendingOnB (t: Test, b: Replica, sid: string): Promise<{ id: string }> {
  let listed: Array<{ id: string, status: string }> = []
  // the upload is recorded once its header is read
  for (let i = 0; i < 500 && listed.length === 0; i++) {
    listed = json(await call(b, `/v1/sessions/${sid}/materializations`)).materializations as typeof listed
    if (listed.length === 0) await sleep(20)
  }
  t.equal(listed.length, 1, 'B lists the upload')
  const id = listed[0]?.id as string
  const view = json(await call(b, `/v1/sessions/${sid}/materializations/${id}`))
  t.equal(view.status, 'pending', 'pending while A is alive')
  t.same(view.progress, { bytesDone: 0, bytesTotal: (view.progress as { bytesTotal: number }).bytesTotal }, 'B counts nothing done')
  const bytes = await call(b, `/v1/sessions/${sid}/materializations/${id}/safetensors`)
  t.equal(bytes.status, 409)
  t.equal(bytes.headers.get('retry-after'), '1', 'come back later')
  return { id }
}

async function failedOnB (t: Test, b: Replica, sid: string, id: string): Promise<void> {
  const view = json(await call(b, `/v1/sessions/${sid}/materializations/${id}`))
  t.equal(view.status, 'failed', 'reported failed')
  t.equal(view.error, OWNER_STOPPED)
  const bytes = await call(b, `/v1/sessions/${sid}/materializations/${id}/safetensors`)
  t.equal(bytes.status, 409)
  t.match(json(bytes).message, /is failed \(the replica filling it stopped/)
  t.equal(bytes.headers.get('retry-after'), null, 'no point retrying')
  const listed = json(await call(b, `/v1/sessions/${sid}/materializations`)).materializations as Array<{ id: string, status: string }>
  t.same(listed.map((m) => [m.id, m.status]), [[id, 'failed']], 'and listed failed')
}

await eachStore('a replica that dies mid-fill (kill -9: nothing more reaches the store) leaves its materialization failed, not pending', async (t, c) => {
  let severed = false
  const shared = c.storeFor()
  // A's connection to the store, cut as a killed process's is: every call fails from then on
  const cut = new Proxy(shared, {
    get (target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown
      if (typeof v !== 'function') return v
      return (...args: unknown[]) => severed && prop !== 'close'
        ? Promise.reject(new StoreUnavailableError(String(prop), 'connection lost'))
        : (v as (...a: unknown[]) => unknown).apply(target, args)
    }
  })
  const a = await replica(t, cut)
  const b = await replica(t, c.storeFor())
  const { sid, mid } = await moduleOn(a, SPEC)
  const upload = stalledUpload(a, sid, mid, await partialFile(a, sid, mid, 16))
  const { id } = await pendingOnB(t, b, sid)
  severed = true
  await c.outlive(HEARTBEAT_TTL_MS + 1)
  await failedOnB(t, b, sid, id)
  // A learns of nothing (its writes fail, logged) and keeps running
  upload.body.destroy()
  await upload.answered
  t.equal((await a.app.inject('/healthz')).statusCode, 200, 'A is still up')
  severed = false
  t.equal(json(await call(a, `/v1/sessions/${sid}/materializations/${id}`)).status, 'failed', 'A reports the record too, once it reaches the store again')
})

await eachStore('a replica that stops cleanly mid-fill marks its materializations failed at once', async (t, c) => {
  const a = await replica(t, c.storeFor())
  const b = await replica(t, c.storeFor())
  const { sid, mid } = await moduleOn(a, SPEC)
  const upload = stalledUpload(a, sid, mid, await partialFile(a, sid, mid, 16))
  const { id } = await pendingOnB(t, b, sid)
  await a.app.close()
  await upload.answered
  await failedOnB(t, b, sid, id)
})
