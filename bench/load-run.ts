// @bench quick: 3 4 1
// Bench: a bounded load run against one replica on loopback. 20 tenants (16 keys of
// MATERIA_API_KEYS with the default limits, 4 tenants of a generated tenants file with tight
// quotas), MATERIA_MEMORY_BUDGET 2GiB, MATERIA_TENANT_MAX_RESIDENT_BYTES 256MiB, MATERIA_RATE_LIMIT
// 6000 (the tight tenants have their own). `clients` clients (default 32) share one worker thread
// (so their JSON and HTTP work does not run on the server's event loop) and loop for `seconds`
// (default 60) over a mix: create a session; create 1–3 modules (mostly small and medium Linear,
// LSTM and TransformerEncoder; some over the limits on purpose: TransformerEncoder(
// TransformerEncoderLayer(8, 2), 9000) is 108 000 tensors, Linear(1e6, 1e6) 4 TB, Linear(8192,
// 8192) just over the tenant's 256 MiB); materialize them (zeros, ones, default seeded; cpu and
// worker; a quarter with wait: false, polled); read a tensor with a Range and the safetensors file
// (read fully, read slowly, or aborted midway); delete some materializations and modules; send some
// bad requests; delete the session. A second worker thread polls GET /healthz sequentially over one
// keep-alive connection the whole time; the same poller runs for `baseline` seconds (default 5)
// before the load, with nothing else running, as the baseline. The main thread samples RSS every
// 100 ms. Prints the answers by status and by error code, the 5xx by code (any 500 is printed in
// full and the process exits 1), peak RSS against the budget, /healthz p50/p99/max under load and
// at baseline, and after the run: sessions left, resident bytes, arena cache, RSS.
// Run: npx tsx bench/load-run.ts [seconds=60] [clients=32] [baseline=5]
import { Agent, request, type IncomingHttpHeaders } from 'node:http'
import { createHash } from 'node:crypto'
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir, loadavg } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { percentile } from './loopback.js'

const MiB = 2 ** 20

// ---------------------------------------------------------------------------------------------
// The load clients (run in a worker thread: this same file, loaded again through tsx's loader).

interface ClientStats {
  requests: number
  byStatus: Record<string, number>
  byCode: Record<string, number>
  internal: string[]
  networkErrors: Record<string, number>
  iterations: number
  abortedDownloads: number
  slowDownloads: number
  fullDownloads: number
  bytesRead: number
  sessionsLeft: number
}

interface Answer { status: number, text: string, headers: IncomingHttpHeaders }

type DownloadMode = 'full' | 'slow' | 'abort'

