// The deployment end to end, through nginx's round-robin (test/deploy/topology.ts: two replicas, one
// Redis with AOF, a shared MATERIA_DATA_DIR): every answer is the same whichever replica gives it, and
// stays the same, ETags included, after a replica is killed with SIGKILL and started again and after
// Redis restarts. The whole test runs on one Redis and on a 3-master Redis Cluster. Each request goes
// through the proxy four times (both replicas answer: the proxy adds which one did) and to each
// replica directly.
// Materializations are store records (docs/materialization-records.md): another replica serves a
// reproducible one lazily from its record, and an uploaded one from MATERIA_DATA_DIR.
import t, { type Test } from 'tap'
import { createHash } from 'node:crypto'
import { send, startTopology, UPSTREAM_HEADER, type Answer, type Topology } from './topology.js'

// kills, restarts and a few thousand requests: longer than .taprc's timeout for one file
t.setTimeout(900_000)
const STORE = 'materializations in the store'
const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** The headers that are part of an answer; the rest (date, request id, rate-limit counters, …) is per request. */
const COMPARED = ['content-type', 'content-length', 'content-range', 'etag', 'accept-ranges', 'x-tensor-dtype', 'x-tensor-shape', 'content-disposition', 'last-modified']
/** Fields of a JSON body that are per replica or per request by definition. */
const PER_REPLICA = new Set(['residentBytes', 'expiresAt'])

function normal (a: Answer, ignore: string[] = []): { status: number, headers: Record<string, unknown>, body: string } {
  const json = String(a.headers['content-type']).startsWith('application/json') && a.body.length > 0
  // a JSON body is compared without its per-replica fields, whose digits change its length
  const headers = Object.fromEntries(COMPARED.filter((h) => a.headers[h] !== undefined && !(json && h === 'content-length')).map((h) => [h, a.headers[h]]))
  const left = new Set([...PER_REPLICA, ...ignore])
  const body = json ? JSON.stringify(JSON.parse(a.body.toString()), (k, v: unknown) => left.has(k) ? undefined : v) : `sha256 ${createHash('sha256').update(a.body).digest('hex')} (${a.body.length} bytes)`
  return { status: a.status, headers, body }
}

interface Req { method?: string, path: string, headers?: Record<string, string>, body?: Buffer | string, /** JSON fields not compared */ ignore?: string[] }

/** Runs `req` four times through nginx and once on each live replica; all answers alike, and `status`. */
async function sameEverywhere (t: Test, topo: Topology, req: Req, status: number, live = topo.replicas.map((r) => r.index)): Promise<Answer> {
  const method = req.method ?? 'GET'
  const options = { headers: { ...topo.auth, ...req.headers }, ...(req.body !== undefined ? { body: req.body } : {}) }
  const answers: Array<{ via: string, a: Answer }> = []
  for (let i = 0; i < 4; i++) {
    const a = await send(topo.proxyPort, method, req.path, options)
    answers.push({ via: `nginx → ${String(a.headers[UPSTREAM_HEADER])}`, a })
  }
  for (const i of live) answers.push({ via: `replica-${i + 1} directly`, a: await send((topo.replicas[i] as { port: number }).port, method, req.path, options) })
  const first = answers[0] as { via: string, a: Answer }
  const expected = normal(first.a, req.ignore)
  const what = `${method} ${req.path}${req.headers?.range !== undefined ? ` (${req.headers.range})` : ''}`
  t.equal(first.a.status, status, `${what}: ${status}`, { body: first.a.body.toString().slice(0, 500) })
  const differ = answers.filter(({ a }) => JSON.stringify(normal(a, req.ignore)) !== JSON.stringify(expected))
  t.same(differ.map(({ via, a }) => ({ via, ...normal(a, req.ignore) })), [], `${what}: the same answer from every replica (first: ${first.via})`, { expected })
  if (live.length > 1) {
    const upstreams = new Set(answers.slice(0, 4).map(({ a }) => a.headers[UPSTREAM_HEADER]))
    t.equal(upstreams.size, live.length, `${what}: through nginx, every replica answered`)
  }
  return first.a
}

async function json (topo: Topology, method: string, path: string, body?: unknown, port = topo.proxyPort): Promise<{ status: number, body: Record<string, unknown> }> {
  const a = await send(port, method, path, { headers: { ...topo.auth, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) })
  return { status: a.status, body: a.body.length > 0 ? JSON.parse(a.body.toString()) as Record<string, unknown> : {} }
}

