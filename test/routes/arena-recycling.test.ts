// Recycled arenas over HTTP: a materialization on a recycled arena has exactly the bytes it would have
// on fresh memory (default init, checkpoint upload), `empty` never sees an earlier materialization's
// bytes, a response still streaming keeps its arena from reuse, and cached memory gives way to
// reservations and goes back to the OS when idle.
import t from 'tap'
import { request, type IncomingMessage } from 'node:http'
import type { FastifyInstance } from 'fastify'
import { build } from '../helper.js'

interface Mat { id: string, safetensors: string, tensors: Array<{ name: string, href: string }> }

async function json<T = Record<string, unknown>> (app: FastifyInstance, method: 'POST' | 'GET', url: string, payload?: object): Promise<T> {
  const res = await app.inject({ method, url, ...(payload !== undefined ? { payload } : {}) })
  if (res.statusCode >= 300) throw new Error(`${res.statusCode} ${res.body}`)
  return res.json()
}

async function bytes (app: FastifyInstance, url: string): Promise<Buffer> {
  const res = await app.inject(url)
  if (res.statusCode !== 200) throw new Error(`${res.statusCode} ${res.body}`)
  return res.rawPayload
}

async function del (app: FastifyInstance, sid: string, m: Mat): Promise<void> {
  const res = await app.inject({ method: 'DELETE', url: `/v1/sessions/${sid}/materializations/${m.id}` })
  if (res.statusCode !== 204) throw new Error(`${res.statusCode} ${res.body}`)
  // recycling waits for the fill's promise to settle: one turn of the loop
  await new Promise((resolve) => setImmediate(resolve))
}

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

// ~4 MiB: a Linear weight drawn at random, a zero bias, BatchNorm's ones and zeros, an int64 counter,
// and an Embedding whose padding_idx row is patched after its draw
const spec = {
  class: 'Sequential',
  args: [{ class: 'Linear', args: [1000, 1000] }, { class: 'BatchNorm1d', args: [1000] }, { class: 'Embedding', args: [10, 16], kwargs: { padding_idx: 0 } }]
}

t.test('default init and checkpoints on a recycled arena give the bytes of fresh memory; empty and zeros never recycle', async (t) => {
  const app = await build(t)
  const sid = (await json(app, 'POST', '/v1/sessions')).id as string
  const mid = (await json(app, 'POST', `/v1/sessions/${sid}/modules`, spec)).id as string
  const big = (await json(app, 'POST', `/v1/sessions/${sid}/modules`, { class: 'Linear', args: [1024, 1024] })).id as string
  const cache = app.materializations.cache
  for (const device of ['cpu', 'worker']) {
    // on fresh memory (the cache holds nothing of this size yet)
    const fresh = await json<Mat>(app, 'POST', `/v1/sessions/${sid}/modules/${mid}/materializations`, { init: 'default', seed: 5, device })
    const want = await bytes(app, fresh.safetensors)
    await del(app, sid, fresh)
    // a materialization of 1.0s everywhere, freed: its arena waits in the cache
    const ones = await json<Mat>(app, 'POST', `/v1/sessions/${sid}/modules/${big}/materializations`, { init: 'ones', device })
    await del(app, sid, ones)
    t.ok(cache.bytes > 0, `${device}: the freed arena is cached`)
    const reused = cache.reused
    const again = await json<Mat>(app, 'POST', `/v1/sessions/${sid}/modules/${mid}/materializations`, { init: 'default', seed: 5, device })
    t.equal(cache.reused, reused + 1, `${device}: default init ran on the recycled arena`)
    t.ok((await bytes(app, again.safetensors)).equals(want), `${device}: the same file as on fresh memory`)
    await del(app, sid, again)
    // upload that file as a checkpoint: also recycled, also exact
    const ones2 = await json<Mat>(app, 'POST', `/v1/sessions/${sid}/modules/${big}/materializations`, { init: 'ones', device })
    await del(app, sid, ones2)
    const beforeUpload = cache.reused
    const up = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules/${mid}/materializations`, headers: { 'content-type': 'application/octet-stream' }, payload: want })
    t.equal(up.statusCode, 201, up.body)
    t.equal(cache.reused, beforeUpload + 1, `${device}: the checkpoint landed in the recycled arena`)
    t.ok((await bytes(app, (up.json() as Mat).safetensors)).equals(want), `${device}: the checkpoint's bytes, and zero buffers zero`)
    await del(app, sid, up.json() as Mat)
    for (const init of ['empty', 'zeros']) {
      const ones3 = await json<Mat>(app, 'POST', `/v1/sessions/${sid}/modules/${big}/materializations`, { init: 'ones', device })
      await del(app, sid, ones3)
      const before = cache.reused
      const m = await json<Mat>(app, 'POST', `/v1/sessions/${sid}/modules/${big}/materializations`, { init, device })
      t.equal(cache.reused, before, `${device} ${init}: fresh memory`)
      const file = await bytes(app, m.safetensors)
      const header = 8 + Number(file.readBigUInt64LE(0))
      t.equal(file.subarray(header).findIndex((b) => b !== 0), -1, `${device} ${init}: every byte zero, none of the earlier 1.0s`)
      await del(app, sid, m)
    }
  }
})

