// @bench quick: 1 1
// Benchmark: init "default" (rng torch and rng philox) through the HTTP API, next to PyTorch building the same
// module on the CPU in the same run.
//
//   Linear(8192, 8192)                                              268 MB float32
//   TransformerEncoder(TransformerEncoderLayer(4096, 32, 11008), L)  L layers of 630 MB (default L = 2;
//                                                                   32 layers would be 20 GB)
//
// For each module: POST …/materializations {init: "default", seed: 0, device, rng} on `cpu` (main thread,
// in steps) and on `worker` (the piscina pool: the random stream cut into slices, one per thread,
// each discarding up to its start), plus `worker` forced to one task (to see what slicing pays),
// and PyTorch: `torch.manual_seed(0); torch.nn.X(...)` in a python subprocess with the AVX2
// kernels (ATEN_CPU_CAPABILITY=avx2, the contract). Each materia row runs twice: on fresh memory
// (first-touch page faults, as PyTorch has) and on a recycled arena (the default arena cache). The
// bytes are checked against PyTorch's (sha256), on both devices and both kinds of memory. GB/s is
// state_dict bytes over wall time; best of `reps`.
//
// Run: npx tsx bench/init-default.ts [layers=2] [reps=2]
//      (PYTHON=/path/to/python; default python3)
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildApp } from '../src/app.js'
import { BENCH_ENV } from './loopback.js'
import { loadConfig } from '../src/config.js'
import { buildModuleTree } from '../src/nn/index.js'
import { Arena } from '../src/materialize/arena.js'
import { planArena } from '../src/materialize/plan.js'
import { planInit } from '../src/materialize/init-plan.js'
import { runFill } from '../src/materialize/fill-runner.js'
import { FillControl } from '../src/materialize/fill-task.js'
import { quick } from './report.js'

const layers = Number(process.argv[2] ?? 2)
const reps = Number(process.argv[3] ?? 2)

const cases: Array<{ label: string, spec: object, py: string }> = [
  { label: 'Linear(8192, 8192)', spec: { class: 'Linear', args: [8192, 8192] }, py: 'torch.nn.Linear(8192, 8192)' },
  {
    label: `TransformerEncoder(TransformerEncoderLayer(4096, 32, 11008), ${layers})`,
    spec: { class: 'TransformerEncoder', args: [{ class: 'TransformerEncoderLayer', args: [4096, 32, 11008] }, layers] },
    py: `torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(4096, 32, 11008), ${layers}, enable_nested_tensor=False)`
  }
]

const PY = `
import hashlib, json, sys, time, gc, warnings
import torch
warnings.simplefilter("ignore")
expr, reps = sys.argv[1], int(sys.argv[2])
best, digest, nbytes = float("inf"), None, 0
for i in range(reps):
    torch.manual_seed(0)
    t0 = time.perf_counter()
    m = eval(expr)
    best = min(best, time.perf_counter() - t0)
    if i == 0:
        h = hashlib.sha256()
        for k, t in m.state_dict().items():
            h.update(t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()) if t.numel() else None
        digest = h.hexdigest()
        nbytes = sum(t.numel() * t.element_size() for t in m.state_dict().values())
    del m
    gc.collect()
print(json.dumps({"torch": torch.__version__, "capability": torch.backends.cpu.get_cpu_capability(),
                  "threads": torch.get_num_threads(), "seconds": best, "sha256": digest, "nbytes": nbytes}))
`

function python (): string | undefined {
  const candidates = process.env.PYTHON !== undefined ? [process.env.PYTHON] : ['python3']
  return candidates.find((p) => !p.includes('/') || existsSync(p))
}

const gbps = (bytes: number, s: number): string => `${(bytes / s / 1e9).toFixed(3)} GB/s`

// Two services: one that always allocates fresh memory (MATERIA_ARENA_CACHE=0), where the first write to
// each page costs a page fault as it does for PyTorch, and one with the default arena cache, where a
// materialization after a DELETE of the same size reuses the freed, already-mapped arena.
const services = [
  { memory: 'fresh memory', app: await buildApp({ config: loadConfig({ LOG_LEVEL: 'silent', ...BENCH_ENV, MATERIA_MEMORY_BUDGET: '12GiB', MATERIA_ARENA_CACHE: '0' }) }) },
  { memory: 'recycled arena', app: await buildApp({ config: loadConfig({ LOG_LEVEL: 'silent', ...BENCH_ENV, MATERIA_MEMORY_BUDGET: '12GiB' }) }) }
]
for (const s of services) await s.app.ready()
const app = services[0]?.app as (typeof services)[0]['app']
console.log(`node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), pool ${app.pool.threads.length} threads, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`)

