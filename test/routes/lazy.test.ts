// Lazy materializations over real HTTP on loopback: bytes generated as they are read are the bytes a
// resident materialization of the same request holds, on every byte route (tensors, the file, the
// shards, ranges, HEAD, If-Range, 416), with the same content-derived ETags; the budget is charged
// for the chunks in flight only, so a model larger than the budget streams; a reader that stops
// holds a few chunks, given back when its connection goes.
import { seededRandom } from '../seeded-random.js'
import t, { type Test } from 'tap'
import { connect } from 'node:net'
import { once } from 'node:events'
import { createHash } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { assertErrorBody, build, until } from '../helper.js'

const MiB = 2 ** 20

async function listen (app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
}

async function moduleOf (app: FastifyInstance, spec: object): Promise<{ sid: string, mid: string }> {
  const sid = (await app.inject({ method: 'POST', url: '/v1/sessions' })).json().id as string
  const res = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules`, payload: spec })
  if (res.statusCode !== 201) throw new Error(res.body)
  return { sid, mid: res.json().id as string }
}

async function materialize (t: Test, app: FastifyInstance, sid: string, mid: string, body: object): Promise<Record<string, unknown>> {
  const res = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules/${mid}/materializations`, payload: body })
  t.equal(res.statusCode, 201, res.body)
  return res.json()
}

async function get (url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number, headers: Headers, body: Buffer }> {
  const res = await fetch(url, { headers, method })
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) }
}

const cases: Array<{ id: string, spec: object, body: object }> = [
  { id: 'ones', spec: { class: 'Linear', args: [300, 200] }, body: { init: 'ones' } },
  { id: 'zeros, bfloat16', spec: { class: 'LSTM', args: [6, 9], kwargs: { bidirectional: true } }, body: { init: 'zeros', dtype: 'bfloat16' } },
  { id: 'default, torch', spec: { class: 'TransformerEncoderLayer', args: [64, 4, 256] }, body: { init: 'default', seed: 7 } },
  { id: 'default, philox, worker', spec: { class: 'TransformerEncoderLayer', args: [64, 4, 256] }, body: { init: 'default', seed: 7, rng: 'philox', device: 'worker' } },
  { id: 'default, philox, bfloat16 cast', spec: { class: 'Sequential', args: [{ class: 'Linear', args: [33, 70] }, { class: 'Embedding', args: [50, 9] }] }, body: { init: 'default', seed: 5, rng: 'philox', dtype: 'bfloat16' } },
  { id: 'default, float16 cast', spec: { class: 'Conv2d', args: [16, 32, 3] }, body: { init: 'default', seed: 3, dtype: 'float16' } },
  {
    id: 'tied, overrides incl. trunc_normal_ and normal_',
    spec: { class: 'Sequential', args: [{ class: 'Embedding', args: [500, 37] }, { class: 'Linear', args: [37, 500] }], ties: [['0.weight', '1.weight']] },
    body: { init: { default: 'default', overrides: { '0.weight': { fn: 'trunc_normal_', std: 0.5, a: -0.2, b: 0.3 }, '1.bias': { fn: 'normal_', std: 0.02 } } }, seed: 11 }
  },
  {
    id: 'a Llama from config.json: inv_freq values, bfloat16 config dtype',
    spec: { config: { model_type: 'llama', architectures: ['LlamaForCausalLM'], vocab_size: 64, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, torch_dtype: 'bfloat16' } },
    body: { init: 'ones' }
  },
  { id: 'batchnorm buffers, default', spec: { class: 'BatchNorm1d', args: [33] }, body: { init: 'default', seed: 1 } }
]

