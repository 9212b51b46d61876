// Persisted checkpoints (docs/data-dir.md) with real files in a temporary data directory: an upload
// ends as the materialization's own safetensors file, fsynced under its final name with its sha256;
// a second app sharing the store and the directory (a replica) serves the same bytes and ETags from
// that file, also after both are closed and new ones built; an upload that fails leaves no file; the
// budget counts every replica's files; deletions and the sweeper remove what is no longer needed.
import t, { type Test } from 'tap'
import { createHash } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync, mkdirSync, existsSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { buildApp } from '../../src/app.js'
import { errorDefs } from '../../src/errors.js'
import { MemorySessionStore } from '../../src/store/memory-store.js'
import { RedisSessionStore } from '../../src/store/redis-store.js'
import type { MaterializationRecord, SessionStore } from '../../src/store/session-store.js'
import type { Materialization } from '../../src/materialize/registry.js'
import { openCheckpointRecord } from '../../src/plugins/app/materializer/checkpoint-file.js'
import { assertErrorBody, redisUrl, testConfig, until } from '../helper.js'
import { seededRandom } from '../seeded-random.js'

/** A small Llama with tied embeddings (one storage, two names) and non-persistent rotary buffers (in the arena, not the file). */
const LLAMA = { class: 'transformers.LlamaForCausalLM', args: [{ class: 'transformers.LlamaConfig', kwargs: { vocab_size: 96, hidden_size: 64, intermediate_size: 112, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, tie_word_embeddings: true } }] }
const partial = new URL('../fixtures/partial-checkpoint/', import.meta.url)

const tempDir = (t: Test): string => {
  const dir = mkdtempSync(join(tmpdir(), 'materia-data-dir-test-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  return dir
}

/** Every file under `dir`, as paths relative to it. */
function filesUnder (dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1)).sort()
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

/** An app on `dir` sharing `store`, closed on teardown unless the test closed it first. */
async function replica (t: Test, store: SessionStore, dir: string, env: Record<string, string> = {}): Promise<FastifyInstance> {
  const app = await buildApp({ config: testConfig({ MATERIA_DATA_DIR: dir, ...env }), store })
  let closed = false
  app.addHook('onClose', async () => { closed = true })
  t.teardown(async () => { if (!closed) await app.close() })
  await app.ready()
  return app
}

async function json (app: FastifyInstance, method: 'POST' | 'GET' | 'DELETE', url: string, payload?: object): Promise<Record<string, unknown>> {
  const res = await app.inject({ method, url, ...(payload !== undefined ? { payload } : {}) })
  if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.body}`)
  return res.statusCode === 204 ? {} : res.json()
}

async function moduleIn (app: FastifyInstance, spec: object): Promise<{ sid: string, mid: string }> {
  const sid = (await json(app, 'POST', '/v1/sessions', {})).id as string
  return { sid, mid: (await json(app, 'POST', `/v1/sessions/${sid}/modules`, spec)).id as string }
}

const upload = async (app: FastifyInstance, sid: string, mid: string, file: Buffer, query = '') =>
  await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules/${mid}/materializations${query}`, payload: file, headers: { 'content-type': 'application/octet-stream' } })

/** A checkpoint of the module: the layout of its own file, each data byte seeded-random. */
async function randomCheckpoint (app: FastifyInstance, sid: string, mid: string, seed: number): Promise<Buffer> {
  const zeros = (await json(app, 'POST', `/v1/sessions/${sid}/modules/${mid}/materializations`, { init: 'zeros' })).id as string
  const file = Buffer.from((await app.inject(`/v1/sessions/${sid}/materializations/${zeros}/safetensors`)).rawPayload)
  await json(app, 'DELETE', `/v1/sessions/${sid}/materializations/${zeros}`)
  const data = 8 + Number(file.readBigUInt64LE(0))
  const next = seededRandom(seed)
  for (let i = data; i < file.length; i++) file[i] = next(256)
  return file
}

