// The hardening reproductions, measured against any tree of this repository (before and after the
// fixes), for the before/after table in bench/hardening.md. The tree's root is the first argument:
// the app is imported from `${root}/src/app.js` and `${root}/src/config.js`, and configured only with
// variables both trees read (variables a tree does not know are ignored by it).
//
// Each case runs in its own child process (`node --expose-gc --import tsx`, cwd = this repository,
// so the heap and RSS figures are its own and a case that crashes or hangs its process is reported
// with its exit code or signal, its last stderr line, or '>N s'), and prints one line.
//   auth        POST /v%31/sessions with MATERIA_API_KEYS set and no key: the status
//   trunc-cpu   trunc_normal_(a=-0.4, b=0.4) override on Linear(4096, 4096).weight, device cpu:
//               event-loop max delay of the POST; a DELETE 50 ms into a wait:false fill: its
//               latency, the fill's end, the budget after
//   trunc-worker  the same on Linear(16384, 16384) (1 GiB), device worker
//   heap        TransformerEncoder(TransformerEncoderLayer(8, 2), 9000) POSTed 20 times: statuses, heap after gc
//   stalled-get budget 512MiB, 6 × 64 MiB materializations, a GET safetensors of each read by nobody,
//               all DELETEd: resident bytes (/metrics) and RSS at once and after 35 s
//   stalled-put a safetensors header + 1 MiB of a 64 MiB module, then silence: time to an answer
//               (capped at 60 s), bytes reserved meanwhile (MATERIA_RECEIVE_TIMEOUT=2s)
//   list        20 000 sessions, 5 000 of them with a tiny materialization: event-loop max delay and
//               time of GET /v1/sessions, and of a walk of ?limit=1000 pages
//   header      a ~100 MB safetensors header of 1.66M entries into Linear(2, 2): time, peak RSS, error body size
//   sigterm     src/server.ts as a process; a 16 MB random-bytes upload is rejected, then SIGTERM:
//               exit code, time, whether 'shutdown complete' was logged (within 15 s)
// Run: npx tsx bench/hardening-repro.ts <tree root> [case,case,…]   (all cases: about 6–9 min)
import { spawn } from 'node:child_process'
import { Agent, request } from 'node:http'
import { connect, type Socket } from 'node:net'
import { randomBytes } from 'node:crypto'
import { loadavg } from 'node:os'
import { resolve as resolvePath } from 'node:path'
import { fileURLToPath } from 'node:url'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'

const MiB = 2 ** 20
const here = fileURLToPath(import.meta.url)
const repo = resolvePath(here, '../..')
const root = resolvePath(process.argv[2] ?? repo)
const caseArg = process.argv[3]
const isChild = process.argv[4] === '--child'

const caseLimits: Record<string, number> = {
  auth: 30, 'trunc-cpu': 120, 'trunc-worker': 300, heap: 120, 'stalled-get': 110, 'stalled-put': 90, list: 200, header: 120, sigterm: 60
}

// ---------------------------------------------------------------------------------------------
// helpers

interface Answer { status: number, text: string, ms: number }

async function call (port: number, method: string, path: string, body?: unknown, headers: Record<string, string> = {}, agent?: Agent): Promise<Answer> {
  const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body)
  const h: Record<string, string | number> = { ...headers }
  if (text !== undefined) { h['content-type'] = 'application/json'; h['content-length'] = Buffer.byteLength(text) }
  const t0 = performance.now()
  return await new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: h, agent }, (res) => {
      let out = ''
      res.setEncoding('utf8').on('data', (c: string) => { out += c }).on('end', () => { resolve({ status: res.statusCode ?? 0, text: out, ms: performance.now() - t0 }) })
    })
    req.on('error', reject)
    req.end(text)
  })
}

const idOf = (a: Answer): string => (JSON.parse(a.text) as { id: string }).id
const mib = (n: number): string => `${(n / MiB).toFixed(0)} MiB`

