// @bench quick: 2 1
// Benchmark: a lazily generated safetensors file larger than the machine's memory, streamed over
// loopback. The model is a Sequential of `layers` distinct Linear(8192, 8192) (every layer draws its
// own numbers), bfloat16: 300 layers are 20.1 B parameters, a 40.3 GB file. The service runs in
// its own process (its peak RSS is read from /proc: VmHWM); a node:http client in a worker thread
// of this process counts and discards the bytes. Rows: init zeros, default with rng philox, default
// with rng torch (bit-exact with PyTorch), each `lazy: true` on device worker; baselines measured
// in the same run: a plain node:http server in its own process sending the same byte count from a
// resident 64 MiB Buffer in 1 MiB slices with backpressure, and PyTorch's own in-process init of the
// same layers (torch.manual_seed; Linear(8192, 8192); .to(bfloat16)) in bfloat16 bytes per second
// (bench/torch-init-throughput.py, PYTHON, default python3). Then /healthz latency (p50/p99, a
// client in its own thread sending back to back) with no stream, and while `streams` lazy streams
// (rng philox, 4 GiB ranges of the file) run at once.
// Targets: zeros >= 0.8x and philox >= 0.6x of the plain server; torch >= 2x PyTorch's init; peak
// RSS < 1 GiB.
// Run: npx tsx bench/lazy-stream.ts [layers=300] [streams=3]
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { Agent, createServer } from 'node:http'
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { BENCH_ENV, call, percentile } from './loopback.js'
import { report } from './report.js'

const layers = Number(process.argv[2] ?? 300)
const streams = Number(process.argv[3] ?? 3)
const root = fileURLToPath(new URL('..', import.meta.url))

async function freePort (): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1')
  await once(s, 'listening')
  const port = (s.address() as { port: number }).port
  s.close()
  return port
}

async function untilListening (port: number, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`process exited with ${child.exitCode}`)
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`)
      if (res.status === 200 || res.status === 404) return
    } catch { /* not yet */ }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error('did not start listening')
}

/** kB lines of /proc/<pid>/status: VmRSS, VmHWM (peak). */
function memoryOf (pid: number): { rss: number, peak: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) * 1024
  return { rss: kb('VmRSS'), peak: kb('VmHWM') }
}

// the client: GET path (with an optional Range), count and discard; request to last byte
const clientSource = `
const { parentPort } = require('node:worker_threads')
const { Agent, request } = require('node:http')
parentPort.on('message', ({ port, path, range }) => {
  const agent = new Agent({ keepAlive: false })
  const t0 = process.hrtime.bigint()
  let first = 0
  const req = request({ host: '127.0.0.1', port, path, agent, headers: range ? { range } : {} }, (res) => {
    if (res.statusCode !== 200 && res.statusCode !== 206) { parentPort.postMessage({ error: 'GET ' + path + ': ' + res.statusCode }); res.resume(); return }
    let bytes = 0
    let tail = Buffer.alloc(0)
    res.on('data', (c) => { if (bytes === 0) first = Number(process.hrtime.bigint() - t0) / 1e9; bytes += c.length; tail = c })
    res.on('end', () => { parentPort.postMessage({ bytes, seconds: Number(process.hrtime.bigint() - t0) / 1e9, first, tail: tail.subarray(Math.max(0, tail.length - 16)).toString('hex'), length: Number(res.headers['content-length']) }); agent.destroy() })
  })
  req.on('error', (err) => { parentPort.postMessage({ error: String(err) }) })
  req.end()
})
`
interface Download { bytes: number, seconds: number, first: number, tail: string, length: number }
async function download (port: number, path: string, range?: string): Promise<Download> {
  const client = new Worker(clientSource, { eval: true })
  client.postMessage({ port, path, range })
  const [r] = await once(client, 'message') as [Download & { error?: string }]
  await client.terminate()
  if (r.error !== undefined) throw new Error(r.error)
  if (r.bytes !== r.length) throw new Error(`short body: ${r.bytes} of ${r.length}`)
  return r
}

// ---- the service, in its own process
const port = await freePort()
const service = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
  cwd: root,
  env: { ...process.env, ...BENCH_ENV, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', MATERIA_SEND_TIMEOUT: '0' },
  stdio: ['ignore', 'inherit', 'inherit']
})
await untilListening(port, service)
const agent = new Agent({ keepAlive: true, maxSockets: 1 })
const json = async (method: string, path: string, body?: unknown): Promise<Record<string, unknown>> => {
  const r = await call(port, agent, method, path, body)
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text}`)
  return JSON.parse(r.text) as Record<string, unknown>
}
const sid = (await json('POST', '/v1/sessions', {})).id as string
const spec = { class: 'Sequential', args: Array.from({ length: layers }, () => ({ class: 'Linear', args: [8192, 8192] })) }
const mid = (await json('POST', `/v1/sessions/${sid}/modules`, spec)).id as string
const lazy = async (body: object): Promise<{ href: string, nbytes: number, id: string }> => {
  const m = await json('POST', `/v1/sessions/${sid}/modules/${mid}/materializations`, { lazy: true, device: 'worker', dtype: 'bfloat16', ...body })
  return { href: m.safetensors as string, nbytes: m.nbytes as number, id: m.id as string }
}

