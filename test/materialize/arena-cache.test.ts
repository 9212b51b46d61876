// The arena cache on its own (best fit within the slack, limits, shedding for the budget, idle sweep)
// and in the registry: memory is recycled only after its fill has stopped, and a recycled arena has
// the bytes its fill does not write zeroed.
import t from 'tap'
import { ArenaCache, MIN_CACHED_BYTES } from '../../src/materialize/arena-cache.js'
import { MemoryBudget } from '../../src/materialize/budget.js'
import { uncoveredZeros } from '../../src/materialize/constant-fill.js'
import { MaterializationRegistry, type Materialization, type MaterializationOptions } from '../../src/materialize/registry.js'
import { Arena } from '../../src/materialize/arena.js'
import { planArena } from '../../src/materialize/plan.js'
import { buildModuleTree } from '../../src/nn/index.js'

/** A resident materialization's memory. */
function memoryOf (m: Materialization): SharedArrayBuffer {
  if (!(m.arena instanceof Arena)) throw new Error('not resident')
  return m.arena.memory
}

const MiB = 2 ** 20

t.test('take: the smallest buffer that fits and wastes at most a quarter', async (t) => {
  const cache = new ArenaCache(64 * MiB)
  t.teardown(() => { cache.close() })
  const [a, b, c] = [10, 12, 8].map((n) => new SharedArrayBuffer(n * MiB)) as [SharedArrayBuffer, SharedArrayBuffer, SharedArrayBuffer]
  for (const m of [a, b, c]) t.ok(cache.put(m))
  t.equal(cache.bytes, 30 * MiB)
  t.ok(cache.mayServe(13 * MiB), 'mayServe: 30 MiB held could back 13 MiB…')
  t.notOk(cache.mayServe(31 * MiB), '…but not more than is held')
  t.notOk(cache.mayServe(MIN_CACHED_BYTES - 1), '…nor a small arena')
  t.equal(cache.take(13 * MiB), undefined, 'none is large enough')
  t.equal(cache.take(6 * MiB), undefined, '8 MiB would waste more than a quarter of 6 MiB')
  t.equal(cache.take(7 * MiB), c, '8 MiB backs 7 MiB')
  t.equal(cache.take(9 * MiB), a, 'the smallest that fits')
  t.equal(cache.bytes, 12 * MiB)
  t.equal(cache.reused, 2)
  t.equal(cache.take(MIN_CACHED_BYTES - 1), undefined, 'small arenas are not served from the cache')
})

t.test('put: the limit holds, the oldest make room, small and oversized buffers are refused', async (t) => {
  let drops = 0
  const cache = new ArenaCache(20 * MiB, () => { drops++ })
  t.teardown(() => { cache.close() })
  const first = new SharedArrayBuffer(8 * MiB)
  t.ok(cache.put(first))
  t.ok(cache.put(new SharedArrayBuffer(8 * MiB)))
  t.ok(cache.put(new SharedArrayBuffer(8 * MiB)), 'a third pushes out the oldest')
  t.equal(cache.bytes, 16 * MiB)
  t.equal(drops, 1)
  t.not(cache.take(8 * MiB), first)
  t.notOk(cache.put(new SharedArrayBuffer(21 * MiB)), 'larger than the cache')
  t.notOk(cache.put(new SharedArrayBuffer(MIN_CACHED_BYTES / 2)), 'too small to be worth it')
  const off = new ArenaCache(0)
  t.notOk(off.put(new SharedArrayBuffer(8 * MiB)), 'MATERIA_ARENA_CACHE=0 keeps nothing')
  off.close()
})

t.test('sweep drops buffers idle for longer than idleMs', async (t) => {
  let drops = 0
  const cache = new ArenaCache(64 * MiB, () => { drops++ }, 1000)
  t.teardown(() => { cache.close() })
  cache.put(new SharedArrayBuffer(4 * MiB))
  cache.sweep(Date.now() + 500)
  t.equal(cache.bytes, 4 * MiB, 'young buffers stay')
  cache.sweep(Date.now() + 1000)
  t.equal(cache.bytes, 0)
  t.equal(drops, 1)
})