/** The record the store keeps of a checkpoint materialization (what the replica that filled it puts). */
function recordOf (m: Materialization): MaterializationRecord {
  return {
    id: m.id,
    sessionId: m.sessionId,
    moduleId: m.moduleId,
    createdAt: m.createdAt,
    owner: 'replica-a',
    status: 'ready',
    options: { device: m.device, init: m.init, seed: m.seed, rng: m.rng, dtype: m.dtype, ...(m.checkpoint !== undefined ? { checkpoint: m.checkpoint } : {}) },
    etag: m.id,
    lazy: false,
    nbytes: m.plan.arenaSize,
    ...(m.file !== undefined ? { file: m.file } : {})
  }
}

async function openOn (app: FastifyInstance, record: MaterializationRecord): Promise<Materialization> {
  return await openCheckpointRecord({ registry: app.materializations, dataDir: app.dataDir }, record, await app.moduleRecords.rebuild(record.sessionId, record.moduleId))
}

/** Every byte route of a materialization: the file (whole, a Range, HEAD), raw tensors, the shards and their index. */
/** A shard size that cuts the file in about three. */
const shardBytes = (m: { plan: Materialization['plan'] }): number => Math.ceil(m.plan.layout.dataSize / 3)

interface ByteRequest { url: string, method?: 'HEAD', headers?: Record<string, string> }
function byteRequests (m: { sessionId: string, id: string, plan: Materialization['plan'] }): ByteRequest[] {
  const base = `/v1/sessions/${m.sessionId}/materializations/${m.id}`
  const out: ByteRequest[] = [
    { url: `${base}/safetensors` },
    { url: `${base}/safetensors`, method: 'HEAD' },
    { url: `${base}/safetensors`, headers: { range: 'bytes=100-5000' } },
    { url: `${base}/safetensors`, headers: { range: `bytes=-${Math.min(3000, m.plan.layout.totalSize)}` } },
    { url: `${base}/safetensors/model.safetensors.index.json?maxShardBytes=${shardBytes(m)}` }
  ]
  for (const tensor of m.plan.tensors) out.push({ url: `${base}/tensors/${encodeURIComponent(tensor.name)}` })
  return out
}

async function sameBytes (t: Test, a: FastifyInstance, b: FastifyInstance, m: Materialization, what: string): Promise<void> {
  const base = `/v1/sessions/${m.sessionId}/materializations/${m.id}`
  const index = (await a.inject(`${base}/safetensors/model.safetensors.index.json?maxShardBytes=${shardBytes(m)}`)).json() as { weight_map: Record<string, string> }
  const shards = [...new Set(Object.values(index.weight_map))]
  t.ok(shards.length >= 2, `${what}: several shards (${shards.length})`)
  const requests: ByteRequest[] = [...byteRequests(m), ...shards.map((f) => ({ url: `${base}/safetensors/${f}?maxShardBytes=${shardBytes(m)}` }))]
  let differ = 0
  for (const r of requests) {
    const [x, y] = [await a.inject({ method: r.method ?? 'GET', url: r.url, headers: r.headers ?? {} }), await b.inject({ method: r.method ?? 'GET', url: r.url, headers: r.headers ?? {} })]
    const same = x.statusCode === y.statusCode && x.statusCode < 300 && x.rawPayload.equals(y.rawPayload) &&
      ['etag', 'content-length', 'content-range', 'x-tensor-shape', 'x-tensor-dtype'].every((h) => x.headers[h] === y.headers[h])
    if (!same) { differ++; t.fail(`${what}: ${r.method ?? 'GET'} ${r.url} ${JSON.stringify(r.headers ?? {})}: ${x.statusCode} vs ${y.statusCode} ${y.statusCode >= 300 ? y.body : ''}`) }
  }
  t.equal(differ, 0, `${what}: ${requests.length} byte responses identical, bytes and headers (ETag, Content-Range)`)
}