// ---- the plain node:http baseline, in its own process
const plainPort = await freePort()
const plainSource = `
const { createServer } = require('node:http')
const payload = Buffer.alloc(64 << 20, 1)
createServer((req, res) => {
  const total = Number(new URL(req.url, 'http://x').searchParams.get('bytes'))
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total) })
  let sent = 0
  const pump = () => {
    while (sent < total) {
      const at = sent % payload.length
      const n = Math.min(1 << 20, total - sent, payload.length - at)
      const ok = res.write(payload.subarray(at, at + n))
      sent += n
      if (!ok) { res.once('drain', pump); return }
    }
    res.end()
  }
  pump()
  req.resume()
}).listen(${plainPort}, '127.0.0.1')
`
const plain = spawn(process.execPath, ['-e', plainSource], { stdio: ['ignore', 'inherit', 'inherit'] })
await untilListening(plainPort, plain)

const gb = (n: number): string => `${(n / 1e9).toFixed(1)} GB`
const rate = (d: Download): number => d.bytes / d.seconds / 1e9
console.log(`lazy-stream: Sequential of ${layers} Linear(8192, 8192), bfloat16; node ${process.version}; ${availableParallelism()} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`)

const zeros = await lazy({ init: 'zeros' })
const fileBytes = Number((await fetch(`http://127.0.0.1:${port}${zeros.href}`, { method: 'HEAD' })).headers.get('content-length'))
const base = await download(plainPort, `/?bytes=${fileBytes}`)
console.log(`plain node:http, resident buffer: ${gb(base.bytes)} in ${base.seconds.toFixed(1)} s, ${rate(base).toFixed(2)} GB/s`)

const rows: Array<{ name: string, gbps: number }> = []
for (const [name, body] of [['zeros', { init: 'zeros' }], ['philox', { init: 'default', rng: 'philox', seed: 1 }], ['torch', { init: 'default', rng: 'torch', seed: 1 }]] as const) {
  const m = name === 'zeros' ? zeros : await lazy(body)
  const d = await download(port, m.href)
  // the last bytes are the ones a Range of them gives: the stream and random access agree
  const tail = await download(port, m.href, `bytes=${fileBytes - 16}-`)
  if (tail.tail !== d.tail) throw new Error(`${name}: the streamed tail ${d.tail} differs from its range ${tail.tail}`)
  const mem = memoryOf(service.pid as number)
  rows.push({ name, gbps: rate(d) })
  console.log(`materia lazy, ${name.padEnd(6)}: ${gb(d.bytes)} in ${d.seconds.toFixed(1)} s, ${rate(d).toFixed(2)} GB/s (${(rate(d) / rate(base)).toFixed(2)}x plain), first byte ${(d.first * 1000).toFixed(0)} ms; service RSS ${(mem.rss / 2 ** 20).toFixed(0)} MiB, peak ${(mem.peak / 2 ** 20).toFixed(0)} MiB`)
}

// ---- PyTorch's own init of the same layers, in process
const python = process.env.PYTHON ?? 'python3'
const torchRun = spawnSync(python, [fileURLToPath(new URL('torch-init-throughput.py', import.meta.url)), '4'], { encoding: 'utf8' })
let torchGbps: number | undefined
if (torchRun.status === 0) {
  const r = JSON.parse(torchRun.stdout.trim().split('\n').pop() as string) as { bf16_bytes_per_s: number, torch: string }
  torchGbps = r.bf16_bytes_per_s / 1e9
  console.log(`PyTorch ${r.torch} in-process init (manual_seed, Linear(8192, 8192), .to(bfloat16)): ${torchGbps.toFixed(2)} GB/s of bfloat16`)
} else {
  console.log(`PyTorch baseline skipped (${python} could not run torch: ${torchRun.stderr.trim().split('\n').pop() ?? ''})`)
}