t.test('lazy and resident materializations of the same request serve the same bytes and ETags', async (t) => {
  const app = await build(t)
  const base = await listen(app)
  const rand = seededRandom(5)
  for (const c of cases) {
    const { sid, mid } = await moduleOf(app, c.spec)
    const resident = await materialize(t, app, sid, mid, c.body)
    const lazy = await materialize(t, app, sid, mid, { ...c.body, lazy: true })
    t.equal(lazy.status, 'ready', `${c.id}: ready at once`)
    t.equal(lazy.lazy, true)
    t.equal(lazy.residentBytes, 0)
    t.equal(resident.lazy, false)
    t.equal(resident.residentBytes, resident.nbytes)
    t.equal(lazy.nbytes, resident.nbytes)
    const r = `${base}/v1/sessions/${sid}/materializations/${resident.id as string}`
    const l = `${base}/v1/sessions/${sid}/materializations/${lazy.id as string}`
    const paths = ['/safetensors', ...(lazy.tensors as Array<{ name: string }>).map((x) => `/tensors/${encodeURIComponent(x.name)}`)]
    // shards small enough that tensors spread over several files
    const index = await get(`${l}/safetensors/model.safetensors.index.json?maxShardBytes=4096`)
    t.equal(index.status, 200)
    for (const file of new Set(Object.values((JSON.parse(index.body.toString()) as { weight_map: Record<string, string> }).weight_map))) paths.push(`/safetensors/${file}?maxShardBytes=4096`)
    for (const p of paths) {
      const [a, b] = await Promise.all([get(r + p), get(l + p)])
      t.equal(b.status, 200)
      t.ok(a.body.equals(b.body), `${c.id} ${p}: same bytes`)
      t.equal(b.headers.get('etag'), a.headers.get('etag'), `${c.id} ${p}: same ETag`)
      t.equal(b.headers.get('content-length'), String(a.body.length))
      const size = a.body.length
      if (size === 0) continue
      for (let k = 0; k < 3; k++) {
        const s = rand(size); const e = s + rand(size - s)
        const part = await get(l + p, { range: `bytes=${s}-${e}` })
        t.equal(part.status, 206)
        t.equal(part.headers.get('content-range'), `bytes ${s}-${e}/${size}`)
        if (!part.body.equals(a.body.subarray(s, e + 1))) t.fail(`${c.id} ${p}: range ${s}-${e}`)
      }
      const suffix = await get(l + p, { range: 'bytes=-7' })
      t.ok(suffix.body.equals(a.body.subarray(Math.max(0, size - 7))), 'suffix range')
      t.equal((await get(l + p, { range: `bytes=${size}-` })).status, 416)
      const stale = await get(l + p, { range: 'bytes=0-0', 'if-range': '"stale"' })
      t.equal(stale.status, 200, 'If-Range with another ETag: the whole')
      t.equal((await get(l + p, { 'if-none-match': a.headers.get('etag') as string })).status, 304)
      const head = await get(l + p, {}, 'HEAD')
      t.equal(head.headers.get('content-length'), String(size))
      t.equal(head.body.length, 0)
    }
  }
  app.materializations.deleteWhere(() => true)
  await until('every read and arena gives its reservation back', () => app.materializations.budget.used === 0)
  t.pass('nothing left reserved')
})

t.test('ETags derive from what determines the bytes', async (t) => {
  const app = await build(t)
  const base = await listen(app)
  const spec = { class: 'Linear', args: [8, 4] }
  const etag = async (body: object, s: object = spec): Promise<string> => {
    const { sid, mid } = await moduleOf(app, s)
    const m = await materialize(t, app, sid, mid, body)
    return (await get(`${base}/v1/sessions/${sid}/materializations/${m.id as string}/safetensors`, {}, 'HEAD')).headers.get('etag') as string
  }
  const seeded = await etag({ init: 'default', seed: 1, lazy: true })
  t.equal(await etag({ init: 'default', seed: 1 }), seeded, 'another session, resident: the same')
  t.not(await etag({ init: 'default', seed: 2, lazy: true }), seeded, 'another seed')
  t.not(await etag({ init: 'default', seed: 1, rng: 'philox', lazy: true }), seeded, 'another rng')
  t.not(await etag({ init: 'default', seed: 1, dtype: 'float16', lazy: true }), seeded, 'another dtype')
  t.not(await etag({ init: 'default', seed: 1, lazy: true }, { class: 'Linear', args: [8, 4], kwargs: { bias: false } }), seeded, 'another module')
  t.not(await etag({ init: 'zeros', lazy: true }), await etag({ init: 'ones', lazy: true }), 'another init')
  const a = { weight: { fn: 'normal_' }, bias: { fn: 'zeros_' } }
  const b = { bias: { fn: 'zeros_' }, weight: { fn: 'normal_' } }
  t.not(await etag({ init: { overrides: a }, lazy: true }), await etag({ init: { overrides: b }, lazy: true }), 'overrides in another order')
  t.not(await etag({ init: 'empty' }), await etag({ init: 'empty' }), 'empty: bytes not defined, each its own ETag')
})

t.test('a lazy materialization answers 201 ready even with wait: false', async (t) => {
  const app = await build(t)
  const { sid, mid } = await moduleOf(app, { class: 'Linear', args: [2, 2] })
  const m = await materialize(t, app, sid, mid, { init: 'ones', lazy: true, wait: false })
  t.equal(m.status, 'ready')
  t.same(m.progress, { bytesDone: 0, bytesTotal: 0 }, 'nothing to fill')
})