async function start (env: Record<string, string>): Promise<{ app: FastifyInstance, port: number }> {
  const { buildApp } = await import(`${root}/src/app.js`) as { buildApp: (o: { config: unknown }) => Promise<FastifyInstance> }
  const { loadConfig } = await import(`${root}/src/config.js`) as { loadConfig: (e: Record<string, string>) => unknown }
  const app = await buildApp({ config: loadConfig({ LOG_LEVEL: 'silent', ...env }) })
  await app.listen({ host: '127.0.0.1', port: 0 })
  return { app, port: (app.server.address() as { port: number }).port }
}

interface Registry { budget: { used: number }, count: number }
const registry = (app: FastifyInstance): Registry => (app as unknown as { materializations: Registry }).materializations

async function residentMetric (port: number): Promise<string> {
  const m = await call(port, 'GET', '/metrics')
  return /^materia_resident_bytes (\d+)/m.exec(m.text)?.[1] ?? '?'
}

/** Runs `fn` with an event-loop delay histogram (1 ms resolution); the max delay in ms. */
async function withDelay<T> (fn: () => Promise<T>): Promise<[T, number]> {
  const h = monitorEventLoopDelay({ resolution: 1 })
  h.enable()
  // the histogram records a delay between two of its ticks: let it tick before the loop may block
  await sleep(20)
  try {
    const r = await fn()
    h.disable()
    return [r, h.max / 1e6]
  } finally { h.disable() }
}

/** A partial figure, reported by the parent if the case is stopped before its result. */
const progress = (msg: string): void => { process.stdout.write(`PROGRESS ${msg}\n`) }

const gc = (): void => { (globalThis as { gc?: () => void }).gc?.() }

function safetensorsHeader (entries: Record<string, unknown>): Buffer {
  const json = Buffer.from(JSON.stringify(entries))
  const len = Buffer.alloc(8); len.writeBigUInt64LE(BigInt(json.length))
  return Buffer.concat([len, json])
}

/** A raw HTTP/1.1 request on its own socket; resolves with the status line (or undefined) once an answer starts, or `timeoutMs`. */
function rawUpload (port: number, path: string, head: Buffer, declared: number, timeoutMs: number): { socket: Socket, answer: Promise<{ status?: number, ms: number, body: string }> } {
  const socket = connect(port, '127.0.0.1')
  const t0 = performance.now()
  let got = ''
  const answer = new Promise<{ status?: number, ms: number, body: string }>((resolve) => {
    const timer = setTimeout(() => { resolve({ ms: performance.now() - t0, body: '' }) }, timeoutMs)
    const done = (): void => {
      clearTimeout(timer)
      const status = Number(/^HTTP\/1\.1 (\d+)/.exec(got)?.[1])
      resolve({ status: Number.isNaN(status) ? undefined : status, ms: performance.now() - t0, body: got.split('\r\n\r\n').slice(1).join('') })
    }
    socket.on('data', (c: Buffer) => { got += c.toString('latin1'); if (/\r\n\r\n/.test(got)) setTimeout(done, 50) })
    socket.on('close', done)
    socket.on('error', () => {})
  })
  socket.write(`POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/octet-stream\r\ncontent-length: ${declared}\r\n\r\n`)
  socket.write(head)
  return { socket, answer }
}

// ---------------------------------------------------------------------------------------------
// the cases; each returns its line

