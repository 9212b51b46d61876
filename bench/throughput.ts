// @bench quick: 1
// Benchmark: request throughput with autocannon (https://github.com/mcollina/autocannon), each server
// in its own process, the load generator in this one, over loopback, in the same run:
//   - baselines: fastify's hello world (`{ hello: 'world' }`, no plugins) and a plain node:http server
//     sending the same JSON;
//   - materia (the whole app, memory store, rate limit and load shedding off: they would answer the
//     bench itself): GET of a module's metadata in a session (`GET /v1/sessions/{sid}/modules/{mid}`,
//     an LSTM), GET of a catalog entry (`GET /v1/modules/nn.Linear`), and POST /v1/estimate of a
//     7B-shaped model (Embedding(32000, 4096), 32 TransformerEncoderLayer(4096, 32, 11008), Linear(4096, 32000)).
// Target: GET module metadata at least half of fastify's hello world (requests/s).
// Rounds alternate the servers; the best round of each counts (a shared machine's other jobs only slow a round down).
//
// Run: npx tsx bench/throughput.ts [seconds=10] [connections=10] [rounds=2]
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:http'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { quick, report } from './report.js'

type Kind = 'fastify' | 'node-http' | 'materia'
const HELLO = JSON.stringify({ hello: 'world' })
const self = fileURLToPath(import.meta.url)

async function serve (kind: Kind): Promise<void> {
  if (kind === 'node-http') {
    const server = createServer((_req, res) => { res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(HELLO) })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    console.log(JSON.stringify({ port: (server.address() as { port: number }).port }))
    return
  }
  if (kind === 'fastify') {
    const { default: Fastify } = await import('fastify')
    const app = Fastify({ logger: false })
    app.get('/', async () => ({ hello: 'world' }))
    await app.listen({ host: '127.0.0.1', port: 0 })
    console.log(JSON.stringify({ port: (app.server.address() as { port: number }).port }))
    return
  }
  const { buildApp } = await import('../src/app.js')
  const { loadConfig } = await import('../src/config.js')
  const { BENCH_ENV } = await import('./loopback.js')
  const app = await buildApp({ config: loadConfig({ LOG_LEVEL: 'silent', ...BENCH_ENV }) })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const sid = (await app.inject({ method: 'POST', url: '/v1/sessions', payload: { ttlSeconds: 86400 } })).json().id as string
  const mid = (await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules`, payload: { class: 'LSTM', args: [6, 9], kwargs: { bidirectional: true } } })).json().id as string
  console.log(JSON.stringify({ port: (app.server.address() as { port: number }).port, modulePath: `/v1/sessions/${sid}/modules/${mid}` }))
}

const estimateBody = JSON.stringify({
  class: 'Sequential',
  args: [
    { class: 'Embedding', args: [32000, 4096] },
    { class: 'TransformerEncoder', args: [{ class: 'TransformerEncoderLayer', args: [4096, 32, 11008] }, 32], kwargs: { enable_nested_tensor: false } },
    { class: 'Linear', args: [4096, 32000] }
  ]
})

interface Server { child: ChildProcess, port: number, modulePath?: string }

async function start (kind: Kind): Promise<Server> {
  const child = spawn(process.execPath, [...process.execArgv, self, 'serve', kind], { stdio: ['ignore', 'pipe', 'inherit'] })
  return await new Promise((resolve, reject) => {
    let out = ''
    child.once('exit', (code) => { reject(new Error(`${kind} server exited (${code})`)) })
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
      const line = out.split('\n').find((l) => l.startsWith('{'))
      if (line !== undefined && out.includes('\n')) resolve({ child, ...JSON.parse(line) as { port: number, modulePath?: string } })
    })
  })
}

interface Load { name: string, server: Kind, method: 'GET' | 'POST', path: (s: Server) => string, body?: string }

async function load (l: Load, s: Server, seconds: number, connections: number): Promise<{ rps: number, p50: number, p99: number }> {
  const r = await autocannon({
    url: `http://127.0.0.1:${s.port}`,
    connections,
    duration: seconds,
    requests: [{ method: l.method, path: l.path(s), ...(l.body !== undefined ? { body: l.body, headers: { 'content-type': 'application/json' } } : {}) }]
  })
  if (r.non2xx > 0 || r.errors > 0 || r.timeouts > 0) throw new Error(`${l.name}: ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts`)
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99 }
}

async function main (): Promise<void> {
  const seconds = Number(process.argv[2] ?? (quick ? 1 : 10))
  const connections = Number(process.argv[3] ?? 10)
  const rounds = Number(process.argv[4] ?? (quick ? 1 : 2))
  const loads: Load[] = [
    { name: 'fastify hello world', server: 'fastify', method: 'GET', path: () => '/' },
    { name: 'plain node:http, same JSON', server: 'node-http', method: 'GET', path: () => '/' },
    { name: 'materia GET module metadata (session module, LSTM)', server: 'materia', method: 'GET', path: (s) => s.modulePath ?? '' },
    { name: 'materia GET catalog entry (nn.Linear)', server: 'materia', method: 'GET', path: () => '/v1/modules/nn.Linear' },
    { name: 'materia POST /v1/estimate, 7B-shaped model', server: 'materia', method: 'POST', path: () => '/v1/estimate', body: estimateBody }
  ]
  const servers = new Map<Kind, Server>()
  for (const kind of ['fastify', 'node-http', 'materia'] as const) servers.set(kind, await start(kind))
  const best = new Map<string, { rps: number, p50: number, p99: number }>()
  try {
    for (const l of loads) await load(l, servers.get(l.server) as Server, 1, connections) // warm-up: JIT, caches
    for (let round = 0; round < rounds; round++) {
      for (const l of round % 2 === 0 ? loads : [...loads].reverse()) {
        const r = await load(l, servers.get(l.server) as Server, seconds, connections)
        console.log(`round ${round + 1}: ${l.name}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms`)
        if ((best.get(l.name)?.rps ?? 0) < r.rps) best.set(l.name, r)
      }
    }
  } finally {
    for (const s of servers.values()) s.child.kill()
  }
  const hello = best.get('fastify hello world') as { rps: number }
  const baseline = { name: 'fastify hello world', value: hello.rps }
  console.log(`${connections} connections, ${seconds} s a round, ${rounds} round(s), best round of each`)
  for (const l of loads) {
    const r = best.get(l.name) as { rps: number, p99: number }
    if (l.server === 'fastify') continue
    report({
      figure: `${l.name}, requests/s (${connections} connections)`,
      value: Math.round(r.rps),
      unit: 'req/s',
      baseline: { ...baseline, value: Math.round(baseline.value) },
      better: 'higher',
      target: l.name.includes('module metadata') ? 0.5 : undefined
    })
  }
}

if (process.argv[2] === 'serve') await serve(process.argv[3] as Kind)
else await main()