t.test('lazy: true with init empty is a 400 that says why', async (t) => {
  const app = await build(t)
  const { sid, mid } = await moduleOf(app, { class: 'Linear', args: [2, 2] })
  for (const body of [{ lazy: true }, { init: 'empty', lazy: true }]) {
    const res = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules/${mid}/materializations`, payload: body })
    t.match(assertErrorBody(t, res, 400, 'MATERIA_ERR_MATERIALIZATION_OPTIONS').message, /lazy: true .*'empty'/)
  }
})

t.test('a lazy model larger than the memory budget streams; the budget holds only the chunks in flight', async (t) => {
  // 256 MiB of float32 against a 96 MiB budget: resident is a 507, lazy streams
  const app = await build(t, { MATERIA_MEMORY_BUDGET: '96MiB', MATERIA_ARENA_CACHE: '0' })
  const base = await listen(app)
  const spec = { class: 'Sequential', args: [{ class: 'Linear', args: [4096, 8192], kwargs: { bias: false } }, { class: 'Linear', args: [8192, 4096], kwargs: { bias: false } }] }
  const { sid, mid } = await moduleOf(app, spec)
  const refused = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules/${mid}/materializations`, payload: { init: 'default', seed: 1 } })
  assertErrorBody(t, refused, 507, 'MATERIA_ERR_MEMORY_BUDGET')
  const m = await materialize(t, app, sid, mid, { init: 'default', seed: 1, lazy: true, device: 'worker' })
  t.equal(app.materializations.budget.used, 0, 'nothing reserved until read')
  const url = `${base}/v1/sessions/${sid}/materializations/${m.id as string}/safetensors`
  const res = await fetch(url)
  t.equal(res.status, 200)
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  let n = 0
  let peak = 0
  let last: Uint8Array = new Uint8Array(0)
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    n += value.length
    last = value
    peak = Math.max(peak, app.materializations.budget.used)
  }
  t.equal(n, Number(res.headers.get('content-length')))
  t.ok(n > 256 * MiB, `${n} bytes streamed`)
  t.ok(peak > 0 && peak <= 96 * MiB, `budget held at most ${peak} bytes while streaming`)
  // the last weight element is kaiming_uniform_'s: within (-1/sqrt(8192), 1/sqrt(8192))
  const v = new DataView(last.buffer, last.byteOffset + last.length - 4, 4).getFloat32(0, true)
  t.ok(v !== 0 && Math.abs(v) < 1 / Math.sqrt(8192), `last element ${v}`)
  await until('the read gives its reservation back', () => app.materializations.budget.used === 0)
  t.pass('reservation given back')
})

t.test('a reader that stops holds a few chunks, given back when its connection goes', async (t) => {
  const app = await build(t, { MATERIA_SEND_TIMEOUT: '0', MATERIA_ARENA_CACHE: '0' })
  const base = await listen(app)
  const { sid, mid } = await moduleOf(app, { class: 'Linear', args: [8192, 8192], kwargs: { bias: false } })
  const m = await materialize(t, app, sid, mid, { init: 'default', seed: 2, lazy: true, device: 'worker' })
  const socket = connect(Number(new URL(base).port), '127.0.0.1')
  await once(socket, 'connect')
  socket.write(`GET /v1/sessions/${sid}/materializations/${m.id as string}/safetensors HTTP/1.1\r\nhost: x\r\n\r\n`)
  await once(socket, 'data')
  socket.pause()
  // let production run as far as backpressure lets it
  await new Promise((resolve) => setTimeout(resolve, 1500))
  const held = app.materializations.budget.used
  t.ok(held > 0 && held <= 64 * MiB, `a stalled reader holds ${held} bytes of a 256 MiB file`)
  socket.destroy()
  await until('the stalled read gives its reservation back', () => app.materializations.budget.used === 0)
  t.pass('given back')
  t.ok((await app.inject({ method: 'GET', url: '/healthz' })).statusCode === 200, 'the service is up')
})

t.test('chunk buffers used again once sent: slow, pausing and concurrent readers get every byte right', async (t) => {
  const app = await build(t)
  const base = await listen(app)
  // 64 MiB of float32 weight: 8 chunks, so buffers come back and are lent again within one read
  const { sid, mid } = await moduleOf(app, { class: 'Linear', args: [4096, 4096] })
  const resident = await materialize(t, app, sid, mid, { init: 'default', seed: 4, device: 'worker' })
  const lazy = await materialize(t, app, sid, mid, { init: 'default', seed: 4, lazy: true })
  const hash = async (url: string, pauses: boolean): Promise<string> => {
    const res = await fetch(url)
    const reader = (res.body as ReadableStream<Uint8Array>).getReader()
    const h = createHash('sha256')
    const rand = seededRandom(7)
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      h.update(value)
      // a reader that stops now and then: the socket's queue fills and drains while chunks are lent
      if (pauses && rand(8) === 0) await new Promise((resolve) => setTimeout(resolve, 20 + rand(80)))
    }
    return h.digest('hex')
  }
  const path = (m: Record<string, unknown>): string => `${base}/v1/sessions/${sid}/materializations/${m.id as string}/safetensors`
  const want = await hash(path(resident), false)
  const got = await Promise.all([hash(path(lazy), true), hash(path(lazy), false), hash(path(lazy), true)])
  t.same(got, [want, want, want], 'three readers at once, two of them pausing')
})