t.test('the budget counts cached bytes and sheds them when a reservation needs room', async (t) => {
  const cache = new ArenaCache(64 * MiB)
  t.teardown(() => { cache.close() })
  const budget = new MemoryBudget(40 * MiB, cache)
  cache.put(new SharedArrayBuffer(16 * MiB))
  cache.put(new SharedArrayBuffer(16 * MiB))
  budget.reserve(8 * MiB)
  t.equal(cache.bytes, 32 * MiB, 'room enough: nothing shed')
  budget.reserve(8 * MiB)
  t.equal(cache.bytes, 16 * MiB, 'the oldest buffer shed to make room')
  t.throws(() => { budget.reserve(30 * MiB) }, { code: 'MATERIA_ERR_MEMORY_BUDGET' })
  t.equal(cache.bytes, 0, 'a refused reservation still empties the cache (it tried)')
  t.equal(budget.used, 16 * MiB)
})

t.test('uncoveredZeros: the complement of the written spans', async (t) => {
  t.same(uncoveredZeros(10, []), [{ offset: 0, nbytes: 10, dtype: 'uint8', value: 0 }])
  t.same(uncoveredZeros(10, [{ offset: 0, nbytes: 10 }]), [])
  t.same(uncoveredZeros(20, [{ offset: 12, nbytes: 4 }, { offset: 2, nbytes: 4 }, { offset: 4, nbytes: 4 }, { offset: 9, nbytes: 0 }]).map((r) => [r.offset, r.nbytes]),
    [[0, 2], [8, 4], [16, 4]])
})

const opts: MaterializationOptions = { sessionId: 's', moduleId: 'm', device: 'cpu', init: 'default', seed: 0, rng: 'torch', dtype: null }
// Linear(512, 512): 1 MiB of weight and 2 KiB of bias; the bias stands for bytes the next fill does not write
const plan = planArena(buildModuleTree({ class: 'Linear', args: [512, 512] }).built.tensors)

t.test('the registry recycles only completed fills, and zeroes what the next fill does not write', async (t) => {
  const registry = new MaterializationRegistry(64 * MiB, undefined, 64 * MiB)
  t.teardown(async () => { await registry.close() })
  const weight = plan.byName.get('weight') as { offset: number, nbytes: number }
  let open: () => void = () => {}
  const gate = new Promise<void>((resolve) => { open = resolve })
  // the weight copied from a source that streams half of it, then waits
  const copies = [{ offset: weight.offset, nbytes: weight.nbytes, dtype: 'float32' as const, begin: 0, srcDtype: 'float32' as const }]
  const body = { next: async () => { await gate; return { done: true as const, value: undefined } } }
  // a fill deleted while it runs (as a worker fill whose threads may still write): never reused
  const cancelled = registry.start('a', opts, plan, { constants: [], copies }, { first: new Uint8Array(weight.nbytes / 2).fill(7), body, size: weight.nbytes })
  const cancelledMemory = memoryOf(cancelled)
  t.ok(registry.delete('s', 'a'))
  const next = registry.start('b', opts, plan, { constants: [], copies }, { first: new Uint8Array(weight.nbytes), body, size: weight.nbytes })
  t.not(memoryOf(next), cancelledMemory, 'a running fill\'s arena is not handed out')
  open()
  await cancelled.done
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(cancelled.status, 'failed')
  t.equal(registry.cache.bytes, 0, 'nor cached once it has stopped')
  // a completed fill of 7s everywhere (bias too), deleted: cached
  const sevens = registry.start('c', opts, plan, { constants: [{ offset: 0, nbytes: plan.arenaSize, dtype: 'uint8', value: 7 }] })
  const memory = memoryOf(sevens)
  await sevens.done
  t.ok(registry.delete('s', 'c'))
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(registry.cache.bytes, memory.byteLength, 'a completed fill\'s arena is cached')
  // the next materialization writes the weight only: the bias bytes it gets must be zero, not 7s
  const third = registry.start('d', opts, plan, { constants: [{ ...weight, dtype: 'float32', value: 0.5 }] })
  t.equal(memoryOf(third), memory, 'recycled')
  await third.done
  t.equal(third.status, 'ready')
  const bias = plan.byName.get('bias') as { offset: number, nbytes: number }
  t.same([...new Uint8Array(memoryOf(third), bias.offset, bias.nbytes)].filter((b) => b !== 0), [], 'the bias is zero')
  t.equal(new Float32Array(memoryOf(third), weight.offset, 1)[0], 0.5)
  // a fill that writes little gets fresh memory: zeroing a recycled one would cost more
  t.ok(registry.delete('s', 'd'))
  await new Promise((resolve) => setImmediate(resolve))
  const empty = registry.start('e', { ...opts, init: 'empty' }, plan, { constants: [] })
  t.not(memoryOf(empty), memory, 'empty takes fresh memory')
  t.same([...new Uint8Array(memoryOf(empty), 0, plan.arenaSize)].filter((b) => b !== 0), [], 'and it is zero')
})