/** The stores replicas share in these tests: memory always; a real Redis when its store keeps materialization records. */
async function stores (t: Test): Promise<Array<{ name: string, make: () => Promise<SessionStore> }>> {
  const out: Array<{ name: string, make: () => Promise<SessionStore> }> = [{ name: 'memory', make: async () => new MemorySessionStore() }]
  let url: string
  try { url = redisUrl() } catch { t.comment('no Redis for this run: the memory store only'); return out }
  const make = async (): Promise<SessionStore> => {
    const client = new Redis(url, { lazyConnect: true })
    await client.connect()
    const store = new RedisSessionStore(client, { prefix: `materia-test-data-dir-${process.pid}:` })
    t.teardown(async () => { await store.close(); client.disconnect() })
    return store
  }
  try {
    const probe = await make()
    const s = await probe.createSession('probe', 60)
    await probe.putMaterialization({ id: 'mat_probe', sessionId: s.id, moduleId: 'mod_probe', createdAt: 0, owner: 'x', status: 'ready', options: {}, etag: 'x', lazy: false, nbytes: 0 })
    out.push({ name: 'redis', make })
  } catch (err) {
    t.comment(`the Redis store keeps no materialization records here (${(err as Error).message}): the memory store only`)
  }
  return out
}

t.test('an upload is persisted as its own safetensors file; a replica serves it from the file, also after a restart of both', async (t) => {
  for (const { name, make } of await stores(t)) {
    await t.test(name, async (t) => {
      const store = await make()
      const dir = tempDir(t)
      const a = await replica(t, store, dir)
      const b = await replica(t, store, dir)
      const cases: Array<{ what: string, spec: object, file: (sid: string, mid: string) => Promise<Buffer>, query: string }> = [
        { what: 'tied Llama with non-persistent buffers', spec: LLAMA, file: async (sid, mid) => await randomCheckpoint(a, sid, mid, 7), query: '?device=worker' },
        ...['encoder-copies-missing', 'mlp-new-head'].map((id) => {
          const c = (JSON.parse(readFileSync(new URL('cases.json', partial), 'utf8')) as { cases: Array<{ id: string, spec: object, seed: number, input: string }> }).cases.find((x) => x.id === id)
          if (c === undefined) throw new Error(id)
          return { what: `strict=false ${id}`, spec: c.spec, file: async () => readFileSync(new URL(c.input, partial)), query: `?strict=false&seed=${c.seed}` }
        })
      ]
      const records: MaterializationRecord[] = []
      for (const c of cases) {
        const { sid, mid } = await moduleIn(a, c.spec)
        const res = await upload(a, sid, mid, await c.file(sid, mid), c.query)
        t.equal(res.statusCode, 201, `${c.what}: ${res.statusCode === 201 ? 'created' : res.body}`)
        const m = a.materializations.get(sid, res.json().id as string) as Materialization
        const served = (await a.inject(`/v1/sessions/${sid}/materializations/${m.id}/safetensors`)).rawPayload
        t.ok(m.file !== undefined, `${c.what}: the file is named in the materialization once it is ready`)
        const file = m.file as NonNullable<Materialization['file']>
        t.same(filesUnder(dir).filter((f) => f.startsWith(sid)), [`${sid}/${file.name}`], `${c.what}: one file, under its final name`)
        const onDisk = readFileSync(join(dir, sid, file.name))
        t.ok(onDisk.equals(served), `${c.what}: the file is the materialization's own safetensors file`)
        t.equal(file.bytes, onDisk.length)
        t.equal(file.sha256, sha256(onDisk), `${c.what}: its sha256`)
        if (c.what.startsWith('strict=false')) t.ok((m.checkpoint?.missingKeys.length ?? 0) > 0, `${c.what}: missing keys filled`)
        const record = recordOf(m)
        t.ok(await store.putMaterialization(record))
        records.push(record)
        const opened = await openOn(b, record)
        t.equal(opened.id, m.id)
        t.equal(opened.residentBytes, 0, 'the replica holds no arena for it')
        t.equal(await openOn(b, record), opened, 'opened once per replica')
        await sameBytes(t, a, b, m, c.what)
      }
      const expected = new Map<string, Map<string, Buffer>>()
      for (const r of records) {
        const m = a.materializations.get(r.sessionId, r.id) as Materialization
        const got = new Map<string, Buffer>()
        for (const q of byteRequests(m)) got.set(JSON.stringify(q), (await a.inject({ method: q.method ?? 'GET', url: q.url, headers: q.headers ?? {} })).rawPayload)
        expected.set(r.id, got)
      }
      await a.close()
      await b.close()
      t.equal(filesUnder(dir).length, records.length, 'closing every replica leaves the files')
      // the store keeps the records (as Redis does across restarts); new replicas serve from the files
      const c = await replica(t, store, dir)
      for (const r of records) {
        const m = await openOn(c, r)
        for (const q of byteRequests(m)) {
          const res = await c.inject({ method: q.method ?? 'GET', url: q.url, headers: q.headers ?? {} })
          t.ok(res.statusCode < 300 && res.rawPayload.equals(expected.get(r.id)?.get(JSON.stringify(q)) as Buffer), `after the restart: ${q.method ?? 'GET'} ${q.url} ${JSON.stringify(q.headers ?? {})}`)
        }
      }
      t.equal(filesUnder(dir).length, records.length, 'the sweep at start kept every file that has a record')
    })
  }
})