t.test('a response still streaming keeps its arena out of the cache until it closes', async (t) => {
  const app = await build(t)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as { port: number }).port
  const sid = (await json(app, 'POST', '/v1/sessions')).id as string
  const mid = (await json(app, 'POST', `/v1/sessions/${sid}/modules`, { class: 'Linear', args: [4096, 4096], kwargs: { bias: false } })).id as string // 64 MiB
  const cache = app.materializations.cache
  const ones = await json<Mat>(app, 'POST', `/v1/sessions/${sid}/modules/${mid}/materializations`, { init: 'ones', device: 'worker' })
  // a slow reader: it takes the first chunk and pauses, so most of the 64 MiB is still to be sent
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: ones.tensors[0]?.href ?? '' }, resolve).on('error', reject).end()
  })
  res.pause()
  await sleep(100)
  await del(app, sid, ones)
  t.equal(cache.bytes, 0, 'not cached while a response reads it')
  const other = await json<Mat>(app, 'POST', `/v1/sessions/${sid}/modules/${mid}/materializations`, { init: 'default', seed: 1, device: 'worker' })
  t.equal(cache.reused, 0, 'the next materialization got fresh memory')
  // the paused response still gets the deleted materialization's bytes: 1.0s, never the new draws
  let received = 0
  let foreign = 0
  const one = Buffer.from([0x00, 0x00, 0x80, 0x3f]) // 1.0f, little-endian
  res.on('data', (c: Buffer) => {
    for (let i = 0; i < c.length; i += 509) if (c[i] !== one[(received + i) % 4]) foreign++
    received += c.length
  })
  res.resume()
  await new Promise((resolve) => res.on('end', resolve))
  t.equal(received, 64 * 2 ** 20, 'the whole tensor arrived')
  t.equal(foreign, 0, 'every sampled byte belongs to a 1.0')
  for (let i = 0; i < 100 && cache.bytes === 0; i++) await sleep(10)
  t.equal(cache.bytes, 64 * 2 ** 20, 'cached once the response closed')
  await del(app, sid, other)
})

t.test('cached memory gives way to a reservation and goes back to the OS when idle', async (t) => {
  const app = await build(t, { MATERIA_MEMORY_BUDGET: '1536MiB' })
  const sid = (await json(app, 'POST', '/v1/sessions')).id as string
  const gib = (await json(app, 'POST', `/v1/sessions/${sid}/modules`, { class: 'Linear', args: [16384, 16384], kwargs: { bias: false } })).id as string // 1 GiB
  const half = (await json(app, 'POST', `/v1/sessions/${sid}/modules`, { class: 'Linear', args: [16384, 8192], kwargs: { bias: false } })).id as string // 512 MiB
  const cache = app.materializations.cache
  const m = await json<Mat>(app, 'POST', `/v1/sessions/${sid}/modules/${gib}/materializations`, { init: 'ones', device: 'worker' })
  await del(app, sid, m)
  t.equal(cache.bytes, 2 ** 30)
  const metrics = (await app.inject('/metrics')).body
  t.match(metrics, /^materia_arena_cache_bytes 1073741824$/m, '/metrics shows the cached bytes')
  t.match(metrics, /^materia_arena_cache_reuses_total 0$/m, 'and the reuses so far')
  // 1 GiB cached + 1 GiB live would pass the 1.5 GiB budget: the cache gives way
  const m2 = await json<Mat>(app, 'POST', `/v1/sessions/${sid}/modules/${half}/materializations`, { init: 'zeros', device: 'worker' })
  const m3 = await json<Mat>(app, 'POST', `/v1/sessions/${sid}/modules/${gib}/materializations`, { init: 'zeros', device: 'worker' })
  t.equal(cache.bytes, 0, 'shed for the reservation')
  t.equal(app.materializations.residentBytes, 1.5 * 2 ** 30)
  await del(app, sid, m2)
  await del(app, sid, m3)
  // idle memory leaves after the idle time (swept here as if 30 s had passed) and RSS falls
  const held = process.memoryUsage().rss
  t.ok(cache.bytes >= 2 ** 30)
  cache.sweep(Date.now() + 30_000)
  t.equal(cache.bytes, 0)
  let after = process.memoryUsage().rss
  for (let i = 0; i < 100 && held - after < 900 * 2 ** 20; i++) { await sleep(20); after = process.memoryUsage().rss }
  t.ok(held - after > 900 * 2 ** 20, `RSS fell by ${((held - after) / 2 ** 20).toFixed(0)} MiB after the sweep`)
})
