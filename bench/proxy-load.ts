// @bench quick: 1 1
// Benchmark: the deployment of deploy/compose.yaml under concurrent load, as processes on loopback
// (test/deploy/topology.ts: nginx round-robin over two replicas, Redis with AOF, a shared data
// directory), and one of those replicas asked directly (the Redis store without the proxy), beside
// one replica on the memory store (the baseline, same settings, same run), each driven by autocannon
// (https://github.com/mcollina/autocannon) from this process with an API key:
//   - GET of a module's metadata (`GET /v1/sessions/{sid}/modules/{mid}`, a Linear(1024, 1024));
//   - a 1 MiB Range of a tensor (`Range: bytes=1048576-2097151` of its 4 MiB weight, init `ones`,
//     resident), through the proxy only when every replica serves the materialization (it was made on
//     one of them); otherwise said, and left out of the proxy's figures.
// Requests/s, p50 and p99 of each, and their ratios to the baseline. Rounds alternate the order;
// the best round of each counts (a shared machine's other jobs only slow a round down).
//
// Run: npx tsx bench/proxy-load.ts [seconds=10] [rounds=2] [connections=10]
import autocannon from 'autocannon'
import { send, startService, startTopology, type Service, type Topology } from '../test/deploy/topology.js'
import { percentile } from './loopback.js'
import { quick, report } from './report.js'

const seconds = Number(process.argv[2] ?? (quick ? 1 : 10))
const rounds = Number(process.argv[3] ?? (quick ? 1 : 2))
const connections = Number(process.argv[4] ?? 10)
const RANGE = 'bytes=1048576-2097151'
// the bench is all one tenant, far above the default rate limit
const ENV = { MATERIA_RATE_LIMIT: '0' }

interface Target { name: string, port: number, auth: Record<string, string>, modulePath: string, tensorPath: string | undefined }
interface Result { rps: number, p50: number, p99: number }

async function prepare (name: string, port: number, auth: Record<string, string>, replicaPorts: number[]): Promise<Target> {
  const post = async (path: string, body: unknown): Promise<Record<string, unknown>> => {
    const a = await send(port, 'POST', path, { headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body) })
    if (a.status !== 201) throw new Error(`${name}: POST ${path}: ${a.status} ${a.body.toString()}`)
    return JSON.parse(a.body.toString()) as Record<string, unknown>
  }
  const sid = (await post('/v1/sessions', { ttlSeconds: 3600 })).id as string
  const mid = (await post(`/v1/sessions/${sid}/modules`, { class: 'Linear', args: [1024, 1024] })).id as string
  const mat = await post(`/v1/sessions/${sid}/modules/${mid}/materializations`, { init: 'ones', device: 'worker' })
  const href = (mat.tensors as Array<{ name: string, href: string }>).find((x) => x.name === 'weight')?.href ?? ''
  const missing: number[] = []
  for (const p of replicaPorts) {
    const a = await send(p, 'GET', href, { headers: { ...auth, range: RANGE } })
    if (a.status !== 206 || a.body.length !== 2 ** 20) missing.push(p)
  }
  if (missing.length > 0) console.log(`${name}: the materialization is not served by every replica (port ${missing.join(', ')}: not 206): the tensor Range is not measured through it`)
  return { name, port, auth, modulePath: `/v1/sessions/${sid}/modules/${mid}`, tensorPath: missing.length > 0 ? undefined : href }
}

async function load (target: Target, path: string, headers: Record<string, string>, duration: number): Promise<Result> {
  // each response's own time (autocannon's histogram counts whole milliseconds: a p50 under 1 ms reads 0)
  const times: number[] = []
  const r = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon({ url: `http://127.0.0.1:${target.port}`, connections, duration, requests: [{ method: 'GET', path, headers: { ...target.auth, ...headers } }] },
      (err, result) => { if (err !== null && err !== undefined) reject(err); else resolve(result) })
    instance.on('response', (_client, _status, _bytes, ms: number) => { times.push(ms) })
  })
  if (r.non2xx > 0 || r.errors > 0 || r.timeouts > 0) throw new Error(`${target.name} ${path}: ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts`)
  return { rps: r.requests.average, p50: round(percentile(times, 50)), p99: round(percentile(times, 99)) }
}

