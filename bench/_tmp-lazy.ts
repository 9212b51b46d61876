import { Piscina } from 'piscina'
import { buildModuleTree } from '../src/nn/build.js'
import { castTensors, planArena } from '../src/materialize/plan.js'
import { planInit } from '../src/materialize/init-plan.js'
import { fillWorkerFile } from '../src/materialize/fill-runner.js'
import { LazyArena } from '../src/materialize/lazy-arena.js'
import { MemoryBudget } from '../src/materialize/budget.js'
import { produceRange } from '../src/materialize/fill-range.js'
const layers = Number(process.argv[2] ?? 8)
const spec = { class: 'Sequential', args: Array.from({ length: layers }, () => ({ class: 'Linear', args: [8192, 8192] })) }
const { root, built } = buildModuleTree(spec)
const plan = planArena(castTensors(built.tensors, 'bfloat16'))
const pool = new Piscina({ filename: fillWorkerFile, minThreads: 2, maxThreads: 2, atomics: 'disabled' })
await new Promise((r) => setTimeout(r, 1000))
for (const rng of ['philox', 'torch'] as const) {
  const exec = planInit(root, plan, { base: 'default', overrides: [], rng, seed: 1 })
  const fill = { constants: exec.constants, init: exec }
  const lazy = new LazyArena(plan.arenaSize, fill, pool, new MemoryBudget(2 ** 34))
  const N = 1 << 30
  let t0 = performance.now(); let n = 0
  for await (const c of lazy.read(0, N)) n += c.length
  const s = (performance.now() - t0) / 1000
  t0 = performance.now()
  const into = new Uint8Array(8 << 20); const walk = {}
  for (let a = 0; a < N / 4; a += into.length) produceRange(fill, a, into, { walk })
  const s1 = (performance.now() - t0) / 1000
  console.log(rng, layers, 'layers: pool', (n / s / 1e9).toFixed(2), 'GB/s; one thread', (N / 4 / s1 / 1e9).toFixed(2), 'GB/s')
}
await pool.destroy()
