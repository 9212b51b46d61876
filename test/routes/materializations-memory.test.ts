// Memory behaviour over real loopback HTTP: a client that goes away cancels its fill, DELETE gives
// the bytes back to the OS (RSS), and tensors of 4 GiB and more are served whole and by Range.
import t from 'tap'
import { request, type IncomingMessage } from 'node:http'
import type { FastifyInstance } from 'fastify'
import { build } from '../helper.js'

async function listen (app: FastifyInstance): Promise<number> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  return (app.server.address() as { port: number }).port
}

async function json (app: FastifyInstance, method: 'POST' | 'GET', url: string, payload?: object): Promise<Record<string, unknown>> {
  const res = await app.inject({ method, url, ...(payload !== undefined ? { payload } : {}) })
  if (res.statusCode >= 300) throw new Error(`${res.statusCode} ${res.body}`)
  return res.json()
}

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

function rssMiB (): number { return process.memoryUsage().rss / 2 ** 20 }

/**
 * RSS once it stops moving: a freed arena goes back to the OS from a V8 background thread, which
 * may still be unmapping the last one when the next fill starts (and would hide part of its growth).
 */
async function settledRssMiB (): Promise<number> {
  let last = rssMiB()
  for (let i = 0; i < 100; i++) {
    await sleep(50)
    const now = rssMiB()
    if (Math.abs(now - last) < 4) return now
    last = now
  }
  return last
}

t.test('a client that disconnects mid-fill cancels it and frees the memory', async (t) => {
  const app = await build(t)
  const port = await listen(app)
  const sid = (await json(app, 'POST', '/v1/sessions')).id as string
  const mid = (await json(app, 'POST', `/v1/sessions/${sid}/modules`, { class: 'Linear', args: [32768, 16384], kwargs: { bias: false } })).id as string // 2 GiB
  for (const device of ['cpu', 'worker']) {
    const body = JSON.stringify({ init: 'ones', device })
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: `/v1/sessions/${sid}/modules/${mid}/materializations`, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } })
    req.on('error', () => {})
    req.end(body)
    // wait until the fill has started, then go away
    for (let i = 0; i < 200 && app.materializations.residentBytes === 0; i++) await sleep(5)
    t.equal(app.materializations.residentBytes, 2 ** 31, `${device}: memory reserved while filling`)
    req.destroy()
    for (let i = 0; i < 400 && app.materializations.residentBytes !== 0; i++) await sleep(5)
    t.equal(app.materializations.residentBytes, 0, `${device}: memory returned`)
    t.same((await json(app, 'GET', `/v1/sessions/${sid}/materializations`)).materializations, [], `${device}: nothing left behind`)
  }
})

t.test('DELETE returns the bytes to the OS (process RSS)', async (t) => {
  // without the arena cache, which keeps freed arenas (arena-recycling.test.ts covers its release)
  const app = await build(t, { MATERIA_ARENA_CACHE: '0' })
  const sid = (await json(app, 'POST', '/v1/sessions')).id as string
  const mid = (await json(app, 'POST', `/v1/sessions/${sid}/modules`, { class: 'Linear', args: [16384, 16384], kwargs: { bias: false } })).id as string // 1 GiB
  for (const [device, init] of [['cpu', 'ones'], ['worker', 'ones'], ['worker', 'default']]) {
    const before = await settledRssMiB()
    const m = await json(app, 'POST', `/v1/sessions/${sid}/modules/${mid}/materializations`, { init, device })
    const held = rssMiB()
    // growth is read against a baseline that other memory (heap, scratch) can leave while the fill
    // runs (once 893 MiB on a busy runner); the fall below is the exact check of the arena's pages
    t.ok(held - before > 800, `${device} ${init}: RSS grew by ${(held - before).toFixed(0)} MiB for a 1024 MiB fill`)
    t.equal((await app.inject({ method: 'DELETE', url: `/v1/sessions/${sid}/materializations/${m.id as string}` })).statusCode, 204)
    let after = rssMiB()
    for (let i = 0; i < 100 && held - after < 900; i++) { await sleep(20); after = rssMiB() }
    t.ok(held - after > 900, `${device} ${init}: RSS fell by ${(held - after).toFixed(0)} MiB after DELETE`)
  }
})

async function getBytes (port: number, path: string, headers: Record<string, string> = {}): Promise<{ res: IncomingMessage, bytes: number, tail: Buffer }> {
  return await new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, headers }, (res) => {
      let bytes = 0
      let tail = Buffer.alloc(0)
      res.on('data', (c: Buffer) => { bytes += c.length; tail = Buffer.concat([tail, c]).subarray(-16) })
      res.on('end', () => { resolve({ res, bytes, tail }) })
      res.on('error', reject)
    }).on('error', reject).end()
  })
}

t.test('a tensor of more than 4 GiB: Embedding(131200, 8192) float32', { timeout: 240_000 }, async (t) => {
  const app = await build(t)
  const port = await listen(app)
  const sid = (await json(app, 'POST', '/v1/sessions')).id as string
  const mid = (await json(app, 'POST', `/v1/sessions/${sid}/modules`, { class: 'Embedding', args: [131200, 8192] })).id as string
  const m = await json(app, 'POST', `/v1/sessions/${sid}/modules/${mid}/materializations`, { init: 'ones', device: 'worker' })
  const size = 131200 * 8192 * 4
  t.ok(size > 2 ** 32)
  const tensor = (m.tensors as Array<{ href: string }>)[0]?.href ?? ''
  // the last 8 bytes, beyond 4 GiB: two float32 ones
  const tail = await getBytes(port, tensor, { range: `bytes=${size - 8}-` })
  t.equal(tail.res.statusCode, 206)
  t.equal(tail.res.headers['content-range'], `bytes ${size - 8}-${size - 1}/${size}`)
  t.equal(tail.tail.toString('hex'), '0000803f0000803f')
  // a range that straddles the 4 GiB mark
  const across = await getBytes(port, tensor, { range: `bytes=${2 ** 32 - 4}-${2 ** 32 + 3}` })
  t.equal(across.tail.toString('hex'), '0000803f0000803f')
  const head = await getBytes(port, m.safetensors as string)
  t.equal(Number(head.res.headers['content-length']), head.bytes, 'the whole file streamed')
  t.ok(head.bytes > size)
  t.equal(head.tail.subarray(-8).toString('hex'), '0000803f0000803f')
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/sessions/${sid}` })).statusCode, 204)
  // the bytes stay counted until the server has closed the last response that read them, which on
  // a loaded machine can come a moment after the client saw the end of the body
  for (let i = 0; i < 200 && app.materializations.residentBytes !== 0; i++) await sleep(10)
  t.equal(app.materializations.residentBytes, 0)
})