t.test('a missing or altered file is a 500 MATERIA_ERR_CHECKPOINT_FILE, and nothing is registered', async (t) => {
  const store = new MemorySessionStore()
  const dir = tempDir(t)
  const a = await replica(t, store, dir)
  const b = await replica(t, store, dir)
  const { sid, mid } = await moduleIn(a, { class: 'Linear', args: [16, 8] })
  const res = await upload(a, sid, mid, await randomCheckpoint(a, sid, mid, 3))
  const m = a.materializations.get(sid, res.json().id as string) as Materialization
  const record = recordOf(m)
  const path = join(dir, sid, record.file?.name as string)
  const original = readFileSync(path)
  const flipped = Buffer.from(original)
  flipped[flipped.length - 1] = (flipped[flipped.length - 1] as number) ^ 1
  const refusals: Array<[string, () => void, RegExp]> = [
    ['one byte flipped', () => { writeFileSync(path, flipped) }, /does not match its record: its sha256 is [0-9a-f]{64}, its record says/],
    ['cut short', () => { writeFileSync(path, original.subarray(0, 100)) }, /is 100 bytes long/],
    ['missing', () => { rmSync(path) }, /cannot be opened \(ENOENT\)/]
  ]
  for (const [what, change, message] of refusals) {
    change()
    const err = await openOn(b, record).then(() => undefined, (e: unknown) => e as { statusCode: number, code: string, message: string })
    t.equal(err?.statusCode, 500, what)
    t.equal(err?.code, errorDefs.checkpointFile.code, what)
    t.match(err?.message, message, what)
    t.equal(b.materializations.get(sid, m.id), undefined, `${what}: not registered`)
  }
  const { file: _none, ...unpersisted } = record
  await t.rejects(openOn(b, unpersisted), { code: errorDefs.checkpointFile.code, message: `Checkpoint materialization ${m.id} has no persisted file` })
  writeFileSync(path, original)
  t.equal((await openOn(b, record)).id, m.id, 'the file as written opens')
})

/** Sends `head` of a body announced as `length` bytes over loopback and returns the request, left open. */
async function partialUpload (app: FastifyInstance, path: string, head: Buffer, length: number): Promise<{ destroy: () => void, response: Promise<{ status: number, body: string }> }> {
  const port = (app.server.address() as AddressInfo | null)?.port ?? (await app.listen({ port: 0, host: '127.0.0.1' }), (app.server.address() as AddressInfo).port)
  const req = request({ host: '127.0.0.1', port, method: 'POST', path, headers: { 'content-type': 'application/octet-stream', 'content-length': length } })
  const response = new Promise<{ status: number, body: string }>((resolve) => {
    req.on('response', (res) => {
      let body = ''
      res.on('data', (c: Buffer) => { body += c.toString() })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body }) })
    })
    req.on('error', () => { resolve({ status: 0, body: '' }) })
  })
  req.write(head)
  return { destroy: () => { req.destroy() }, response }
}