async function runClients (port: number, keys: string[], clients: number, seconds: number): Promise<ClientStats> {
  const st: ClientStats = { requests: 0, byStatus: {}, byCode: {}, internal: [], networkErrors: {}, iterations: 0, abortedDownloads: 0, slowDownloads: 0, fullDownloads: 0, bytesRead: 0, sessionsLeft: 0 }
  const deadline = Date.now() + seconds * 1000
  const rnd = (n: number): number => Math.floor(Math.random() * n)
  const chance = (p: number): boolean => Math.random() < p
  const inc = (o: Record<string, number>, k: string): void => { o[k] = (o[k] ?? 0) + 1 }

  const count = (method: string, path: string, status: number, text: string): void => {
    st.requests++
    inc(st.byStatus, String(status))
    if (status >= 400) {
      let code = '(no code)'
      try { code = String((JSON.parse(text) as { code?: string }).code ?? '(no code)') } catch { code = '(not JSON)' }
      inc(st.byCode, `${status} ${code}`)
      if (status === 500 && st.internal.length < 50) st.internal.push(`${method} ${path} → ${text.slice(0, 2000)}`)
    }
  }

  async function client (index: number): Promise<void> {
    const key = keys[index % keys.length] ?? ''
    const agent = new Agent({ keepAlive: true, maxSockets: 4 })
    const live = new Set<string>()

    const call = async (method: string, path: string, body?: unknown, extra: Record<string, string> = {}, withKey = true): Promise<Answer | undefined> => {
      const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body)
      const headers: Record<string, string | number> = { ...extra }
      if (withKey) headers.authorization = `Bearer ${key}`
      if (text !== undefined) { headers['content-type'] ??= 'application/json'; headers['content-length'] = Buffer.byteLength(text) }
      return await new Promise((resolve) => {
        const req = request({ host: '127.0.0.1', port, path, method, agent, headers }, (res) => {
          let out = ''
          res.setEncoding('utf8').on('data', (c: string) => { out += c }).on('end', () => {
            const status = res.statusCode ?? 0
            count(method, path, status, out)
            resolve({ status, text: out, headers: res.headers })
          })
          res.on('error', (e: NodeJS.ErrnoException) => { inc(st.networkErrors, e.code ?? e.message); resolve(undefined) })
        })
        req.on('error', (e: NodeJS.ErrnoException) => { inc(st.networkErrors, e.code ?? e.message); resolve(undefined) })
        req.end(text)
      })
    }

    /** A byte response read fully, slowly (a pause every 64 KiB chunk for the first 2 s), or dropped midway. */
    const download = async (path: string, mode: DownloadMode, range?: string): Promise<void> => {
      await new Promise<void>((resolve) => {
        const headers: Record<string, string> = { authorization: `Bearer ${key}` }
        if (range !== undefined) headers.range = range
        // an aborted download must not leave a socket in the keep-alive pool
        const req = request({ host: '127.0.0.1', port, path, method: 'GET', agent: mode === 'abort' ? false : agent, headers }, (res) => {
          const status = res.statusCode ?? 0
          const total = Number(res.headers['content-length'] ?? 0)
          let got = 0; let body = ''
          const started = Date.now()
          let done = false
          const finish = (): void => { if (!done) { done = true; resolve() } }
          res.on('data', (c: Buffer) => {
            got += c.length; st.bytesRead += c.length
            if (status >= 400 && body.length < 16384) body += c.toString('utf8')
            if (status < 300 && mode === 'abort' && got >= total / 2) {
              count('GET', path, status, ''); st.abortedDownloads++
              req.destroy(); finish()
            } else if (status < 300 && mode === 'slow' && Date.now() - started < 2000) {
              res.pause(); setTimeout(() => res.resume(), 5)
            }
          })
          res.on('end', () => {
            if (done) return
            count('GET', path, status, body)
            if (status < 300) { if (mode === 'slow') st.slowDownloads++; else st.fullDownloads++ }
            finish()
          })
          res.on('error', () => { finish() })
          res.on('close', finish)
        })
        req.on('error', (e: NodeJS.ErrnoException) => { if (!req.destroyed || e.code !== 'ECONNRESET') inc(st.networkErrors, e.code ?? e.message); resolve() })
        req.end()
      })
    }

    const parse = (a: Answer | undefined): Record<string, unknown> => {
      try { return a === undefined ? {} : JSON.parse(a.text) as Record<string, unknown> } catch { return {} }
    }

    // the module mix: [weight, spec]
    const huge = { class: 'TransformerEncoder', args: [{ class: 'TransformerEncoderLayer', args: [8, 2] }, 9000] }
    const specs: Array<[number, unknown]> = [
      [10, { class: 'Linear', args: [256, 256] }],
      [6, { class: 'torch.nn.Linear', args: [1024, 1024] }],
      [6, { class: 'LSTM', args: [32, 64], kwargs: { num_layers: 2, bidirectional: true } }],
      [5, { class: 'TransformerEncoder', args: [{ class: 'TransformerEncoderLayer', args: [64, 4, 128] }, 2] }],
      [4, { class: 'Linear', args: [2048, 4096] }], // 32 MiB
      [3, { class: 'nn.LSTM', args: [512, 1024], kwargs: { num_layers: 2 } }], // ~59 MB
      [3, { class: 'TransformerEncoder', args: [{ class: 'TransformerEncoderLayer', args: [512, 8] }, 6] }], // ~76 MB
      [3, { class: 'Linear', args: [4096, 4096] }], // 64 MiB
      [1, huge], // 413 MATERIA_ERR_MODULE_TOO_LARGE
      [1, { class: 'Linear', args: [1e6, 1e6] }], // a module on meta; its materialization is 507
      [1, { class: 'Linear', args: [8192, 8192] }] // just over the tenant's 256 MiB: 507
    ]
    const totalWeight = specs.reduce((s, [w]) => s + w, 0)
    const pickSpec = (): unknown => {
      let r = rnd(totalWeight)
      for (const [w, s] of specs) { if ((r -= w) < 0) return s }
      return specs[0]?.[1]
    }

    const badRequest = async (sid: string): Promise<void> => {
      switch (rnd(9)) {
        case 0: await call('POST', `/v1/sessions/${sid}/modules`, { class: 'Linear', args: [5] }); break // 400 NN_ARGS
        case 1: await call('POST', `/v1/sessions/${sid}/modules`, { class: 'NoSuchModule' }); break // 404
        case 2: await call('GET', `/v1/sessions/${sid}/materializations/mat_nothere`); break // 404
        case 3: await call('POST', `/v1/sessions/${sid}/modules`, '{"class": "Linear", "args": [1,'); break // 400 bad JSON
        case 4: await call('GET', '/v1/sessions', undefined, {}, false); break // 401
        case 5: await call('GET', '/v1/sessions?api_key=x'); break // 400 credential in query
        case 6: await call('GET', '/v1/sessions?limit=0'); break // 400 validation
        case 7: await call('GET', `/v1/sessions/${sid}/materializations?cursor=bogus`); break // 400 invalid cursor
        default: await call('GET', '/v1/nothing'); break // 404 route
      }
    }

    const materialize = async (sid: string, mid: string, tensors: Array<{ name: string, nbytes: number }>): Promise<void> => {
      const init = (['zeros', 'ones', 'default', 'default'] as const)[rnd(4)]
      const body: Record<string, unknown> = { init, device: chance(0.5) ? 'cpu' : 'worker' }
      if (init === 'default') body.seed = rnd(1000)
      if (chance(0.25)) body.wait = false
      if (chance(0.03)) body.init = 'nonsense' // 400
      const r = await call('POST', `/v1/sessions/${sid}/modules/${mid}/materializations`, body)
      if (r === undefined || (r.status !== 201 && r.status !== 202)) return
      const mat = parse(r)
      const matId = String(mat.id)
      let status = String(mat.status)
      const until = Date.now() + 30_000
      while (status === 'pending' && Date.now() < until) {
        await sleep(20)
        const p = await call('GET', `/v1/sessions/${sid}/materializations/${matId}`)
        if (p === undefined || p.status !== 200) return
        status = String(parse(p).status)
      }
      if (status !== 'ready') return
      const base = `/v1/sessions/${sid}/materializations/${matId}`
      const t = tensors[rnd(tensors.length)]
      if (t !== undefined) {
        const a = rnd(Math.max(1, t.nbytes))
        const range = chance(0.05) ? `bytes=${t.nbytes + 10}-` : `bytes=${a}-${Math.min(t.nbytes - 1, a + rnd(65536))}` // some 416
        await download(`${base}/tensors/${encodeURIComponent(t.name)}`, 'full', range)
      }
      const mode: DownloadMode = chance(0.15) ? 'abort' : chance(0.15) ? 'slow' : 'full'
      await download(`${base}/safetensors`, mode)
      if (chance(0.5)) await call('DELETE', base)
    }

    while (Date.now() < deadline) {
      st.iterations++
      const s = await call('POST', '/v1/sessions', { ttlSeconds: 600 })
      if (s === undefined || s.status !== 201) { await sleep(50); continue }
      const sid = String(parse(s).id)
      live.add(sid)
      const n = 1 + rnd(3)
      for (let i = 0; i < n && Date.now() < deadline; i++) {
        if (chance(0.15)) await badRequest(sid)
        const m = await call('POST', `/v1/sessions/${sid}/modules`, pickSpec())
        if (m === undefined || m.status !== 201) continue
        const mod = parse(m)
        const mid = String(mod.id)
        await materialize(sid, mid, (mod.tensors as Array<{ name: string, nbytes: number }> | undefined) ?? [])
        if (chance(0.2)) await call('DELETE', `/v1/sessions/${sid}/modules/${mid}`)
      }
      if (chance(0.1)) await call('GET', '/v1/sessions?limit=10')
      const d = await call('DELETE', `/v1/sessions/${sid}`)
      if (d !== undefined && (d.status === 204 || d.status === 404)) live.delete(sid)
    }
    // the end: every session this client made is deleted (retried past a rate limit)
    for (const sid of live) {
      for (let attempt = 0; attempt < 100; attempt++) {
        const d = await call('DELETE', `/v1/sessions/${sid}`)
        if (d !== undefined && (d.status === 204 || d.status === 404)) { live.delete(sid); break }
        await sleep(200)
      }
    }
    st.sessionsLeft += live.size
    agent.destroy()
  }

  await Promise.all(Array.from({ length: clients }, async (_, i) => { await client(i) }))
  return st
}

