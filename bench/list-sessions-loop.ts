// @bench quick: 200 50 100
// Benchmark: how long GET /v1/sessions blocks the event loop with many sessions and
// materializations (memory store, in-process inject). Prints the monitorEventLoopDelay max and
// the request's duration; pages through with ?limit= when the service paginates.
//
// Run: npx tsx bench/list-sessions-loop.ts [sessions=20000] [materializations=5000] [limit=1000]
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'

const sessions = Number(process.argv[2] ?? 20000)
const mats = Number(process.argv[3] ?? 5000)
const limit = Number(process.argv[4] ?? 1000)
const app = await buildApp({ config: loadConfig({ LOG_LEVEL: 'silent', MATERIA_RATE_LIMIT: '0', MATERIA_MAX_EVENT_LOOP_DELAY: '0', MATERIA_TENANT_MAX_SESSIONS: '1000000', MATERIA_WORKERS: '1' }) })
await app.ready()
const ids: string[] = []
for (let i = 0; i < sessions; i++) ids.push((await app.store.createSession('public', 3600)).id)
for (let i = 0; i < mats; i++) {
  const sid = ids[i % ids.length] as string
  const mod = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules`, payload: { class: 'Linear', args: [1, 1] } })
  const r = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules/${mod.json().id as string}/materializations`, payload: { init: 'empty' } })
  if (r.statusCode !== 201) throw new Error(r.body)
}
const h = monitorEventLoopDelay({ resolution: 1 })
h.enable()
// and the longest gap between ticks of a 1 ms interval (what a request arriving meanwhile would wait)
let gap = 0; let tick = performance.now()
const timer = setInterval(() => { const now = performance.now(); gap = Math.max(gap, now - tick); tick = now }, 1)
const t0 = performance.now()
let url: string | undefined = `/v1/sessions?limit=${limit}`
let seen = 0; let pages = 0
while (url !== undefined) {
  const r = await app.inject({ method: 'GET', url })
  if (r.statusCode !== 200) throw new Error(r.body)
  const body = r.json() as { sessions: unknown[], nextCursor?: string | null }
  seen += body.sessions.length; pages++
  await new Promise((resolve) => setTimeout(resolve, 2)) // between requests the loop turns, as between HTTP requests
  url = typeof body.nextCursor === 'string' ? `/v1/sessions?limit=${limit}&cursor=${body.nextCursor}` : undefined
}
const ms = performance.now() - t0
await new Promise((resolve) => setTimeout(resolve, 20)) // the late timer records the delay
h.disable()
clearInterval(timer)
console.log(`${sessions} sessions, ${mats} materializations: ${seen} listed in ${pages} page(s), ${ms.toFixed(0)} ms; ` +
  `event-loop delay max ${(h.max / 1e6).toFixed(1)} ms, longest gap between 1 ms ticks ${gap.toFixed(1)} ms`)
await app.close()