t.test('an upload that fails its checks, times out or is cancelled leaves no file and no reservation', async (t) => {
  const dir = tempDir(t)
  const app = await replica(t, new MemorySessionStore(), dir, { MATERIA_RECEIVE_TIMEOUT: '400ms' })
  const { sid, mid } = await moduleIn(app, { class: 'Linear', args: [512, 256] })
  const good = await randomCheckpoint(app, sid, mid, 11)
  const url = `/v1/sessions/${sid}/modules/${mid}/materializations`
  assertErrorBody(t, await upload(app, sid, mid, Buffer.from('not a safetensors file at all')), 400, errorDefs.checkpointInvalid.code)
  assertErrorBody(t, await upload(app, sid, mid, good.subarray(0, good.length - 1000)), 400, errorDefs.checkpointInvalid.code)
  const other = await moduleIn(app, { class: 'Linear', args: [256, 512] })
  assertErrorBody(t, await upload(app, other.sid, other.mid, good), 400, errorDefs.checkpointMismatch.code)
  t.same(filesUnder(dir), [], 'bad header, truncated body, strict mismatch: no file')

  // a stalled upload is answered 408 once its temporary file exists
  const stalled = await partialUpload(app, url, good.subarray(0, good.length / 2), good.length)
  const answer = await stalled.response
  t.equal(answer.status, 408, answer.body)
  t.same(filesUnder(dir), [], 'timed out: no file')

  // a client that goes away mid-body: the fill is cancelled, the temporary file removed
  const gone = await partialUpload(app, url, good.subarray(0, good.length / 2), good.length)
  await until('the reservation is made', () => filesUnder(dir).some((f) => f.endsWith('.tmp')))
  gone.destroy()
  await until('the reservation is given back', () => filesUnder(dir).length === 0 && app.materializations.count === 0)
  t.pass('cancelled: no file, no materialization')

  const res = await upload(app, sid, mid, good)
  t.equal(res.statusCode, 201, 'the same upload, whole, is persisted')
  t.equal(filesUnder(dir).length, 1)
})

t.test('MATERIA_DATA_BUDGET counts the files of every replica sharing the directory: 507 with the figures', async (t) => {
  const store = new MemorySessionStore()
  const dir = tempDir(t)
  // a Linear(64, 32) checkpoint is 8 + 128 header bytes + 8320 data bytes: room for one, not two
  const env = { MATERIA_DATA_BUDGET: '12000' }
  const a = await replica(t, store, dir, env)
  const b = await replica(t, store, dir, env)
  const { sid, mid } = await moduleIn(a, { class: 'Linear', args: [64, 32] })
  const file = await randomCheckpoint(a, sid, mid, 5)
  t.equal((await upload(a, sid, mid, file)).statusCode, 201)
  const size = filesUnder(dir).map((f) => statSync(join(dir, f)).size)[0] as number
  t.ok(size > 6000 && size <= 12000, `one file of ${size} bytes`)
  const refused = assertErrorBody(t, await upload(b, sid, mid, file), 507, errorDefs.dataBudget.code)
  t.equal(refused.message, `The checkpoint file needs ${size} bytes (${(size / 2 ** 30).toFixed(2)} GiB); the data budget is 12000 bytes (0.00 GiB) with ${size} in use by the replicas sharing the data directory and ${12000 - size} free (MATERIA_DATA_BUDGET)`)
  t.equal(filesUnder(dir).length, 1, 'the refused upload left nothing')
  t.equal(b.materializations.count, 0, 'nor a materialization, nor its memory')
  t.equal(b.materializations.residentBytes, 0)
  const first = a.materializations.list(sid)[0] as Materialization
  await store.putMaterialization(recordOf(first))
  await json(a, 'DELETE', `/v1/sessions/${sid}/materializations/${first.id}`)
  await store.deleteMaterialization(sid, first.id)
  await until('the file is removed with its materialization', () => filesUnder(dir).length === 0)
  t.equal((await upload(b, sid, mid, file)).statusCode, 201, 'with the space back, the other replica takes it')
})