// ---- /healthz while lazy streams run
const hammerSource = `
const { parentPort, workerData } = require('node:worker_threads')
const { Agent, request } = require('node:http')
const agent = new Agent({ keepAlive: true, maxSockets: 1 })
let stop = false
parentPort.on('message', (m) => { if (m === 'stop') stop = true })
const one = () => new Promise((resolve, reject) => {
  const req = request({ host: '127.0.0.1', port: workerData.port, path: '/healthz', agent }, (res) => { res.resume(); res.on('end', resolve) })
  req.on('error', reject)
  req.end()
})
;(async () => {
  const ms = []
  while (!stop) {
    const t0 = performance.now(); await one(); ms.push(performance.now() - t0)
    if (ms.length % 64 === 0) await new Promise((r) => setImmediate(r))
  }
  agent.destroy(); parentPort.postMessage(ms)
})()
`
async function healthz (during: () => Promise<unknown>): Promise<number[]> {
  const hammer = new Worker(hammerSource, { eval: true, workerData: { port } })
  await during()
  hammer.postMessage('stop')
  const [ms] = await once(hammer, 'message') as [number[]]
  await hammer.terminate()
  return ms
}
const idle = await healthz(async () => { await new Promise((resolve) => setTimeout(resolve, 3000)) })
const philox = await lazy({ init: 'default', rng: 'philox', seed: 2 })
const span = Math.min(4 * 2 ** 30, Math.floor(fileBytes / streams))
const busy = await healthz(async () => {
  await Promise.all(Array.from({ length: streams }, async (_, i) => await download(port, philox.href, `bytes=${i * span}-${(i + 1) * span - 1}`)))
})
const fmt = (ms: number[]): string => `p50 ${percentile(ms, 50).toFixed(1)} ms, p99 ${percentile(ms, 99).toFixed(1)} ms, max ${Math.max(...ms).toFixed(1)} ms (${ms.length} requests)`
console.log(`/healthz, no stream:               ${fmt(idle)}`)
console.log(`/healthz, ${streams} lazy philox streams: ${fmt(busy)}`)

const peak = memoryOf(service.pid as number).peak
const plainBase = { name: 'plain node:http, resident buffer', value: rate(base) }
for (const [name, target] of [['zeros', 0.8], ['philox', 0.6]] as const) {
  report({ figure: `lazy ${gb(fileBytes)} safetensors, ${name}, GB/s`, value: rows.find((r) => r.name === name)?.gbps ?? 0, unit: 'GB/s', better: 'higher', baseline: plainBase, target })
}
report({
  figure: `lazy ${gb(fileBytes)} safetensors, torch-exact, GB/s`,
  value: rows.find((r) => r.name === 'torch')?.gbps ?? 0,
  unit: 'GB/s',
  better: 'higher',
  baseline: torchGbps !== undefined ? { name: 'PyTorch in-process init, bfloat16 bytes', value: torchGbps } : { name: 'PyTorch in-process init', skipped: `${python} has no torch` },
  target: 2
})
report({ figure: 'lazy streams, service peak RSS, MiB', value: peak / 2 ** 20, unit: 'MiB', better: 'lower', baseline: { name: 'target', value: 1024 }, target: 1 })
report({ figure: `/healthz p99 during ${streams} lazy streams, ms`, value: percentile(busy, 99), unit: 'ms', better: 'lower', baseline: { name: 'no stream', value: percentile(idle, 99) } })
const ratio = (name: string): number => (rows.find((r) => r.name === name)?.gbps ?? 0) / rate(base)
console.log(`targets: zeros ${ratio('zeros').toFixed(2)}x plain (>= 0.8: ${ratio('zeros') >= 0.8 ? 'met' : 'missed'}), philox ${ratio('philox').toFixed(2)}x (>= 0.6: ${ratio('philox') >= 0.6 ? 'met' : 'missed'}), ` +
  (torchGbps !== undefined ? `torch ${((rows.find((r) => r.name === 'torch')?.gbps ?? 0) / torchGbps).toFixed(2)}x PyTorch (>= 2: ${(rows.find((r) => r.name === 'torch')?.gbps ?? 0) >= 2 * torchGbps ? 'met' : 'missed'}), ` : '') +
  `service peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB (< 1024: ${peak < 2 ** 30 ? 'met' : 'missed'})`)
agent.destroy()
service.kill('SIGTERM')
plain.kill('SIGTERM')
