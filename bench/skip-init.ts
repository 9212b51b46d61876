// @bench quick: 2
// Benchmark: skip_init of a 1 GiB module (Linear(16384, 16384, bias=False), float32) as one HTTP
// call — POST /v1/sessions/{sid}/skip_init → 201, an empty materialization — median of 10 round
// trips over loopback, each materialization deleted before the next; next to PyTorch's in-process
// torch.nn.utils.skip_init of the same module (bench/torch-skip-init.py), measured in the same run.
// Run: npx tsx bench/skip-init.ts [iterations=10]   (PYTHON=/path/to/python; default python3)
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { Agent } from 'node:http'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { buildModule } from '../src/nn/index.js'
import { castTensors, constantFills, planArena } from '../src/materialize/plan.js'
import type { MaterializationRegistry } from '../src/materialize/registry.js'
import { BENCH_ENV, call, median } from './loopback.js'
import { report } from './report.js'

const iterations = Number(process.argv[2] ?? 10)
const warmup = 2
const spec = { class: 'Linear', args: [16384, 16384], kwargs: { bias: false } }

async function measure (port: number, agent: Agent, sid: string, device: 'cpu' | 'worker'): Promise<{ ms: number[], nbytes: number }> {
  const body = device === 'cpu' ? spec : { ...spec, kwargs: { ...spec.kwargs, device } }
  const ms: number[] = []
  let nbytes = 0
  for (let i = 0; i < warmup + iterations; i++) {
    const t0 = process.hrtime.bigint()
    const r = await call(port, agent, 'POST', `/v1/sessions/${sid}/skip_init`, body)
    const elapsed = Number(process.hrtime.bigint() - t0) / 1e6
    if (r.status !== 201) throw new Error(`skip_init: ${r.status} ${r.text}`)
    const m = JSON.parse(r.text) as { id: string, nbytes: number, status: string }
    if (m.status !== 'ready') throw new Error(`skip_init answered status ${m.status}`)
    nbytes = m.nbytes
    if (i >= warmup) ms.push(elapsed)
    const d = await call(port, agent, 'DELETE', `/v1/sessions/${sid}/materializations/${m.id}`)
    if (d.status !== 204) throw new Error(`delete: ${d.status} ${d.text}`)
    // the registry frees arenas with a debounced gc 50 ms after a delete: let it run between rounds,
    // as Python's loop runs gc.collect() between its rounds
    await sleep(100)
  }
  return { ms, nbytes }
}

/** The same work as torch's in-process skip_init, without HTTP: build on meta, plan, allocate, (no) fill. */
async function measureInProcess (registry: MaterializationRegistry, device: 'cpu' | 'worker'): Promise<number[]> {
  const ms: number[] = []
  for (let i = 0; i < warmup + iterations; i++) {
    const t0 = process.hrtime.bigint()
    const plan = planArena(castTensors(buildModule(spec).tensors, undefined))
    const m = registry.start(`mat_bench${i}`, { sessionId: 'ses_bench', moduleId: 'mod_bench', device, init: 'empty', seed: null, rng: null, dtype: null }, plan, { constants: constantFills(plan, 'empty') })
    await m.done
    const elapsed = Number(process.hrtime.bigint() - t0) / 1e6
    if (m.status !== 'ready') throw new Error(`in-process materialization: ${m.status}`)
    if (i >= warmup) ms.push(elapsed)
    registry.delete('ses_bench', m.id)
    await sleep(100)
  }
  return ms
}

const app = await buildApp({ config: loadConfig({ LOG_LEVEL: 'silent', ...BENCH_ENV, MATERIA_MEMORY_BUDGET: '8GiB' }) })
await app.listen({ host: '127.0.0.1', port: 0 })
const port = (app.server.address() as { port: number }).port
const agent = new Agent({ keepAlive: true, maxSockets: 1 })
const session = JSON.parse((await call(port, agent, 'POST', '/v1/sessions', {})).text) as { id: string }
const cpu = await measure(port, agent, session.id, 'cpu')
const worker = await measure(port, agent, session.id, 'worker')
const inProcess = await measureInProcess(app.materializations, 'worker')
await app.close()
agent.destroy()

const ours = median(cpu.ms)
console.log(`node ${process.version}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`)
console.log(`materia POST skip_init, ${(cpu.nbytes / 2 ** 30).toFixed(2)} GiB empty, device cpu    (median of ${iterations}): ${ours.toFixed(2)} ms  (min ${Math.min(...cpu.ms).toFixed(2)}, max ${Math.max(...cpu.ms).toFixed(2)})`)
console.log(`materia POST skip_init, ${(worker.nbytes / 2 ** 30).toFixed(2)} GiB empty, device worker (median of ${iterations}): ${median(worker.ms).toFixed(2)} ms  (min ${Math.min(...worker.ms).toFixed(2)}, max ${Math.max(...worker.ms).toFixed(2)})`)

console.log(`materia in-process (build on meta + plan + allocate), device worker (median of ${iterations}): ${median(inProcess).toFixed(3)} ms  (min ${Math.min(...inProcess).toFixed(3)}, max ${Math.max(...inProcess).toFixed(3)})`)

const candidates = process.env.PYTHON !== undefined ? [process.env.PYTHON] : ['python3']
let baseline: { python: string, torch: string, nbytes: number, ms: number[] } | undefined
for (const python of candidates) {
  if (python.includes('/') && !existsSync(python)) continue
  try {
    const script = fileURLToPath(new URL('./torch-skip-init.py', import.meta.url))
    const out = JSON.parse(execFileSync(python, [script, String(iterations), String(warmup)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as { torch: string, nbytes: number, ms: number[] }
    baseline = { python, ...out }
    break
  } catch {}
}
const torchBaseline = baseline === undefined
  ? { name: 'PyTorch skip_init in-process', skipped: 'no python that imports torch' }
  : { name: `PyTorch ${baseline.torch} skip_init in-process`, value: median(baseline.ms) }
for (const [d, ms] of [['cpu', cpu.ms], ['worker', worker.ms]] as const) {
  report({ figure: `POST skip_init, 1 GiB empty, device ${d}, median`, value: median(ms), unit: 'ms', baseline: torchBaseline, better: 'lower' })
}
report({ figure: 'skip_init in-process (build on meta + plan + allocate), median', value: median(inProcess), unit: 'ms', baseline: torchBaseline, better: 'lower' })
if (baseline === undefined) {
  console.log(`PyTorch baseline skipped: ${candidates.map((p) => `'${p}'`).join(', ')} cannot import torch (set PYTHON=...)`)
} else {
  const t = median(baseline.ms)
  console.log(`PyTorch ${baseline.torch} in-process skip_init, ${(baseline.nbytes / 2 ** 30).toFixed(2)} GiB (median of ${iterations}, ${baseline.python}): ${t.toFixed(2)} ms  (min ${Math.min(...baseline.ms).toFixed(2)}, max ${Math.max(...baseline.ms).toFixed(2)})`)
  const w = median(worker.ms)
  console.log(`ratio materia/PyTorch (median): HTTP device cpu ${(ours / t).toFixed(2)}x (+${(ours - t).toFixed(2)} ms), HTTP device worker ${(w / t).toFixed(2)}x (+${(w - t).toFixed(2)} ms), in-process ${(median(inProcess) / t).toFixed(3)}x (below 1: materia is faster)`)
}