// ---------------------------------------------------------------------------------------------
// The /healthz poller (a worker thread; the same source as bench/healthz-under-fill.ts).

const pollerSource = `
const { parentPort, workerData } = require('node:worker_threads')
const { Agent, request } = require('node:http')
const agent = new Agent({ keepAlive: true, maxSockets: 1 })
let stop = false
parentPort.on('message', (m) => { if (m === 'stop') stop = true })
const once = () => new Promise((resolve) => {
  const req = request({ host: '127.0.0.1', port: workerData.port, path: '/healthz', agent }, (res) => {
    res.on('data', () => {}); res.on('end', () => resolve(res.statusCode))
  })
  req.on('error', () => resolve(0))
  req.end()
})
;(async () => {
  const lat = []; let bad = 0
  while (!stop) {
    const t0 = performance.now()
    const status = await once()
    lat.push(performance.now() - t0)
    if (status !== 200) bad++
    if (lat.length % 64 === 0) await new Promise((r) => setImmediate(r))
  }
  agent.destroy()
  parentPort.postMessage({ lat, bad })
})()
`

interface Poll { lat: number[], bad: number }

function startPoller (port: number): { stop: () => Promise<Poll> } {
  const w = new Worker(pollerSource, { eval: true, workerData: { port } })
  const result = new Promise<Poll>((resolve, reject) => { w.once('message', resolve); w.once('error', reject) })
  return {
    stop: async () => { w.postMessage('stop'); const r = await result; await w.terminate(); return r }
  }
}