interface Mat { id: string, sessionId: string, status: string, safetensors: string, tensors: Array<{ name: string, href: string, nbytes: number }> }

/** The shards the index names, each asked with the index's maxShardBytes. */
const SHARDING = '?maxShardBytes=2000'

/** Every read of a materialization a client makes: metadata, each tensor (whole and a Range up to 1 MiB), the file (whole, HEAD, a Range), the shard index. */
function readsOf (m: Mat): Array<{ req: Req, status: number }> {
  const tensors = m.tensors.flatMap((x) => [
    { req: { path: x.href }, status: 200 },
    ...(x.nbytes > 16 ? [{ req: { path: x.href, headers: { range: `bytes=4-${Math.min(x.nbytes, 2 ** 20 + 4) - 1}` } }, status: 206 }] : [])
  ])
  return [
    { req: { path: `/v1/sessions/${m.sessionId}/materializations/${m.id}` }, status: 200 },
    ...tensors,
    { req: { path: m.safetensors }, status: 200 },
    { req: { method: 'HEAD', path: m.safetensors }, status: 200 },
    { req: { path: m.safetensors, headers: { range: 'bytes=0-99' } }, status: 206 },
    { req: { path: `${m.safetensors}/model.safetensors.index.json${SHARDING}` }, status: 200 }
  ]
}

for (const redis of ['single', 'cluster'] as const) {
  t.test(`two replicas, ${redis === 'single' ? 'Redis' : 'a 3-master Redis Cluster'} and nginx on loopback: one service whichever replica answers`, { timeout: 600_000 }, async (t) => {
    await oneService(t, redis)
  })
}

