// @bench quick: 1
// Benchmark: stream a 1 GiB safetensors file (Linear(16384, 16384, bias=False), float32, init
// "ones") from a live materia over loopback with a node:http client that counts and discards the
// bytes; GB/s best and median, next to a plain node:http server in the same process that sends the
// same number of bytes from one in-memory Buffer in 1 MiB slices, respecting backpressure (the fair
// baseline), measured the same way, interleaved run by run (alternating which goes first). The
// client runs in a worker thread. Target: materia median >= 80% of the baseline median.
// Run: npx tsx bench/stream-safetensors.ts [runs=5] [device=worker|cpu]
import { Agent, createServer, request, type IncomingMessage, type ServerResponse } from 'node:http'
import { once } from 'node:events'
import { loadavg } from 'node:os'
import { Worker } from 'node:worker_threads'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { BENCH_ENV, median } from './loopback.js'
import { report } from './report.js'

const runs = Number(process.argv[2] ?? 5)
const device = process.argv[3] ?? 'worker'
const SLICE = 1 << 20

async function json (port: number, agent: Agent, method: string, path: string, body?: unknown): Promise<{ status: number, body: Record<string, unknown> }> {
  const text = body === undefined ? undefined : JSON.stringify(body)
  return await new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = text === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }
    const req = request({ host: '127.0.0.1', port, path, method, agent, headers }, (res) => {
      let out = ''
      res.setEncoding('utf8').on('data', (c: string) => { out += c }).on('end', () => {
        resolve({ status: res.statusCode ?? 0, body: out === '' ? {} : JSON.parse(out) as Record<string, unknown> })
      })
    })
    req.on('error', reject)
    req.end(text)
  })
}

/**
 * The client runs in a worker thread with its own event loop, so the server's event loop does only
 * the serving (as it would for a remote client) and both servers meet the same client.
 */
const clientSource = `
const { parentPort } = require('node:worker_threads')
const { Agent, request } = require('node:http')
parentPort.on('message', ({ port, path }) => {
  const agent = new Agent({ keepAlive: false })
  const t0 = process.hrtime.bigint()
  const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
    if (res.statusCode !== 200) { parentPort.postMessage({ error: 'GET ' + path + ': ' + res.statusCode }); res.resume(); return }
    let bytes = 0
    res.on('data', (c) => { bytes += c.length })
    res.on('end', () => { parentPort.postMessage({ bytes, seconds: Number(process.hrtime.bigint() - t0) / 1e9 }); agent.destroy() })
  })
  req.on('error', (err) => { parentPort.postMessage({ error: String(err) }) })
  req.end()
})
`
const client = new Worker(clientSource, { eval: true })

/** GETs `path` from the client thread, which counts and discards the body; request to last byte. */
async function download (port: number, path: string): Promise<{ bytes: number, seconds: number }> {
  client.postMessage({ port, path })
  const [r] = await once(client, 'message') as [{ bytes: number, seconds: number, error?: string }]
  if (r.error !== undefined) throw new Error(r.error)
  return r
}

const app = await buildApp({ config: loadConfig({ LOG_LEVEL: 'silent', ...BENCH_ENV, MATERIA_MEMORY_BUDGET: '8GiB' }) })
await app.listen({ host: '127.0.0.1', port: 0 })
const port = (app.server.address() as { port: number }).port
const agent = new Agent({ keepAlive: true, maxSockets: 1 })

const sid = (await json(port, agent, 'POST', '/v1/sessions', {})).body.id as string
const mid = (await json(port, agent, 'POST', `/v1/sessions/${sid}/modules`, { class: 'Linear', args: [16384, 16384], kwargs: { bias: false } })).body.id as string
const t0 = process.hrtime.bigint()
const mat = await json(port, agent, 'POST', `/v1/sessions/${sid}/modules/${mid}/materializations`, { device, init: 'ones' })
if (mat.status !== 201) throw new Error(`materialization: ${mat.status} ${JSON.stringify(mat.body)}`)
const fillMs = Number(process.hrtime.bigint() - t0) / 1e6
const href = mat.body.safetensors as string
const tensorHref = (mat.body.tensors as Array<{ href: string }>)[0]?.href ?? ''

// the file size, for the baseline: header + 1 GiB data
const head = await new Promise<number>((resolve, reject) => {
  const req = request({ host: '127.0.0.1', port, path: href, method: 'HEAD', agent }, (res) => { res.resume(); resolve(Number(res.headers['content-length'])) })
  req.on('error', reject)
  req.end()
})

// the bytes are the fill's: the last float32 of the weight is 1.0
const last = await new Promise<Buffer>((resolve, reject) => {
  const req = request({ host: '127.0.0.1', port, path: tensorHref, agent, headers: { range: 'bytes=-4' } }, (res) => {
    const parts: Buffer[] = []
    res.on('data', (c: Buffer) => { parts.push(c) }).on('end', () => { resolve(Buffer.concat(parts)) })
  })
  req.on('error', reject)
  req.end()
})
if (last.length !== 4 || last.readFloatLE(0) !== 1) throw new Error(`expected the weight's last element to be 1.0, got ${last.toString('hex')}`)

// baseline: the same byte count from one Buffer, 1 MiB slices, waiting for 'drain' when write() says so
const payload = Buffer.alloc(head, 1)
const plain = createServer((req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(payload.length) })
  let offset = 0
  const pump = (): void => {
    while (offset < payload.length) {
      const end = Math.min(payload.length, offset + SLICE)
      const ok = res.write(payload.subarray(offset, end))
      offset = end
      if (!ok) { res.once('drain', pump); return }
    }
    res.end()
  }
  pump()
  req.resume()
})
plain.listen(0, '127.0.0.1')
await once(plain, 'listening')
const plainPort = (plain.address() as { port: number }).port

const gbps = (r: { bytes: number, seconds: number }): number => r.bytes / r.seconds / 1e9
const base: number[] = []; const ours: number[] = []
await download(plainPort, '/'); await download(port, href) // warm-up
for (let i = 0; i < runs; i++) {
  const plainFirst = i % 2 === 0
  const m0 = plainFirst ? undefined : await download(port, href)
  const b = await download(plainPort, '/')
  const m = m0 ?? await download(port, href)
  if (b.bytes !== head || m.bytes !== head) throw new Error(`short body: baseline ${b.bytes}, materia ${m.bytes}, expected ${head}`)
  base.push(gbps(b)); ours.push(gbps(m))
}
await app.close()
plain.close()
agent.destroy()
await client.terminate()

const fmt = (xs: number[]): string => `best ${Math.max(...xs).toFixed(2)} GB/s, median ${median(xs).toFixed(2)} GB/s`
console.log(`${(head / 2 ** 30).toFixed(3)} GiB safetensors (device ${device}, init ones filled in ${fillMs.toFixed(0)} ms), ${runs} runs, node ${process.version}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`)
console.log(`plain node:http from a Buffer, 1 MiB slices: ${fmt(base)}`)
console.log(`materia GET safetensors:                     ${fmt(ours)}`)
const ratioBest = Math.max(...ours) / Math.max(...base); const ratioMedian = median(ours) / median(base)
report({ figure: `GET 1 GiB safetensors, device ${device}, median of ${runs}`, value: median(ours), unit: 'GB/s', baseline: { name: 'plain node:http from a Buffer', value: median(base) }, better: 'higher', target: 0.8 })
console.log(`ratio materia/plain: best ${(ratioBest * 100).toFixed(0)}%, median ${(ratioMedian * 100).toFixed(0)}% (target >= 80%: ${ratioMedian >= 0.8 ? 'met' : 'missed'})`)
