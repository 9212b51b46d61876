// @bench quick: 50
// Benchmark: what the Redis session store adds to a request. GET /v1/sessions/{sid}/modules/{mid}
// (one session touch and one module read) over loopback HTTP, against the memory store in the same
// run; and a baseline plain node:http server answering the same JSON from memory. p50/p99 in ms.
//
// Run: npx tsx bench/store-latency.ts [requests=2000]   (REDIS_URL, default redis://127.0.0.1:6379)
import { Agent, createServer } from 'node:http'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { BENCH_ENV, call, median, percentile } from './loopback.js'
import { report } from './report.js'

const requests = Number(process.argv[2] ?? 2000)
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const spec = { class: 'LSTM', args: [6, 9], kwargs: { bidirectional: true } }

async function measure (port: number, path: string): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  for (let i = 0; i < 200; i++) await call(port, agent, 'GET', path) // warm-up
  const out: number[] = []
  for (let i = 0; i < requests; i++) {
    const t0 = performance.now()
    const r = await call(port, agent, 'GET', path)
    out.push(performance.now() - t0)
    if (r.status !== 200) throw new Error(`${r.status} ${r.text}`)
  }
  agent.destroy()
  return out
}

const rows: Array<[string, number[]]> = []
let body = ''
for (const store of ['memory', 'redis'] as const) {
  let app
  try {
    app = await buildApp({ config: loadConfig({ LOG_LEVEL: 'silent', ...BENCH_ENV, MATERIA_STORE: store, REDIS_URL: redisUrl }) })
  } catch (err) {
    console.log(`${store} store skipped: ${(err as Error).message}`) // no Redis at REDIS_URL
    continue
  }
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as { port: number }).port
  const agent = new Agent({ keepAlive: true })
  const sid = JSON.parse((await call(port, agent, 'POST', '/v1/sessions', {})).text).id as string
  const mod = await call(port, agent, 'POST', `/v1/sessions/${sid}/modules`, spec)
  const mid = JSON.parse(mod.text).id as string
  body = (await call(port, agent, 'GET', `/v1/sessions/${sid}/modules/${mid}`)).text
  agent.destroy()
  rows.push([`materia, ${store} store`, await measure(port, `/v1/sessions/${sid}/modules/${mid}`)])
  await app.close()
}
const plain = createServer((_req, res) => { res.writeHead(200, { 'content-type': 'application/json' }).end(body) })
await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve))
rows.push(['plain node:http, same JSON', await measure((plain.address() as { port: number }).port, '/')])
plain.close()

console.log(`GET module (${body.length} bytes JSON), ${requests} sequential requests, keep-alive, node ${process.version}`)
const base = median(rows[0]?.[1] ?? [])
for (const [label, xs] of rows) {
  console.log(`  ${label.padEnd(28)} p50 ${median(xs).toFixed(3)} ms  p99 ${percentile(xs, 99).toFixed(3)} ms  (${(median(xs) / base).toFixed(2)}x the memory store's p50)`)
}
const plainRow = rows.find(([label]) => label.startsWith('plain')) as [string, number[]]
for (const [label, xs] of rows) {
  if (label.startsWith('plain')) continue
  report({ figure: `GET module (session touch + module read), ${label}, p50`, value: median(xs), unit: 'ms', baseline: { name: 'plain node:http, same JSON', value: median(plainRow[1]) }, better: 'lower' })
}