t.test('files are deleted with their materialization or session, whichever replica ends it', async (t) => {
  const store = new MemorySessionStore()
  const dir = tempDir(t)
  const a = await replica(t, store, dir)
  await replica(t, store, dir)
  const { sid, mid } = await moduleIn(a, { class: 'Linear', args: [8, 4] })
  const file = await randomCheckpoint(a, sid, mid, 1)
  const ids = await Promise.all([1, 2].map(async () => (await upload(a, sid, mid, file)).json().id as string))
  t.equal(filesUnder(dir).length, 2)
  // a deletion heard by every replica (store.onMaterializationEnd); heard twice, unlinked once
  await store.putMaterialization(recordOf(a.materializations.get(sid, ids[0] as string) as Materialization))
  await store.deleteMaterialization(sid, ids[0] as string)
  await until('the deleted materialization\'s file is gone', () => filesUnder(dir).length === 1)
  t.match(filesUnder(dir)[0], new RegExp(`^${sid}/${ids[1] as string}\\.\\d+\\.safetensors$`), 'the other stays')
  t.equal((await a.inject({ method: 'DELETE', url: `/v1/sessions/${sid}` })).statusCode, 204)
  await until('the session\'s files are gone', () => !existsSync(join(dir, sid)))
  t.pass('the session directory is removed')
})

t.test('the sweeper removes temporary files left by a crash and files without a materialization, and keeps the rest', async (t) => {
  const store = new MemorySessionStore()
  const dir = tempDir(t)
  const a = await replica(t, store, dir)
  const { sid, mid } = await moduleIn(a, { class: 'Linear', args: [8, 4] })
  const kept = (await upload(a, sid, mid, await randomCheckpoint(a, sid, mid, 2))).json().id as string
  await store.putMaterialization(recordOf(a.materializations.get(sid, kept) as Materialization))
  const old = new Date(Date.now() - 3600_000)
  const place = (name: string, age: Date | undefined): string => {
    const session = name.split('/')[0] as string
    mkdirSync(join(dir, session), { recursive: true })
    writeFileSync(join(dir, name), 'x')
    if (age !== undefined) utimesSync(join(dir, name), age, age)
    return name
  }
  const crashed = place(`${sid}/mat_crashedMidUpload.1000.tmp`, old)
  const orphan = place('ses_gone/mat_orphan.1000.safetensors', old)
  const young = place(`${sid}/mat_writingNow.1000.tmp`, undefined)
  const recent = place('ses_gone/mat_justRenamed.1000.safetensors', undefined)
  const { mtimeMs } = statSync(join(dir, sid, (a.materializations.get(sid, kept) as Materialization).file?.name as string))
  const aged = new Date(mtimeMs - 3600_000)
  utimesSync(join(dir, sid, (a.materializations.get(sid, kept) as Materialization).file?.name as string), aged, aged)
  await a.close()
  // a replica sweeps at start
  await replica(t, store, dir)
  await until('the sweep at start has run', () => !filesUnder(dir).includes(crashed) && !filesUnder(dir).includes(orphan))
  const left = filesUnder(dir)
  t.notOk(left.includes(crashed), 'a temporary file untouched for an hour is removed')
  t.notOk(left.includes(orphan), 'an old file whose session is gone is removed')
  t.ok(left.includes(young), 'a temporary file being written is kept')
  t.ok(left.includes(recent), 'a file younger than the grace period is kept')
  t.ok(left.some((f) => f.startsWith(`${sid}/${kept}.`)), 'an old file whose record exists is kept')
})
