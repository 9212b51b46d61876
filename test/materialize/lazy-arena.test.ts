// The lazy arena's chunk machinery (src/materialize/lazy-arena.ts) against the whole fill, for every
// golden init case: chunks made by a real worker pool (ArrayBuffers moved to the threads and back,
// lanes carrying their walks, trunc_normal_ values kept from one chunk to the next) and on the main
// thread, read whole and in random ranges; and the reservation a read holds, given back.
import { readFileSync } from 'node:fs'
import t from 'tap'
import { Piscina } from 'piscina'
import { buildModuleTree } from '../../src/nn/build.js'
import { parseOverrides } from '../../src/init/init-overrides.js'
import { castTensors, planArena } from '../../src/materialize/plan.js'
import { planInit } from '../../src/materialize/init-plan.js'
import { runFill, fillWorkerFile } from '../../src/materialize/fill-runner.js'
import { FillControl } from '../../src/materialize/fill-task.js'
import { LazyArena } from '../../src/materialize/lazy-arena.js'
import { MemoryBudget } from '../../src/materialize/budget.js'
import type { Fill } from '../../src/materialize/fill.js'
import type { DType } from '../../src/tensor/dtype.js'
import { seededRandom } from '../seeded-random.js'

interface Case { id: string, spec: object, init?: string | { default?: string, overrides?: object }, dtype?: DType }
const golden = JSON.parse(readFileSync(new URL('../fixtures/init-golden/init-golden.json', import.meta.url), 'utf8')) as { seeds: number[], cases: Case[] }

async function readAll (lazy: LazyArena, a: number, b: number): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const c of lazy.read(a, b)) parts.push(Buffer.from(c))
  return Buffer.concat(parts)
}

t.test('every golden case: chunks from the pool and from the main thread are the whole fill', async (t) => {
  const pool = new Piscina({ filename: fillWorkerFile, minThreads: 2, maxThreads: 2 })
  t.teardown(async () => { await pool.destroy() })
  const budget = new MemoryBudget(2 ** 30)
  const rand = seededRandom(3)
  let n = 0
  for (const c of golden.cases) {
    const seed = golden.seeds[n % golden.seeds.length] as number
    const { root, built } = buildModuleTree(c.spec)
    const plan = planArena(castTensors(built.tensors, c.dtype))
    const init = c.init ?? 'default'
    const exec = planInit(root, plan, {
      base: (typeof init === 'string' ? init : init.default ?? 'default') as 'default',
      overrides: typeof init === 'string' ? [] : parseOverrides(init.overrides ?? {}),
      rng: 'torch',
      seed
    })
    const fill: Fill = { constants: exec.constants, init: exec }
    const memory = new SharedArrayBuffer(Math.max(1, plan.arenaSize))
    await runFill(fill, memory, { device: 'cpu' }, new FillControl(), new AbortController().signal)
    const whole = Buffer.from(memory, 0, plan.arenaSize)
    // chunks of a few hundred bytes: several per tensor, on 3 lanes
    const chunk = 64 + rand(512)
    const pooled = new LazyArena(plan.arenaSize, fill, pool, budget, chunk)
    const main = new LazyArena(plan.arenaSize, fill, undefined, budget, chunk)
    const problems: string[] = []
    if (!(await readAll(pooled, 0, plan.arenaSize)).equals(whole)) problems.push(`pool, chunks of ${chunk}`)
    if (!(await readAll(main, 0, plan.arenaSize)).equals(whole)) problems.push(`main thread, chunks of ${chunk}`)
    for (let k = 0; k < 3 && plan.arenaSize > 0; k++) {
      const a = rand(plan.arenaSize); const b = a + 1 + rand(plan.arenaSize - a)
      if (!(await readAll(pooled, a, b)).equals(whole.subarray(a, b))) problems.push(`pool, [${a}, ${b})`)
    }
    if (problems.length > 0) t.same(problems, [], c.id)
    n++
  }
  t.ok(n > 100, `${n} cases`)
  t.equal(budget.used, 0, 'reading reserves nothing by itself (the response pins)')
})

t.test('a read pins its chunks against the budget; a full budget refuses it', async (t) => {
  const { root, built } = buildModuleTree({ class: 'Linear', args: [512, 512] })
  const plan = planArena(built.tensors)
  const exec = planInit(root, plan, { base: 'default', overrides: [], rng: 'torch', seed: 0 })
  const budget = new MemoryBudget(10 * plan.arenaSize)
  const lazy = new LazyArena(plan.arenaSize, { constants: exec.constants, init: exec }, undefined, budget, 4096)
  const unpin = lazy.pin()
  t.equal(budget.used, lazy.readBytes)
  t.ok(lazy.readBytes > 0 && lazy.readBytes < plan.arenaSize, `${lazy.readBytes} bytes for a ${plan.arenaSize}-byte arena`)
  unpin(); unpin()
  t.equal(budget.used, 0, 'given back once')
  budget.reserve(10 * plan.arenaSize - 1)
  t.throws(() => lazy.pin(), { code: 'MATERIA_ERR_MEMORY_BUDGET' })
})

t.test('chunks of constants: zeros, a constant\'s pattern at every phase, mixed ranges', async (t) => {
  // a float64 tensor of ones (8-byte elements: chunk starts at every phase), a float32 zero buffer, a bfloat16 constant
  const fill: Fill = {
    constants: [
      { offset: 8, nbytes: 8 * 1000, dtype: 'float64', value: 1 },
      { offset: 8008, nbytes: 4 * 300, dtype: 'float32', value: 0 },
      { offset: 9208, nbytes: 2 * 999, dtype: 'bfloat16', value: -2.5 }
    ]
  }
  const size = 9208 + 2 * 999 + 5
  const memory = new SharedArrayBuffer(size)
  await runFill(fill, memory, { device: 'cpu' }, new FillControl(), new AbortController().signal)
  const whole = Buffer.from(memory)
  for (const chunk of [1, 5, 8, 13, 64, 1000]) {
    const lazy = new LazyArena(size, fill, undefined, new MemoryBudget(2 ** 30), chunk)
    t.ok((await readAll(lazy, 0, size)).equals(whole), `chunks of ${chunk}`)
    t.ok((await readAll(lazy, 1001, 9999)).equals(whole.subarray(1001, 9999)), `a range, chunks of ${chunk}`)
  }
})