// ---------------------------------------------------------------------------------------------

if (!isMainThread) {
  const { port, keys, clients, seconds } = workerData as { port: number, keys: string[], clients: number, seconds: number }
  parentPort?.postMessage(await runClients(port, keys, clients, seconds))
} else {
  const seconds = Number(process.argv[2] ?? 60)
  const clients = Number(process.argv[3] ?? 32)
  const baselineSeconds = Number(process.argv[4] ?? 5)
  const { buildApp } = await import('../src/app.js')
  const { loadConfig } = await import('../src/config.js')

  // 16 keys with the default limits, 4 named tenants with tight ones
  const keys = Array.from({ length: 16 }, (_, i) => `load-run-key-${i}`)
  const tight = [
    { name: 'tight-sessions', limits: { maxSessions: 2, rateLimit: 1200 } },
    { name: 'tight-memory', limits: { maxResidentBytes: '48MiB' } },
    { name: 'tight-modules', limits: { maxSessionModules: 2, maxModuleTensors: 40, maxModuleBytes: '64KiB' } },
    { name: 'tight-rate', limits: { rateLimit: 300 } }
  ]
  const dir = mkdtempSync(join(tmpdir(), 'materia-load-'))
  const tenantsFile = join(dir, 'tenants.json')
  const tightKeys = tight.map((t) => `load-run-${t.name}`)
  writeFileSync(tenantsFile, JSON.stringify({
    tenants: tight.map((t, i) => ({ name: t.name, keys: [createHash('sha256').update(tightKeys[i] ?? '').digest('hex')], limits: t.limits }))
  }))
  const budget = 2 * 2 ** 30
  const env = {
    LOG_LEVEL: 'silent',
    MATERIA_API_KEYS: keys.join(','),
    MATERIA_TENANTS_FILE: tenantsFile,
    MATERIA_MEMORY_BUDGET: '2GiB',
    MATERIA_TENANT_MAX_RESIDENT_BYTES: '256MiB',
    MATERIA_RATE_LIMIT: '6000'
  }
  const config = loadConfig(env)
  const app = await buildApp({ config })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as { port: number }).port
  const rss0 = process.memoryUsage().rss
  // clients take the keys in this order: every fourth one of the first 16 is a tight tenant's
  const allKeys = [...keys]
  tightKeys.forEach((k, i) => { allKeys.splice(i * 5 + 4, 0, k) })

  // warm-up: the routes once (JIT, pool start-up), then the baseline
  await runClients(port, allKeys, 4, 1)
  await sleep(500)
  const b = startPoller(port)
  await sleep(baselineSeconds * 1000)
  const baseline = await b.stop()

  const load0 = loadavg()
  let peakRss = process.memoryUsage().rss
  let peakBudget = 0
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss)
    peakBudget = Math.max(peakBudget, app.materializations.budget.used)
  }, 100)
  const poller = startPoller(port)
  const t0 = performance.now()
  const loader = new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(import.meta.url)}) })`,
    { eval: true, workerData: { port, keys: allKeys, clients, seconds } })
  const stats = await new Promise<ClientStats>((resolve, reject) => { loader.once('message', resolve); loader.once('error', reject) })
  const wall = (performance.now() - t0) / 1000
  await loader.terminate()
  const underLoad = await poller.stop()
  clearInterval(sampler)
  const load1 = loadavg()

  // after the run
  let sessionsLeft = 0
  for (const t of app.tenants.tenants) sessionsLeft += await app.store.countSessions(t.id)
  const reg = app.materializations
  const right = { used: reg.budget.used, cache: reg.cache.bytes, count: reg.count, rss: process.memoryUsage().rss }
  const waitStart = performance.now()
  while ((reg.budget.used > 0 || reg.cache.bytes > 0) && performance.now() - waitStart < 40_000) await sleep(250) // the arena cache expires idle arenas after 30 s
  const later = { used: reg.budget.used, cache: reg.cache.bytes, count: reg.count, rss: process.memoryUsage().rss, waited: (performance.now() - waitStart) / 1000 }
  setFlagsFromString('--expose-gc')
  ;(runInNewContext('gc') as () => void)()
  await sleep(1000)
  const rssGc = process.memoryUsage().rss
  await app.close()
  rmSync(dir, { recursive: true, force: true })

  const mib = (n: number): string => `${(n / MiB).toFixed(0)} MiB`
  const ms = (xs: number[], p: number): string => percentile(xs, p).toFixed(2)
  const sorted = (o: Record<string, number>): Array<[string, number]> => Object.entries(o).sort((x, y) => x[0].localeCompare(y[0]))
  console.log(`load run: ${clients} clients for ${seconds} s (wall ${wall.toFixed(1)} s), ${allKeys.length} tenants, budget 2 GiB, tenant quota 256 MiB; node ${process.version}, ` +
    `${config.workers} fill workers; load average before ${load0.map((l) => l.toFixed(1)).join(' ')}, after ${load1.map((l) => l.toFixed(1)).join(' ')}`)
  console.log(`requests: ${stats.requests} (${(stats.requests / wall).toFixed(0)}/s), client iterations ${stats.iterations}; safetensors read fully ${stats.fullDownloads}, slowly ${stats.slowDownloads}, aborted ${stats.abortedDownloads}; ${(stats.bytesRead / 2 ** 30).toFixed(2)} GiB read`)
  console.log('by status: ' + sorted(stats.byStatus).map(([k, v]) => `${k} ${v}`).join(', '))
  console.log('errors by code:')
  for (const [k, v] of sorted(stats.byCode)) console.log(`  ${k.padEnd(52)} ${v}`)
  const fivexx = sorted(stats.byCode).filter(([k]) => k.startsWith('5'))
  console.log(`5xx by code: ${fivexx.length === 0 ? 'none' : fivexx.map(([k, v]) => `${k} ${v}`).join(', ')}`)
  if (Object.keys(stats.networkErrors).length > 0) console.log('network errors: ' + sorted(stats.networkErrors).map(([k, v]) => `${k} ${v}`).join(', '))
  console.log(`RSS: at start ${mib(rss0)}, peak ${mib(peakRss)} (budget ${mib(budget)}; peak reserved in the budget ${mib(peakBudget)})`)
  console.log('GET /healthz (sequential, keep-alive, own thread)   requests   non-200    p50 ms    p99 ms    max ms')
  for (const [label, p] of [['no load (baseline)', baseline], ['under load', underLoad]] as const) {
    console.log(`${label.padEnd(50)} ${String(p.lat.length).padStart(9)} ${String(p.bad).padStart(9)} ${ms(p.lat, 50).padStart(9)} ${ms(p.lat, 99).padStart(9)} ${Math.max(...p.lat).toFixed(2).padStart(9)}`)
  }
  console.log(`after the run: sessions left ${sessionsLeft} (clients could not delete ${stats.sessionsLeft}); materializations ${right.count}; ` +
    `budget used ${mib(right.used)}, arena cache ${mib(right.cache)}; RSS ${mib(right.rss)}`)
  console.log(`after ${later.waited.toFixed(1)} s more (idle arenas leave the cache after 30 s): budget used ${later.used} bytes, cache ${later.cache} bytes, materializations ${later.count}, RSS ${mib(later.rss)}, after a full gc ${mib(rssGc)}`)
  const internal = stats.byCode['500 MATERIA_ERR_INTERNAL'] ?? 0
  const any500 = Object.entries(stats.byStatus).filter(([k]) => k === '500').reduce((s, [, v]) => s + v, 0)
  if (any500 > 0 || internal > 0) {
    console.log(`\n!!! ${any500} answers were 500 !!!`)
    for (const line of stats.internal) console.log('  ' + line)
    process.exit(1)
  }
}