const cases: Record<string, () => Promise<string>> = {
  async auth () {
    const { app, port } = await start({ MATERIA_API_KEYS: 'secret-key' })
    const a = await call(port, 'POST', '/v%31/sessions', {})
    const b = await call(port, 'POST', '/v1/sessions', {})
    await app.close()
    return `POST /v%31/sessions without a key → ${a.status}${a.status >= 400 ? ` ${(JSON.parse(a.text) as { code?: string }).code ?? ''}` : ''}; POST /v1/sessions without a key → ${b.status}`
  },

  async 'trunc-cpu' () {
    const { app, port } = await start({ MATERIA_MEMORY_BUDGET: '8GiB', MATERIA_ARENA_CACHE: '0' })
    const sid = idOf(await call(port, 'POST', '/v1/sessions', {}))
    const mid = idOf(await call(port, 'POST', `/v1/sessions/${sid}/modules`, { class: 'Linear', args: [4096, 4096] }))
    const init = { default: 'default', overrides: { weight: { fn: 'trunc_normal_', a: -0.4, b: 0.4 } } }
    const path = `/v1/sessions/${sid}/modules/${mid}/materializations`
    const [r, maxDelay] = await withDelay(async () => await call(port, 'POST', path, { init, seed: 0, device: 'cpu' }))
    let line = `POST (wait) → ${r.status} in ${r.ms.toFixed(0)} ms, event-loop max delay ${maxDelay.toFixed(0)} ms`
    if (r.status >= 400) line += ` (${r.text.slice(0, 200)})`
    if (r.status === 201) await call(port, 'DELETE', `/v1/sessions/${sid}/materializations/${idOf(r)}`)
    await sleep(300)
    // DELETE 50 ms into a wait:false fill
    const p = await call(port, 'POST', path, { init, seed: 0, device: 'cpu', wait: false })
    if (p.status === 202 || p.status === 201) {
      const matId = idOf(p)
      const t0 = performance.now()
      await sleep(50)
      const d = await call(port, 'DELETE', `/v1/sessions/${sid}/materializations/${matId}`)
      const g = await call(port, 'GET', `/v1/sessions/${sid}/materializations/${matId}`)
      await sleep(200)
      line += `; DELETE 50 ms into a wait:false fill (POST answered ${p.status} in ${p.ms.toFixed(0)} ms) → ${d.status}, answered ${(performance.now() - t0 - 50).toFixed(0)} ms after it was sent, GET after → ${g.status}, budget used 200 ms later ${mib(registry(app).budget.used)}`
    } else line += `; wait:false POST → ${p.status}`
    await app.close()
    return line
  },

  async 'trunc-worker' () {
    const { app, port } = await start({ MATERIA_MEMORY_BUDGET: '8GiB', MATERIA_ARENA_CACHE: '0' })
    const sid = idOf(await call(port, 'POST', '/v1/sessions', {}))
    const mid = idOf(await call(port, 'POST', `/v1/sessions/${sid}/modules`, { class: 'Linear', args: [16384, 16384], kwargs: { bias: false } }))
    const init = { default: 'default', overrides: { weight: { fn: 'trunc_normal_', a: -0.4, b: 0.4 } } }
    // wait: false and polled, so a fill slower than the cap still reports how far it got
    const [line, maxDelay] = await withDelay(async () => {
      const r = await call(port, 'POST', `/v1/sessions/${sid}/modules/${mid}/materializations`, { init, seed: 0, device: 'worker', wait: false })
      if (r.status !== 202 && r.status !== 201) return `POST → ${r.status} ${r.text.slice(0, 200)}`
      const t0 = performance.now()
      const path = `/v1/sessions/${sid}/materializations/${idOf(r)}`
      let m: { status: string, progress?: { bytesDone: number, bytesTotal: number } } = { status: 'pending' }
      let maxRss = 0
      while (m.status === 'pending' && performance.now() - t0 < 280_000) {
        await sleep(1000)
        m = JSON.parse((await call(port, 'GET', path)).text) as typeof m
        maxRss = Math.max(maxRss, process.memoryUsage().rss)
        if (m.progress !== undefined) progress(`${((performance.now() - t0) / 1000).toFixed(0)} s: ${(m.progress.bytesDone / MiB).toFixed(0)} of ${(m.progress.bytesTotal / MiB).toFixed(0)} MiB filled, RSS ${mib(process.memoryUsage().rss)}`)
      }
      const s = (performance.now() - t0) / 1000
      const done = m.progress === undefined ? '' : `, ${(m.progress.bytesDone / MiB).toFixed(0)} of ${(m.progress.bytesTotal / MiB).toFixed(0)} MiB filled`
      const verdict = m.status === 'pending' ? `still pending after ${s.toFixed(0)} s (stopped)` : `${m.status} after ${s.toFixed(1)} s`
      const del = await call(port, 'DELETE', path)
      return `Linear(16384, 16384) 1 GiB, device worker, wait:false: ${verdict}${done}, peak RSS ${mib(maxRss)}; DELETE → ${del.status} in ${del.ms.toFixed(0)} ms`
    })
    const out = `${line}, event-loop max delay ${maxDelay.toFixed(0)} ms`
    await app.close()
    return out
  },

  async heap () {
    const { app, port } = await start({})
    const sid = idOf(await call(port, 'POST', '/v1/sessions', {}))
    const spec = { class: 'TransformerEncoder', args: [{ class: 'TransformerEncoderLayer', args: [8, 2] }, 9000] }
    gc(); await sleep(100); gc()
    const heap0 = process.memoryUsage().heapUsed
    const statuses: number[] = []; const times: number[] = []
    for (let i = 0; i < 20; i++) {
      const r = await call(port, 'POST', `/v1/sessions/${sid}/modules`, spec)
      statuses.push(r.status); times.push(r.ms)
    }
    gc(); await sleep(100); gc()
    const heap1 = process.memoryUsage().heapUsed
    const counts = new Map<number, number>()
    for (const s of statuses) counts.set(s, (counts.get(s) ?? 0) + 1)
    await app.close()
    return `20 POSTs → ${[...counts].map(([s, n]) => `${n}× ${s}`).join(', ')}; median ${[...times].sort((a, b) => a - b)[10]?.toFixed(0) ?? '?'} ms each; heap after gc ${mib(heap0)} → ${mib(heap1)} (+${mib(heap1 - heap0)})`
  },

  async 'stalled-get' () {
    const { app, port } = await start({ MATERIA_MEMORY_BUDGET: '512MiB', MATERIA_ARENA_CACHE: '0' })
    const sid = idOf(await call(port, 'POST', '/v1/sessions', {}))
    const mid = idOf(await call(port, 'POST', `/v1/sessions/${sid}/modules`, { class: 'Linear', args: [4096, 4096], kwargs: { bias: false } }))
    const mats: string[] = []
    for (let i = 0; i < 6; i++) {
      const r = await call(port, 'POST', `/v1/sessions/${sid}/modules/${mid}/materializations`, { init: 'ones', device: 'worker' })
      if (r.status !== 201) return `materialization ${i} → ${r.status} ${r.text.slice(0, 200)}`
      mats.push(idOf(r))
    }
    const rss0 = process.memoryUsage().rss
    // each GET on its own socket, which is paused: nothing is ever read
    const sockets = mats.map((m) => {
      const s = connect(port, '127.0.0.1')
      s.write(`GET /v1/sessions/${sid}/materializations/${m}/safetensors HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n`)
      s.pause(); s.on('error', () => {})
      return s
    })
    await sleep(1000)
    for (const m of mats) await call(port, 'DELETE', `/v1/sessions/${sid}/materializations/${m}`)
    await sleep(500)
    const at0 = `resident ${await residentMetric(port)} B (budget used ${mib(registry(app).budget.used)}, materializations ${registry(app).count}), RSS ${mib(process.memoryUsage().rss)}`
    const later: string[] = []
    for (const t of [35, 65]) {
      await sleep(t === 35 ? 35_000 : 30_000)
      gc(); await sleep(200)
      later.push(`${t} s later: resident ${await residentMetric(port)} B (budget used ${mib(registry(app).budget.used)}), RSS ${mib(process.memoryUsage().rss)}`)
    }
    const again = await call(port, 'POST', `/v1/sessions/${sid}/modules/${mid}/materializations`, { init: 'zeros' })
    for (const s of sockets) s.destroy()
    await app.close()
    return `6 × 64 MiB, RSS with them ${mib(rss0)}; right after the DELETEs: ${at0}; ${later.join('; ')}; a new 64 MiB materialization then → ${again.status}`
  },

  async 'stalled-put' () {
    const { app, port } = await start({ MATERIA_MEMORY_BUDGET: '8GiB', MATERIA_ARENA_CACHE: '0', MATERIA_RECEIVE_TIMEOUT: '2s' })
    const sid = idOf(await call(port, 'POST', '/v1/sessions', {}))
    const mid = idOf(await call(port, 'POST', `/v1/sessions/${sid}/modules`, { class: 'Linear', args: [4096, 4096], kwargs: { bias: false } }))
    const header = safetensorsHeader({ weight: { dtype: 'F32', shape: [4096, 4096], data_offsets: [0, 64 * MiB] } })
    const { socket, answer } = rawUpload(port, `/v1/sessions/${sid}/modules/${mid}/materializations`, Buffer.concat([header, Buffer.alloc(MiB, 1)]), header.length + 64 * MiB, 60_000)
    const reserved: string[] = []
    const t0 = performance.now()
    const sampler = (async () => {
      for (const t of [1000, 3000, 10_000]) {
        await sleep(Math.max(0, t - (performance.now() - t0)))
        reserved.push(`${t / 1000} s: ${mib(registry(app).budget.used)}`)
      }
    })()
    const a = await answer
    await Promise.race([sampler, sleep(100)])
    const after = registry(app).budget.used
    socket.destroy()
    await sleep(200)
    const line = a.status === undefined
      ? `no answer within 60 s (>60 s); reserved ${reserved.join(', ')}; at 60 s ${mib(after)}`
      : `answered ${a.status} after ${(a.ms / 1000).toFixed(1)} s (${a.body.slice(0, 160).replace(/\s+/g, ' ')}); reserved ${reserved.join(', ')}; after the answer ${mib(after)}`
    await app.close()
    return line
  },

  async list () {
    const { app, port } = await start({ MATERIA_RATE_LIMIT: '0', MATERIA_TENANT_MAX_SESSIONS: '1000000', MATERIA_MAX_EVENT_LOOP_DELAY: '0' })
    const agent = new Agent({ keepAlive: true, maxSockets: 8 })
    const t0 = performance.now()
    let next = 0
    const worker = async (): Promise<void> => {
      for (let i = next++; i < 20_000; i = next++) {
        const sid = idOf(await call(port, 'POST', '/v1/sessions', {}, {}, agent))
        if (i % 2500 === 2499) progress(`setup: ${i + 1} sessions (${Math.min(i + 1, 5000)} materializations) after ${((performance.now() - t0) / 1000).toFixed(0)} s`)
        if (i < 5000) {
          const mid = idOf(await call(port, 'POST', `/v1/sessions/${sid}/modules`, { class: 'Linear', args: [2, 2] }, {}, agent))
          const m = await call(port, 'POST', `/v1/sessions/${sid}/modules/${mid}/materializations`, { init: 'zeros' }, {}, agent)
          if (m.status !== 201) throw new Error(`materialization ${m.status} ${m.text}`)
        }
      }
    }
    await Promise.all(Array.from({ length: 8 }, worker))
    const setup = (performance.now() - t0) / 1000
    progress(`setup done in ${setup.toFixed(0)} s; GET /v1/sessions sent`)
    await sleep(500)
    const [one, d1] = await withDelay(async () => await call(port, 'GET', '/v1/sessions', undefined, {}, agent))
    const firstCount = (JSON.parse(one.text) as { sessions: unknown[] }).sessions.length
    let line = `setup ${setup.toFixed(0)} s (${registry(app).count} materializations); GET /v1/sessions → ${one.status}, ${firstCount} sessions, ${(one.text.length / MiB).toFixed(1)} MiB in ${one.ms.toFixed(0)} ms, event-loop max delay ${d1.toFixed(0)} ms`
    const [page, d2] = await withDelay(async () => await call(port, 'GET', '/v1/sessions?limit=1000', undefined, {}, agent))
    line += `; ?limit=1000 → ${page.status} in ${page.ms.toFixed(0)} ms, max delay ${d2.toFixed(0)} ms`
    if (page.status === 200 && 'nextCursor' in (JSON.parse(page.text) as object)) {
      const [walk, d3] = await withDelay(async () => {
        let cursor: string | null = null; let pages = 0; let items = 0; const w0 = performance.now()
        do {
          const r = await call(port, 'GET', `/v1/sessions?limit=1000${cursor === null ? '' : `&cursor=${cursor}`}`, undefined, {}, agent)
          const body = JSON.parse(r.text) as { sessions: unknown[], nextCursor: string | null }
          pages++; items += body.sessions.length; cursor = body.nextCursor
        } while (cursor !== null)
        return { pages, items, ms: performance.now() - w0 }
      })
      line += `; walk of all pages: ${walk.pages} pages, ${walk.items} sessions in ${walk.ms.toFixed(0)} ms, max delay ${d3.toFixed(0)} ms`
    } else line += ' (no paging: the whole list)'
    agent.destroy()
    await app.close()
    return line
  },

  async header () {
    const { app, port } = await start({ MATERIA_MEMORY_BUDGET: '8GiB' })
    const sid = idOf(await call(port, 'POST', '/v1/sessions', {}))
    const mid = idOf(await call(port, 'POST', `/v1/sessions/${sid}/modules`, { class: 'Linear', args: [2, 2] }))
    // 1.66M zero-size entries of ~59 bytes, all at offset 0 (valid: each ends where the next begins): ~98 MB of header
    const n = 1_660_000
    const parts: string[] = []
    for (let i = 0; i < n; i++) parts.push(`"t${String(i).padStart(7, '0')}":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}`)
    const json = Buffer.from(`{${parts.join(',')}}`)
    parts.length = 0
    const entries = n
    const len = Buffer.alloc(8); len.writeBigUInt64LE(BigInt(json.length))
    const body = Buffer.concat([len, json])
    // building the header held this process's event loop for seconds: let the load shedder's measure settle
    gc(); await sleep(3000)
    const rss0 = process.memoryUsage().rss
    let peak = rss0
    const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss) }, 50)
    const t0 = performance.now()
    const h = monitorEventLoopDelay({ resolution: 1 }); h.enable()
    const r = await new Promise<{ status: number, size: number, text: string }>((resolve) => {
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: `/v1/sessions/${sid}/modules/${mid}/materializations`, headers: { 'content-type': 'application/octet-stream', 'content-length': body.length } }, (res) => {
        let size = 0; let text = ''
        res.on('data', (c: Buffer) => { size += c.length; if (text.length < 300) text += c.toString('utf8') }).on('end', () => { resolve({ status: res.statusCode ?? 0, size, text }) })
      })
      req.on('error', (e) => { resolve({ status: 0, size: 0, text: String(e) }) })
      req.end(body)
    })
    const ms = performance.now() - t0
    h.disable(); clearInterval(sampler)
    await app.close()
    return `header ${(json.length / 1e6).toFixed(1)} MB, ${entries} entries: → ${r.status} in ${(ms / 1000).toFixed(2)} s, error body ${r.size} bytes (${r.text.slice(0, 120).replace(/\s+/g, ' ')}…), peak RSS ${mib(peak)} (+${mib(peak - rss0)} over the start), event-loop max delay ${(h.max / 1e6).toFixed(0)} ms`
  },

  async sigterm () {
    const port = 20000 + Math.floor(Math.random() * 20000)
    const child = spawn(process.execPath, ['--import', 'tsx', `${root}/src/server.ts`], {
      cwd: root, env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info', MATERIA_MEMORY_BUDGET: '2GiB' }, stdio: ['ignore', 'pipe', 'pipe']
    })
    let out = ''
    child.stdout.on('data', (c: Buffer) => { out += c.toString() })
    child.stderr.on('data', (c: Buffer) => { out += c.toString() })
    const exited = new Promise<{ code: number | null, signal: string | null }>((resolve) => { child.once('exit', (code, signal) => { resolve({ code, signal }) }) })
    for (let i = 0; i < 100 && !/listening/i.test(out); i++) await sleep(100)
    const sid = idOf(await call(port, 'POST', '/v1/sessions', {}))
    const mid = idOf(await call(port, 'POST', `/v1/sessions/${sid}/modules`, { class: 'Linear', args: [256, 256] }))
    const bytes = randomBytes(16 * MiB)
    const up = await new Promise<string>((resolve) => {
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: `/v1/sessions/${sid}/modules/${mid}/materializations`, headers: { 'content-type': 'application/octet-stream', 'content-length': bytes.length } }, (res) => {
        let t = ''; res.on('data', (c: Buffer) => { t += c.toString() }).on('end', () => { resolve(`${res.statusCode ?? 0} ${(JSON.parse(t) as { code?: string }).code ?? ''}`) })
      })
      req.on('error', (e: NodeJS.ErrnoException) => { resolve(`client error ${e.code ?? e.message}`) })
      req.end(bytes)
    })
    await sleep(200)
    const t0 = performance.now()
    const mark = out.length
    child.kill('SIGTERM')
    const r = await Promise.race([exited, sleep(15_000).then(() => undefined)])
    const ms = performance.now() - t0
    if (r === undefined) child.kill('SIGKILL')
    const logged = out.slice(mark).split('\n').flatMap((l) => { try { return [String((JSON.parse(l) as { msg?: string }).msg)] } catch { return l.trim() === '' ? [] : [l.slice(0, 80)] } })
    const complete = /shutdown complete/.test(out)
    const timedOut = /shutdown timed out/.test(out)
    return `upload of 16 MB random bytes → ${up}; SIGTERM → ${r === undefined ? 'still running after 15 s (killed)' : `exit ${r.code ?? r.signal ?? '?'} after ${(ms / 1000).toFixed(2)} s`}; 'shutdown complete' ${complete ? 'logged' : 'not logged'}${timedOut ? ", 'shutdown timed out' logged" : ''}; logged after SIGTERM: ${logged.length === 0 ? 'nothing' : logged.map((m) => `"${m}"`).join(', ')}`
  }
}

