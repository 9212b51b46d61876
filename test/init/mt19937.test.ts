import t from 'tap'

import { CpuGenerator, MT19937, rngStateBytes, seedToUint64 } from '../../src/init/mt19937.js'
import { mtUniformWasmAvailable } from '../../src/init/mt-uniform-wasm.js'
import { loadFixture, sha256Of } from './helpers.js'

const sameState = (a: CpuGenerator, b: CpuGenerator): boolean => Buffer.from(a.getState()).equals(Buffer.from(b.getState()))

for (const file of ['vectors_2.13_avx2.json', 'vectors_1.13_avx2.json']) {
  t.test(`mt19937 vectors (${file})`, async t => {
    const v = loadFixture(file)
    for (const [seed, e] of Object.entries<any>(v.mt19937)) {
      const g = new CpuGenerator(BigInt(seed))
      t.same(Array.from({ length: 10 }, () => g.random()), e.first10_u32, `seed ${seed} first 10`)
      t.same(Array.from({ length: 3 }, () => g.random64().toString(16).padStart(16, '0')), e.then3_random64,
        `seed ${seed} random64`)
    }
  })
}

t.test('std::mt19937 reference outputs', async t => {
  const e = new MT19937(5489)
  t.same([e.random(), e.random(), e.random()], [3499211612, 581869302, 3890346734])
  const z = new MT19937(0)
  t.same([z.random(), z.random(), z.random()], [2357136044, 2546248239, 3071714933])
  // The 10000th output of the default-seeded std::mt19937 (C++11 [rand.predef]).
  const d = new MT19937(5489)
  for (let i = 0; i < 9999; i++) d.random()
  t.equal(d.random(), 4123659995)
})

t.test('seeding: uint64 wrap, low 32 bits, torch state bytes', async t => {
  const v = loadFixture('torch-2.13-extra.json')
  for (const s of v.seeds) {
    const g = new CpuGenerator(BigInt(s.seed))
    t.equal(g.initialSeed().toString(), s.initialSeed, `initial_seed for ${s.seed}`)
    const st = g.getState()
    t.equal(st.byteLength, rngStateBytes)
    t.equal(sha256Of(st), s.state.sha256, `get_rng_state after manual_seed(${s.seed})`)
  }
  t.equal(seedToUint64(-1), (1n << 64n) - 1n)
  t.equal(seedToUint64(2 ** 40 + 7), 2n ** 40n + 7n)
  t.equal(seedToUint64(-(2n ** 63n)), 2n ** 63n)
  t.throws(() => seedToUint64(2n ** 64n), RangeError)
  t.throws(() => seedToUint64(-(2n ** 63n) - 1n), RangeError)
  t.throws(() => seedToUint64(1.5), RangeError)
  t.throws(() => seedToUint64(Number.NaN), RangeError)
  // Numbers and bigints agree, and only the low 32 bits reach the engine.
  const a = new CpuGenerator(2 ** 40 + 7)
  const b = new CpuGenerator(2n ** 40n + 7n)
  const c = new CpuGenerator(7)
  const xs = [a.random(), a.random()]
  t.same([b.random(), b.random()], xs)
  t.same([c.random(), c.random()], xs)
  t.same(new CpuGenerator(-1).random(), new CpuGenerator(2n ** 64n - 1n).random())
})

t.test('fillU32 equals repeated random() across block boundaries', async t => {
  const g1 = new CpuGenerator(12345)
  const g2 = new CpuGenerator(12345)
  const out = new Uint32Array(5000)
  let off = 0
  for (const k of [1, 622, 1, 1, 700, 1248, 3, 1000, 424]) {
    g1.fillU32(out, off, k)
    off += k
  }
  const ref = Uint32Array.from({ length: off }, () => g2.random())
  t.same(Array.from(out.subarray(0, off)), Array.from(ref))
  t.ok(sameState(g1, g2))
})

t.test('discard(n) == n draws, for every position and block multiple', async t => {
  for (const pre of [0, 1, 5, 623, 624, 625]) {
    for (const n of [0, 1, 2, 622, 623, 624, 625, 1247, 1248, 1249, 10_000, 123_457]) {
      const a = new CpuGenerator(1)
      const b = new CpuGenerator(1)
      for (let i = 0; i < pre; i++) { a.random(); b.random() }
      a.discard(n)
      for (let i = 0; i < n; i++) b.random()
      t.ok(sameState(a, b), `pre ${pre}, discard ${n}`)
      t.equal(a.random(), b.random())
    }
  }
  const g = new CpuGenerator(3)
  const h = new CpuGenerator(3)
  g.discard(5000n)
  h.discard(5000)
  t.ok(sameState(g, h), 'bigint counts')
  t.throws(() => g.discard(-1), RangeError)
  t.throws(() => g.discard(0.5), RangeError)
})

t.test('discard on the WebAssembly kernel leaves the engine where the JS twists do', async t => {
  t.ok(mtUniformWasmAvailable(), 'the kernel loads here, so the comparison below is real')
  for (const [seed, pre, n] of [[0, 0, 624 * 4], [1, 17, 1_000_003], [12345, 623, 624 * 5 + 1], [2 ** 40 + 7, 1000, 33_554_437]] as const) {
    const a = new MT19937(seed)
    const b = new MT19937(seed)
    for (let i = 0; i < pre; i++) { a.random(); b.random() }
    a.discard(n)
    b.discard(n, false)
    t.same([a.left, a.next, Array.from(a.state)], [b.left, b.next, Array.from(b.state)], `seed ${seed}, after ${pre}, discard ${n}`)
    t.equal(a.random(), b.random())
  }
})

t.test('getState / setState / clone round trip, including the cached normal', async t => {
  const g = new CpuGenerator(99)
  g.random()
  g.doubleNormal = -2.043951331753674
  g.hasDoubleNormal = true
  const st = g.getState()
  const h = new CpuGenerator(0).setState(st)
  t.same(h.getState(), st)
  t.equal(h.doubleNormal, -2.043951331753674)
  t.equal(h.random(), g.clone().random())
  g.manualSeed(99)
  t.equal(g.hasDoubleNormal, false, 'manual_seed clears the cache')
  t.throws(() => h.setState(new Uint8Array(10)), RangeError)
})
