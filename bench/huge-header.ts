// @bench quick: 1
// Benchmark: a checkpoint upload whose safetensors header is huge (default 100 MB, about 1.66 M
// zero-size entries) into a small module: the time to the answer, the longest event-loop gap, the
// peak RSS and the size of the error body.
//
// Run: npx tsx bench/huge-header.ts [headerMB=100] [layers=0]   (layers > 0: a Sequential of that many Linear(4, 4), 2 tensors each)
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'

const headerBytes = Number(process.argv[2] ?? 100) * 1e6
const layers = Number(process.argv[3] ?? 0)
const spec = layers > 0 ? { class: 'Sequential', args: Array.from({ length: layers }, () => ({ class: 'Linear', args: [4, 4] })) } : { class: 'Linear', args: [4, 4] }
const app = await buildApp({ config: loadConfig({ LOG_LEVEL: 'silent', MATERIA_RATE_LIMIT: '0', MATERIA_MAX_EVENT_LOOP_DELAY: '0', MATERIA_WORKERS: '1' }) })
await app.ready()
const sid = (await app.inject({ method: 'POST', url: '/v1/sessions', payload: {} })).json().id as string
const mid = (await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules`, payload: spec })).json().id as string
// entries of ~60 bytes; every one empty at offset 0, so the data section is valid (and empty)
const parts: string[] = []
let size = 2; let i = 0
for (;;) {
  const e = `"t${i}":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`
  if (size + e.length + 1 > headerBytes) break
  parts.push(e); size += e.length + 1; i++
}
const json = Buffer.from(`{${parts.join(',')}}`)
parts.length = 0
const file = Buffer.alloc(8 + json.length)
file.writeBigUInt64LE(BigInt(json.length), 0)
json.copy(file, 8)
const rss0 = process.memoryUsage().rss
let peak = rss0; let gap = 0; let tick = performance.now()
const timer = setInterval(() => {
  const now = performance.now(); gap = Math.max(gap, now - tick); tick = now
  peak = Math.max(peak, process.memoryUsage().rss)
}, 1)
const t0 = performance.now()
const r = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules/${mid}/materializations`, headers: { 'content-type': 'application/octet-stream' }, payload: file })
const ms = performance.now() - t0
await new Promise((resolve) => setTimeout(resolve, 5))
clearInterval(timer)
console.log(`module of ${layers > 0 ? 2 * layers : 2} tensors, header ${json.length} bytes, ${i} entries: ${r.statusCode} in ${ms.toFixed(0)} ms; longest loop gap ${gap.toFixed(0)} ms; ` +
  `peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB (${((peak - rss0) / 2 ** 20).toFixed(0)} MiB over the start); body ${r.body.length} bytes: ${r.body.slice(0, 300)}`)
await app.close()
