// @bench quick: 20
// Benchmark: POST a 32-layer TransformerEncoder (d_model 4096, nhead 32, dim_feedforward 11008,
// ~6.4B parameters) to a live materia over loopback; p50/p99 of the HTTP round trip, next to
// PyTorch's in-process meta build of the same module measured in the same run (when installed).
// Run: npx tsx bench/meta-build.ts [iterations]   (PYTHON=/path/to/python to pick the interpreter)
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Agent } from 'node:http'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { BENCH_ENV, call, percentile } from './loopback.js'
import { report } from './report.js'

const iterations = Number(process.argv[2] ?? 200)
const spec = {
  class: 'TransformerEncoder',
  args: [{ class: 'TransformerEncoderLayer', args: [4096, 32, 11008] }, 32],
  kwargs: { enable_nested_tensor: false }
}

const app = await buildApp({ config: loadConfig({ LOG_LEVEL: 'silent', ...BENCH_ENV }) })
await app.listen({ host: '127.0.0.1', port: 0 })
const port = (app.server.address() as { port: number }).port
const agent = new Agent({ keepAlive: true, maxSockets: 1 })
const session = JSON.parse((await call(port, agent, 'POST', '/v1/sessions', '{}')).text) as { id: string }
const body = JSON.stringify(spec)
const path = `/v1/sessions/${session.id}/modules`

let info = ''
for (let i = 0; i < 20; i++) await call(port, agent, 'POST', path, body) // warm-up
const ms: number[] = []
for (let i = 0; i < iterations; i++) {
  const t0 = process.hrtime.bigint()
  const r = await call(port, agent, 'POST', path, body)
  ms.push(Number(process.hrtime.bigint() - t0) / 1e6)
  if (r.status !== 201) throw new Error(`unexpected ${r.status}: ${r.text}`)
  if (i === 0) {
    const m = JSON.parse(r.text) as { totals: { parameters: number }, tensors: unknown[] }
    info = `${m.totals.parameters} parameters, ${m.tensors.length} tensors, ${(Buffer.byteLength(r.text) / 1024).toFixed(0)} KiB response`
  }
}
await app.close()
agent.destroy()

const p50 = percentile(ms, 50); const p99 = percentile(ms, 99)
console.log(`materia HTTP round trip (${iterations} requests; ${info}): p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms`)

const python = process.env.PYTHON ?? 'python3'
try {
  const script = fileURLToPath(new URL('./torch-meta-build.py', import.meta.url))
  const out = JSON.parse(execFileSync(python, [script, String(Math.min(iterations, 100))], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as { torch: string, params: number, ms: number[] }
  const t50 = percentile(out.ms.slice(5), 50); const t99 = percentile(out.ms.slice(5), 99)
  console.log(`PyTorch ${out.torch} in-process meta build (${out.params} parameters): p50 ${t50.toFixed(2)} ms, p99 ${t99.toFixed(2)} ms`)
  for (const [p, ours, theirs] of [[50, p50, t50], [99, p99, t99]] as const) {
    report({ figure: `POST a 32-layer TransformerEncoder (6.4 B parameters) as a module, p${p}`, value: ours, unit: 'ms', baseline: { name: `PyTorch ${out.torch} meta build in-process`, value: theirs }, better: 'lower' })
  }
  console.log(`ratio PyTorch/materia: p50 ${(t50 / p50).toFixed(2)}x, p99 ${(t99 / p99).toFixed(2)}x (above 1: materia's HTTP round trip is faster)`)
} catch {
  report({ figure: 'POST a 32-layer TransformerEncoder (6.4 B parameters) as a module, p50', value: p50, unit: 'ms', baseline: { name: 'PyTorch meta build in-process', skipped: `'${python}' cannot import torch` }, better: 'lower' })
  console.log(`PyTorch baseline skipped: '${python}' cannot import torch (set PYTHON=...)`)
}