async function oneService (t: Test, redis: 'single' | 'cluster'): Promise<void> {
  let topo: Topology
  try {
    // the reads below are a few thousand requests of one tenant: more than the default rate limit a minute
    topo = await startTopology({ upstreamHeader: true, env: { MATERIA_RATE_LIMIT: '0' }, redis })
  } catch (err) {
    t.fail(`the topology did not start: ${(err as Error).message}`)
    return
  }
  t.teardown(topo.stop)
  const h = (path: string): Req => ({ path })

  const sid = (await json(topo, 'POST', '/v1/sessions', { ttlSeconds: 3600 })).body.id as string
  const lstm = await json(topo, 'POST', `/v1/sessions/${sid}/modules`, { class: 'LSTM', args: [6, 9], kwargs: { bidirectional: true } })
  t.equal(lstm.status, 201)
  const mid = lstm.body.id as string
  const lstm2 = await json(topo, 'POST', `/v1/sessions/${sid}/modules`, { class: 'LSTM', args: [6, 9], kwargs: { bidirectional: true, num_layers: 2 } })
  const mid2 = lstm2.body.id as string
  // a 1 MiB tensor for the lazy Range reads
  const lin = await json(topo, 'POST', `/v1/sessions/${sid}/modules`, { class: 'Linear', args: [512, 512], kwargs: { bias: true } })
  const linId = lin.body.id as string
  const shared = [h(`/v1/sessions/${sid}/modules/${mid}`), h(`/v1/sessions/${sid}/modules/${mid2}`), h(`/v1/sessions/${sid}/modules/${linId}`), h(`/v1/sessions/${sid}/modules`), h(`/v1/sessions/${sid}/modules/${mid}/repr`)]

  /** The reads that work today: sessions and modules are in Redis. */
  const checkShared = async (t: Test, live?: number[]): Promise<void> => {
    for (const req of shared) await sameEverywhere(t, topo, req, 200, live)
    // how many materializations the session has is counted by each replica today (compared in checkMaterializations)
    const s = await sameEverywhere(t, topo, { path: `/v1/sessions/${sid}`, ignore: ['materializations'] }, 200, live)
    t.equal(JSON.parse(s.body.toString()).modules, 3, 'the session counts its three modules')
  }

  await t.test('sessions and modules: the same from every replica', async (t) => { await checkShared(t) })

  // materializations of every kind, made through the proxy (whichever replica gets the POST)
  const made = new Map<string, Mat>()
  const etags = new Map<string, string>()
  const make = async (t: Test, name: string, path: string, body: unknown, raw?: Buffer): Promise<void> => {
    const a = raw !== undefined
      ? await send(topo.proxyPort, 'POST', path, { headers: { ...topo.auth, 'content-type': 'application/octet-stream' }, body: raw })
      : await send(topo.proxyPort, 'POST', path, { headers: { ...topo.auth, 'content-type': 'application/json' }, body: JSON.stringify(body) })
    t.equal(a.status, 201, `${name}: created`, { body: a.body.toString().slice(0, 500) })
    if (a.status === 201) made.set(name, JSON.parse(a.body.toString()) as Mat)
  }
  /** Every read of every materialization alike on every live replica; ETags as first seen. */
  const checkMaterializations = async (t: Test, live?: number[]): Promise<void> => {
    for (const [name, m] of made) {
      await t.test(name, async (t) => {
        const reads = readsOf(m)
        for (let i = 0; i < reads.length; i++) {
          const { req, status } = reads[i] as { req: Req, status: number }
          const a = await sameEverywhere(t, topo, req, status, live)
          if (req.path.includes('.index.json') && a.status === 200) {
            const shards = new Set(Object.values((JSON.parse(a.body.toString()) as { weight_map: Record<string, string> }).weight_map))
            for (const f of [...shards].sort()) reads.push({ req: { path: `${m.safetensors}/${f}${SHARDING}` }, status: 200 })
          }
          const key = `${req.method ?? 'GET'} ${req.path} ${req.headers?.range ?? ''}`
          const etag = a.headers.etag
          if (typeof etag !== 'string') continue
          if (!etags.has(key)) etags.set(key, etag)
          else t.equal(etag, etags.get(key), `${key}: the ETag first given`)
        }
      })
    }
    await sameEverywhere(t, topo, h(`/v1/sessions/${sid}/materializations`), 200, live)
    const s = await sameEverywhere(t, topo, h(`/v1/sessions/${sid}`), 200, live)
    t.equal(JSON.parse(s.body.toString()).materializations, made.size, 'the session counts every materialization')
  }

  await t.test(`${STORE}: resident, lazy, empty and uploaded materializations, the same from every replica`, async (t) => {
    const mats = `/v1/sessions/${sid}/modules/${mid}/materializations`
    await make(t, 'ones, worker', mats, { init: 'ones', device: 'worker' })
    await make(t, 'default seed 7, cpu', mats, { init: 'default', seed: 7 })
    await make(t, 'overrides, philox', mats, { init: { default: 'default', overrides: { 'weight_*': { fn: 'xavier_uniform_', gain: 1.0 }, 'bias_*': { fn: 'zeros_' } } }, seed: 3, rng: 'philox' })
    await make(t, 'empty (another replica serves zeros for parameters)', mats, { init: 'empty' })
    await make(t, 'lazy default seed 1', mats, { init: 'default', seed: 1, lazy: true })
    await make(t, 'lazy Linear(512, 512), 1 MiB weight', `/v1/sessions/${sid}/modules/${linId}/materializations`, { init: 'default', seed: 5, lazy: true })
    const seeded = made.get('default seed 7, cpu')
    if (seeded === undefined) return
    const file = (await send(topo.proxyPort, 'GET', seeded.safetensors, { headers: topo.auth })).body
    await make(t, 'checkpoint upload', mats, undefined, file)
    await make(t, 'checkpoint upload, strict=false (missing keys drawn)', `/v1/sessions/${sid}/modules/${mid2}/materializations?strict=false&seed=3`, undefined, file)
    await checkMaterializations(t)
    const up = made.get('checkpoint upload')
    if (up !== undefined) {
      const again = (await send(topo.proxyPort, 'GET', up.safetensors, { headers: topo.auth })).body
      t.ok(again.equals(file), 'the uploaded checkpoint is served back byte for byte (the file was canonical)')
    }
    const empty = made.get('empty (another replica serves zeros for parameters)')
    for (const r of topo.replicas) {
      const w = await send(r.port, 'GET', empty?.tensors.find((x) => x.name === 'weight_ih_l0')?.href ?? '', { headers: topo.auth })
      t.ok(w.status === 200 && w.body.every((b) => b === 0), `empty: replica-${r.index + 1} serves weight_ih_l0 as zeros`)
    }
  })

  await t.test('kill -9 of replica-1', async (t) => {
    await topo.killReplica(0)
    await t.test('sessions and modules: still served through the proxy', async (t) => { await checkShared(t, [1]) })
    await t.test(`${STORE}: every read through the proxy, same ETags`, async (t) => { await checkMaterializations(t, [1]) })
  })

  await t.test('replica-1 started again', async (t) => {
    await topo.restartReplica(0)
    // nginx tries a replica it left out again after fail_timeout (5 s in deploy/nginx.conf)
    await sleep(5500)
    await t.test('sessions and modules: the same from every replica', async (t) => { await checkShared(t) })
    await t.test(`${STORE}: the same from every replica, same ETags`, async (t) => { await checkMaterializations(t) })
  })

  await t.test(`${redis === 'single' ? 'Redis' : 'every master of the cluster'} restarted (AOF)`, async (t) => {
    await topo.restartRedis()
    await t.test('sessions and modules survive, the same from every replica', async (t) => { await checkShared(t) })
    await t.test(`${STORE}: survive, the same from every replica, same ETags`, async (t) => { await checkMaterializations(t) })
  })

  await t.test('a session deleted on one replica frees the memory another holds for it', async (t) => {
    const s2 = (await json(topo, 'POST', '/v1/sessions', {}, topo.replicas[0]?.port)).body.id as string
    const m = (await json(topo, 'POST', `/v1/sessions/${s2}/modules`, { class: 'Linear', args: [256, 256] }, topo.replicas[0]?.port)).body.id as string
    const before = await residentBytes(topo, 0)
    t.equal((await json(topo, 'POST', `/v1/sessions/${s2}/modules/${m}/materializations`, { init: 'ones' }, topo.replicas[0]?.port)).status, 201)
    t.ok(await residentBytes(topo, 0) >= before + 256 * 257 * 4, 'replica-1 holds it')
    t.equal((await json(topo, 'DELETE', `/v1/sessions/${s2}`, undefined, topo.replicas[1]?.port)).status, 204, 'deleted on replica-2')
    t.ok(await eventually(async () => await residentBytes(topo, 0) === before), 'replica-1 freed it')
  })

  await t.test(`${STORE}: a materialization deleted on one replica is freed on every replica`, async (t) => {
    const [a, b] = topo.replicas.map((r) => r.port) as [number, number]
    const before = await residentBytes(topo, 0)
    const m = await json(topo, 'POST', `/v1/sessions/${sid}/modules/${linId}/materializations`, { init: 'ones' }, a)
    t.equal(m.status, 201)
    const id = m.body.id as string
    t.ok(await residentBytes(topo, 0) > before, 'replica-1 holds it')
    t.equal((await json(topo, 'GET', `/v1/sessions/${sid}/materializations/${id}`, undefined, b)).status, 200, 'replica-2 knows it')
    t.equal((await json(topo, 'DELETE', `/v1/sessions/${sid}/materializations/${id}`, undefined, b)).status, 204, 'deleted on replica-2')
    t.ok(await eventually(async () => await residentBytes(topo, 0) === before), 'replica-1 freed its memory')
    for (const port of [a, b]) t.equal((await json(topo, 'GET', `/v1/sessions/${sid}/materializations/${id}`, undefined, port)).status, 404, `gone on port ${port}`)
  })

  await t.test(`${STORE}: kill -9 mid-fill leaves the record failed (or done again) on the other replica, never pending`, async (t) => {
    const [a, b] = topo.replicas.map((r) => r.port) as [number, number]
    const big = (await json(topo, 'POST', `/v1/sessions/${sid}/modules`, { class: 'Linear', args: [8192, 8192], kwargs: { bias: false } }, a)).body.id as string
    const m = await json(topo, 'POST', `/v1/sessions/${sid}/modules/${big}/materializations`, { init: 'default', seed: 1, wait: false }, a)
    t.equal(m.status, 202)
    const id = m.body.id as string
    await topo.killReplica(0)
    const path = `/v1/sessions/${sid}/materializations/${id}`
    let last: { status: number, body: Record<string, unknown> } = { status: 0, body: {} }
    t.ok(await eventually(async () => { last = await json(topo, 'GET', path, undefined, b); return last.status === 200 && last.body.status !== 'pending' }, 60_000),
      'replica-2 answers it, not pending', { last })
    t.match(last.body.status, /^(failed|ready)$/)
    await topo.restartReplica(0)
  })
}

async function residentBytes (topo: Topology, index: number): Promise<number> {
  const text = (await send(topo.replicas[index]?.port ?? 0, 'GET', '/metrics')).body.toString()
  return Number(/^materia_resident_bytes (\d+)$/m.exec(text)?.[1] ?? NaN)
}

async function eventually (check: () => Promise<boolean>, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await check()) return true
    await sleep(50)
  }
  return false
}