// the quick (smoke) run: the Linear only
for (const c of quick ? cases.slice(0, 1) : cases) {
  console.log(`\n${c.label}`)
  const digests = new Map<string, string>()
  let nbytes = 0
  const rows: Array<[string, number]> = []
  const variants = [['cpu', 'torch'], ['worker', 'torch'], ['cpu', 'philox'], ['worker', 'philox']] as const
  for (const { memory, app } of services) {
    const sid = (await app.inject({ method: 'POST', url: '/v1/sessions', payload: {} })).json().id as string
    const mod = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules`, payload: c.spec })
    if (mod.statusCode !== 201) throw new Error(mod.body)
    const mid = mod.json().id as string
    const reusedBefore = app.materializations.cache.reused
    let timed = 0
    for (const [device, rng] of variants) {
      let best = Infinity
      // with the cache, an untimed first run leaves an arena of this size to recycle
      for (let r = memory === 'recycled arena' ? -1 : 0; r < reps; r++) {
        const t0 = process.hrtime.bigint()
        const res = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules/${mid}/materializations`, payload: { init: 'default', seed: 0, device, rng } })
        const s = Number(process.hrtime.bigint() - t0) / 1e9
        if (res.statusCode !== 201) throw new Error(`${res.statusCode} ${res.body}`)
        const m = res.json() as { id: string, nbytes: number, safetensors: string, tensors: Array<{ href: string, tiedTo?: string }> }
        nbytes = m.nbytes
        if (r >= 0) { best = Math.min(best, s); timed++ }
        if (r === 0 && rng === 'torch') {
          const h = createHash('sha256')
          for (const t of m.tensors) h.update((await app.inject(t.href)).rawPayload)
          digests.set(`${device}, ${memory}`, h.digest('hex'))
        }
        await app.inject({ method: 'DELETE', url: `/v1/sessions/${sid}/materializations/${m.id}` })
        await sleep(200)
      }
      rows.push([`materia ${device}, rng ${rng} (${memory})`, best])
    }
    if (memory === 'recycled arena') console.log(`  recycled arenas: ${app.materializations.cache.reused - reusedBefore} of ${timed + variants.length} runs`)
  }
  // worker, one task: the same fill without slicing the stream, into one arena (written once untimed, as a
  // recycled one) so that the row compares with "worker, rng torch (recycled arena)"
  {
    const { root, built } = buildModuleTree(c.spec)
    const plan = planArena(built.tensors)
    const exec = planInit(root, plan, { base: 'default', overrides: [], rng: 'torch', seed: 0 })
    let best = Infinity
    const arena = new Arena(plan.arenaSize)
    // a service with one fill thread: the fill is one piece of work (the pool's thread count sets the slices)
    const oneThread = await buildApp({ config: loadConfig({ LOG_LEVEL: 'silent', ...BENCH_ENV, MATERIA_WORKERS: '1' }) })
    for (let r = -1; r < reps; r++) {
      const t0 = process.hrtime.bigint()
      await runFill({ constants: [], init: exec }, arena.memory, { device: 'worker', pool: oneThread.pool }, new FillControl(), new AbortController().signal)
      if (r >= 0) best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9)
      await sleep(200)
    }
    await oneThread.close()
    rows.push(['materia worker, rng torch, 1 task (fill only, recycled)', best])
  }
  const py = python()
  let torchS: number | undefined
  if (py !== undefined) {
    try {
      const out = execFileSync(py, ['-c', PY, c.py, String(reps)], { encoding: 'utf8', env: { ...process.env, ATEN_CPU_CAPABILITY: 'avx2' }, maxBuffer: 1 << 20 })
      const r = JSON.parse(out.trim().split('\n').pop() as string) as { torch: string, capability: string, threads: number, seconds: number, sha256: string, nbytes: number }
      torchS = r.seconds
      rows.push([`PyTorch ${r.torch} (${r.capability}, ${r.threads} threads)`, r.seconds])
      for (const [device, d] of digests) console.log(`  ${device}: bytes identical to PyTorch's: ${r.sha256 === d ? 'yes' : 'NO'} (${r.nbytes} bytes)`)
    } catch (err) {
      console.log(`  PyTorch baseline failed: ${(err as Error).message.split('\n')[0] ?? ''}`)
    }
  }
  for (const [label, s] of rows) {
    const ratio = torchS !== undefined ? `  ${(torchS / s).toFixed(2)}x PyTorch's speed` : ''
    console.log(`  ${label.padEnd(56)} ${(s * 1000).toFixed(0).padStart(6)} ms  ${gbps(nbytes, s)}${ratio}`)
  }
}
for (const s of services) await s.app.close()