// ---------------------------------------------------------------------------------------------

if (isChild) {
  const fn = cases[caseArg ?? '']
  if (fn === undefined) throw new Error(`unknown case ${caseArg ?? ''}`)
  const line = await fn()
  process.stdout.write(`RESULT ${line}\n`)
  process.exit(0)
} else {
  const names = caseArg === undefined ? Object.keys(cases) : caseArg.split(',')
  const head = (await import('node:child_process')).execFileSync('git', ['-C', root, 'log', '-1', '--format=%h'], { encoding: 'utf8' }).trim()
  console.log(`tree ${root} at ${head}; node ${process.version}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`)
  for (const name of names) {
    const limit = caseLimits[name] ?? 120
    const t0 = performance.now()
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', here, root, name, '--child'], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''; let err = ''
    child.stdout.on('data', (c: Buffer) => { out += c.toString() })
    child.stderr.on('data', (c: Buffer) => { err += c.toString(); if (err.length > 1e6) err = err.slice(-1e5) })
    const exit = await Promise.race([
      new Promise<{ code: number | null, signal: string | null }>((resolve) => { child.once('exit', (code, signal) => { resolve({ code, signal }) }) }),
      // unref'd: a case that ends early must not keep this process waiting for its cap
      sleep(limit * 1000, undefined, { ref: false }).then(() => undefined)
    ])
    const s = ((performance.now() - t0) / 1000).toFixed(1)
    const result = /^RESULT (.*)$/m.exec(out)?.[1]
    if (exit === undefined) {
      child.kill('SIGKILL')
      const last = [...out.matchAll(/^PROGRESS (.*)$/gm)].at(-1)?.[1]
      console.log(`${name}: >${limit} s, stopped (no result)${last !== undefined ? `; last progress: ${last}` : ''}`)
    } else if (result !== undefined) {
      console.log(`${name}: ${result} [${s} s]`)
    } else {
      const lines = err.trim().split('\n').filter((l) => l.trim() !== '')
      const at = Math.max(0, lines.findIndex((l) => /FATAL|fatal error|Error:|RangeError|Allocation failed/i.test(l)))
      const fatal = lines.slice(at, at + 4).join(' | ')
      console.log(`${name}: process ended with ${exit.signal !== null ? `signal ${exit.signal}` : `exit code ${exit.code ?? '?'}`} after ${s} s, no result; stderr: ${fatal.slice(0, 400)}`)
    }
    loadavg()
  }
  console.log(`load average at the end ${loadavg().map((l) => l.toFixed(1)).join(' ')}`)
}
