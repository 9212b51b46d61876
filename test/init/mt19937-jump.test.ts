import { readFileSync } from 'node:fs'

import t, { type Test } from 'tap'

import { computeCharpoly, polyToHex, renderCharpoly } from '../../scripts/mt19937-jump-charpoly.js'
import { CpuGenerator, MT19937, mtJumpMinBlocks, mtStateWords } from '../../src/init/mt19937.js'
import { mtJump, type MtPosition } from '../../src/init/mt19937-jump.js'
import { charpolyLowTerms, mtStateBits } from '../../src/init/mt19937-jump-poly.js'
import { mtTwistWasm } from '../../src/init/mt-uniform-wasm.js'
import { loadFixture, sha256Of } from './helpers.js'

const positionOf = (e: MT19937): MtPosition => ({ state: e.state.slice(), left: e.left, next: e.next })

function engineAt (p: MtPosition): MT19937 {
  const e = new MT19937()
  e.state.set(p.state)
  e.left = p.left
  e.next = p.next
  return e
}

/** Engine after `pre` draws, then `draws` more skipped by twisting every block (the reference). */
function twisted (seed: number, pre: number, draws: number): MT19937 {
  const e = new MT19937(seed)
  for (let i = 0; i < pre; i++) e.random()
  const avail = e.left - 1
  if (draws <= avail) {
    e.left -= draws
    e.next += draws
    return e
  }
  const rem = draws - avail
  const last = ((rem - 1) % mtStateWords) + 1
  const twists = (rem - last) / mtStateWords + 1
  if (!mtTwistWasm(e.state, twists)) for (let b = 0; b < twists; b++) e.twist()
  e.left = mtStateWords - last + 1
  e.next = last
  return e
}

const same = (t: Test, a: MtPosition, b: MtPosition, what: string): void => {
  t.same([a.left, a.next, Buffer.from(a.state.buffer).toString('hex')], [b.left, b.next, Buffer.from(b.state.buffer).toString('hex')], what)
  const ea = engineAt(a)
  const eb = engineAt(b)
  t.same(Array.from({ length: 1300 }, () => ea.random()), Array.from({ length: 1300 }, () => eb.random()), `${what}: next draws`)
}

t.test('the committed characteristic polynomial is the one Berlekamp–Massey finds', async t => {
  const { poly, degree } = computeCharpoly()
  t.equal(degree, mtStateBits)
  const committed = readFileSync(new URL('../../src/init/mt19937-jump-charpoly.ts', import.meta.url), 'utf8')
  t.equal(committed, renderCharpoly(polyToHex(poly, degree)), 'regenerate with npx tsx scripts/mt19937-jump-charpoly.ts')
})

t.test('p annihilates the word stream: XOR of x_(i+e) over p\'s terms is 0', async t => {
  const terms = [...charpolyLowTerms, mtStateBits]
  for (const seed of [0, 1, 5489, 0xdeadbeef]) {
    const e = new MT19937(seed)
    e.discard(12345) // any position, then raw words from the next block on
    const words = new Uint32Array(mtStateBits + 2000)
    for (let i = 0; i < words.length; i++) {
      if (i % mtStateWords === 0) e.twist()
      words[i] = e.state[i % mtStateWords]!
    }
    let bad = 0
    for (let i = 0; i + mtStateBits < words.length; i++) {
      let acc = 0
      for (const k of terms) acc ^= words[i + k]!
      if (acc !== 0) bad++
    }
    t.equal(bad, 0, `seed ${seed}`)
  }
})

t.test('jump equals twisting, for many distances, positions and seeds', async t => {
  let rnd = 12345
  const next = (): number => { rnd = (Math.imul(rnd, 1103515245) + 12345) >>> 0; return rnd }
  const counts = [0, 1, 2, 622, 623, 624, 625, 1247, 1248, 1249, 624 * 97, 624 * 97 + 1, 624 * 97 - 1, 123_457]
  for (let i = 0; i < 6; i++) counts.push(next() % 10_000_000)
  for (const seed of [0, 1, 67280421310721 % 2 ** 32, 2 ** 32 - 1]) {
    for (const pre of [0, 1, 623, 624, 625, 1000]) {
      for (const n of counts) {
        const start = new MT19937(seed)
        for (let i = 0; i < pre; i++) start.random()
        same(t, mtJump(positionOf(start), BigInt(n)), positionOf(twisted(seed, pre, n)), `seed ${seed}, after ${pre}, jump ${n}`)
      }
    }
  }
})

t.test('jumps compose: jump(a) then jump(b) == jump(a + b)', async t => {
  const start = positionOf(new MT19937(42))
  for (const [a, b] of [[10n ** 12n, 0n], [10n ** 12n, 1n], [10n ** 12n, 623n], [10n ** 12n - 5n, 5n], [999_999_999_989n, 10n ** 9n + 7n], [2n ** 62n, 2n ** 62n + 3n], [1n, 10n ** 12n]] as const) {
    same(t, mtJump(mtJump(start, a), b), mtJump(start, a + b), `${a} + ${b}`)
  }
  // twisting after a large jump lands where the longer jump does
  const far = mtJump(start, 10n ** 12n)
  const e = engineAt(far)
  e.discard(1_000_003)
  same(t, positionOf(e), mtJump(start, 10n ** 12n + 1_000_003n), '10^12 then 1_000_003 twisted')
})

t.test('discard() jumps past mtJumpMinBlocks and leaves the engine where twisting does', async t => {
  const n = Number(mtJumpMinBlocks) * mtStateWords + 4321
  for (const [seed, pre] of [[7, 0], [8, 623], [9, 700]] as const) {
    const a = new MT19937(seed)
    for (let i = 0; i < pre; i++) a.random()
    a.discard(n)
    same(t, positionOf(a), positionOf(twisted(seed, pre, n)), `seed ${seed}, after ${pre}, discard ${n}`)
  }
  // the generator's cached normal is untouched, as for any discard
  const g = new CpuGenerator(5)
  g.doubleNormal = 0.25
  g.hasDoubleNormal = true
  g.discard(10n ** 12n)
  t.equal(g.hasDoubleNormal, true)
  t.equal(g.doubleNormal, 0.25)
})

t.test('jumps reach torch\'s golden states (uniform_ draws one or two words per element)', async t => {
  const v = loadFixture('torch-2.13-extra.json')
  const draws: Record<string, number> = { float32: 1, bfloat16: 1, float64: 2 }
  let checked = 0
  for (const e of v.large) {
    if (e.op !== 'uniform') continue
    const g = new CpuGenerator(BigInt(e.seed))
    const to = mtJump(positionOf(g.engine), BigInt(draws[e.dtype]! * e.numel))
    g.engine.state.set(to.state)
    g.engine.left = to.left
    g.engine.next = to.next
    t.same([g.engine.left, g.engine.next], [e.state.left, e.state.next])
    t.equal(sha256Of(g.getState()), e.state.sha256, `${e.dtype} × ${e.numel}: get_rng_state`)
    checked++
  }
  t.equal(checked, 3)
  // the 10000th output of the default-seeded std::mt19937 (C++11 [rand.predef])
  t.equal(engineAt(mtJump(positionOf(new MT19937(5489)), 9999n)).random(), 4123659995)
})