const round = (ms: number): number => Math.round(ms * 100) / 100

async function main (): Promise<void> {
  let topo: Topology | undefined
  let single: Service | undefined
  try {
    topo = await startTopology({ env: ENV })
    single = await startService({ ...ENV, MATERIA_STORE: 'memory', MATERIA_API_KEYS: topo.apiKey })
    const proxy = await prepare('nginx, 2 replicas, Redis store', topo.proxyPort, topo.auth, topo.replicas.map((r) => r.port))
    const r1 = topo.replicas[0]?.port ?? 0
    // one of the replicas without nginx in between: what the proxy adds, apart from the Redis store
    const direct = await prepare('replica-1 directly, Redis store', r1, topo.auth, [r1])
    const base = await prepare('one replica, memory store', single.port, topo.auth, [single.port])
    const loads: Array<{ name: string, path: (x: Target) => string | undefined, headers: Record<string, string> }> = [
      { name: 'GET module metadata', path: (x: Target) => x.modulePath, headers: {} },
      { name: 'GET 1 MiB tensor Range', path: (x: Target) => x.tensorPath, headers: { range: RANGE } }
    ]
    const best = new Map<string, Result>()
    const runs = loads.flatMap((l) => [proxy, direct, base].map((x) => ({ l, x, key: `${l.name} | ${x.name}` })))
    for (const { l, x } of runs) { const p = l.path(x); if (p !== undefined) await load(x, p, l.headers, 1) } // warm-up
    for (let round = 0; round < rounds; round++) {
      for (const { l, x, key } of round % 2 === 0 ? runs : [...runs].reverse()) {
        const path = l.path(x)
        if (path === undefined) continue
        const r = await load(x, path, l.headers, seconds)
        console.log(`round ${round + 1}: ${key}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms`)
        if ((best.get(key)?.rps ?? 0) < r.rps) best.set(key, r)
      }
    }
    console.log(`${connections} connections, ${seconds} s a round, ${rounds} round(s), best round of each (by req/s)`)
    for (const l of loads) {
      const b = best.get(`${l.name} | ${base.name}`)
      if (b === undefined) continue
      console.log(`${l.name}, ${base.name} (baseline): ${b.rps.toFixed(0)} req/s, p50 ${b.p50} ms, p99 ${b.p99} ms`)
      for (const [x, label] of [[proxy, 'through nginx (2 replicas, Redis store)'], [direct, 'one replica of the two, Redis store, no proxy']] as const) {
        const p = best.get(`${l.name} | ${x.name}`)
        if (p === undefined) {
          console.log(`${l.name}, ${x.name}: not measured (above)`)
          continue
        }
        console.log(`${l.name}, ${x.name}: ${p.rps.toFixed(0)} req/s (${(p.rps / b.rps).toFixed(2)}× the baseline), p50 ${p.p50} ms (${(p.p50 / b.p50).toFixed(2)}×), p99 ${p.p99} ms (${(p.p99 / b.p99).toFixed(2)}×)`)
        const baseline = (value: number): { name: string, value: number } => ({ name: 'one replica, memory store, no proxy', value })
        const figure = `${l.name} ${label}, ${connections} connections`
        report({ figure: `${figure}, requests/s`, value: Math.round(p.rps), unit: 'req/s', baseline: baseline(Math.round(b.rps)), better: 'higher' })
        report({ figure: `${figure}, p50`, value: p.p50, unit: 'ms', baseline: baseline(b.p50), better: 'lower' })
        report({ figure: `${figure}, p99`, value: p.p99, unit: 'ms', baseline: baseline(b.p99), better: 'lower' })
      }
    }
  } finally {
    await single?.stop()
    await topo?.stop()
  }
}

await main()
