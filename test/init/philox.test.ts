// rng: "philox" (src/init/philox.ts, docs/philox.md): Random123 known answers, bit-for-bit vectors
// from the independent numpy reference (scripts/golden/make-philox-vectors.py), random access,
// order independence and distribution sanity.
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'

import t from 'tap'

import { castF32BitsToF16 } from '../../src/init/fp.js'
import { mulhi0, mulhi1, PHILOX_M0, PHILOX_M1 } from '../../src/init/philox-core.js'
import { castF32BitsToF16Fast } from '../../src/init/philox-half.js'
import { LN2, SQRT1_2, TWO_PI } from '../../src/init/philox-math.js'
import {
  elementsPerBlock, philox4x32x10, philoxBlocks, philoxFill, philoxKey, type PhiloxDist
} from '../../src/init/philox.js'
import type { FloatDType } from '../../src/tensor/dtype.js'

interface FillCase {
  seed: number
  name: string
  dtype: FloatDType
  dist: PhiloxDist
  first: number
  n: number
  hex?: string
  sha256?: string
}
interface Vectors {
  kat: Array<{ counter: number[], key: number[], out: number[] }>
  keys: Array<{ seed: number, name: string, key: number[] }>
  blocks: Array<{ seed: number, name: string, purpose: number, block: number, words: number[] }>
  fills: FillCase[]
}

const vectors = JSON.parse(readFileSync(new URL('../fixtures/philox/vectors.json', import.meta.url), 'utf8')) as Vectors
const dtypes: FloatDType[] = ['float32', 'float64', 'float16', 'bfloat16']
const size: Record<FloatDType, number> = { float32: 4, float64: 8, float16: 2, bfloat16: 2 }
const uniform = (low: number, high: number): PhiloxDist => ({ kind: 'uniform', low, high })
const normal = (mean: number, std: number): PhiloxDist => ({ kind: 'normal', mean, std })

function fill (dtype: FloatDType, dist: PhiloxDist, seed: number, name: string, first: number, n: number): Uint8Array {
  const out = new Uint8Array(n * size[dtype])
  philoxFill(out, dtype, dist, { seed, name }, first)
  return out
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const u32hex = (a: ArrayLike<number>): string[] => Array.from(a, x => (x >>> 0).toString(16).padStart(8, '0'))

t.test('Philox4x32-10 known-answer vectors (Random123 kat_vectors)', async t => {
  t.same(u32hex(philox4x32x10([0, 0, 0, 0], [0, 0])), ['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8'])
  t.same(u32hex(philox4x32x10([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff])),
    ['408f276d', '41c83b0e', 'a20bc7c6', '6d5451fd'])
  t.same(u32hex(philox4x32x10([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0])),
    ['d16cfe09', '94fdcceb', '5001e420', '24126ea1'])
  for (const v of vectors.kat) t.same(Array.from(philox4x32x10(v.counter, v.key)), v.out, 'fixture copy')
  // The fast kernel (counter word 3 is always 0 there) on the all-zero case.
  const w = new Uint32Array(16)
  philoxBlocks(w, 1, 0, 0, 0, 0, 0)
  t.same(u32hex(w.subarray(0, 4)), ['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8'])
})

t.test('32x32 -> 64 high word: exact, including the near-carry cases', async t => {
  let bad = 0
  const check = (a: number): void => {
    if (BigInt(mulhi0(a) >>> 0) !== (BigInt(a >>> 0) * BigInt(PHILOX_M0)) >> 32n) bad++
    if (BigInt(mulhi1(a) >>> 0) !== (BigInt(a >>> 0) * BigInt(PHILOX_M1)) >> 32n) bad++
  }
  for (let i = 0; i < 200000; i++) check((Math.random() * 2 ** 32) | 0)
  for (const a of [0, 1, 2, -1, -2, 0x7fffffff, -0x80000000, 0xffff, 0x10000]) check(a)
  // Inputs whose exact low product word is within 2^11 of a multiple of 2^32 (the corrected cases):
  // a = ceil(j 2^32 / M) for j = 1..20000 puts a * M just above j 2^32.
  for (const M of [PHILOX_M0, PHILOX_M1]) {
    for (let j = 1n; j <= 20000n; j++) {
      const a = Number(((j << 32n) + BigInt(M) - 1n) / BigInt(M))
      check(a | 0); check((a - 1) | 0)
    }
  }
  t.equal(bad, 0)
})

t.test('fast block kernel equals the reference, across counters and keys', async t => {
  const out = new Uint32Array(4 * 12)
  let bad = 0
  for (let trial = 0; trial < 300; trial++) {
    const c0 = (Math.random() * 2 ** 32) >>> 0
    const c1 = (Math.random() * 2 ** 32) >>> 0
    const c2 = trial % 3 === 0 ? 1 : (Math.random() * 2 ** 32) >>> 0
    const k0 = (Math.random() * 2 ** 32) >>> 0
    const k1 = (Math.random() * 2 ** 32) >>> 0
    const nb = 1 + (trial % 11)
    philoxBlocks(out, nb, c0, c1, c2, k0, k1)
    for (let j = 0; j < nb; j++) {
      const want = philox4x32x10([(c0 + j) >>> 0, c1, c2, 0], [k0, k1])
      for (let w = 0; w < 4; w++) if (out[4 * j + w] !== want[w]) bad++
    }
  }
  t.equal(bad, 0)
})

t.test('keys and raw blocks match the numpy reference', async t => {
  let bad = 0
  for (const k of vectors.keys) {
    if (philoxKey(k.seed, k.name).join() !== k.key.join()) { bad++; t.fail(`key ${k.seed} ${JSON.stringify(k.name)}`) }
  }
  t.equal(bad, 0, `${vectors.keys.length} keys`)
  for (const b of vectors.blocks) {
    const key = philoxKey(b.seed, b.name)
    const w = new Uint32Array(16)
    philoxBlocks(w, 1, b.block % 2 ** 32, Math.floor(b.block / 2 ** 32), b.purpose, key[0]!, key[1]!)
    t.same(Array.from(w.subarray(0, 4)), b.words, `purpose ${b.purpose} block ${b.block}`)
  }
  t.ok(vectors.keys.some(k => k.seed < 0) && vectors.keys.some(k => k.seed >= 2 ** 63), 'negative and >= 2^63 seeds covered')
})

t.test('fills reproduce the numpy reference bit for bit', async t => {
  let bad = 0
  const kinds = new Set<string>()
  for (const c of vectors.fills) {
    const b = fill(c.dtype, c.dist, c.seed, c.name, c.first, c.n)
    const ok = c.hex !== undefined ? hex(b) === c.hex : sha(b) === c.sha256
    kinds.add(`${c.dtype}/${c.dist.kind}`)
    if (!ok) {
      bad++
      if (bad <= 10) t.fail(`${c.dtype} ${JSON.stringify(c.dist)} seed ${c.seed} ${JSON.stringify(c.name)} first ${c.first} n ${c.n}`)
    }
  }
  t.equal(bad, 0, `${vectors.fills.length} fills`)
  t.equal(kinds.size, 8, 'every dtype x distribution covered')
  t.ok(vectors.fills.some(c => c.first > 2 ** 32 * 4), 'offsets past 2^32 blocks covered')
  // eslint-disable-next-line no-control-regex -- a name outside ASCII
  t.ok(vectors.fills.some(c => c.seed === 2 ** 40 + 7) && vectors.fills.some(c => /[^\x00-\x7f]/.test(c.name)))
})

t.test('random access: any range equals the slice of the whole', async t => {
  const dists = [uniform(-0.3, 0.7), normal(0.5, 2)]
  for (const dtype of dtypes) {
    for (const dist of dists) {
      const N = 5000
      const whole = fill(dtype, dist, 7, 'ra.weight', 0, N)
      const s = size[dtype]
      const cuts = [[0, 1], [1, 2], [3, 4], [4, 9], [5, 6], [6, 2051], [2047, 2561], [2559, 2561], [4999, 5000], [1, 4999], [2560, 5000]]
      for (let i = 0; i < 40; i++) {
        const a = Math.floor(Math.random() * N)
        cuts.push([a, a + 1 + Math.floor(Math.random() * (N - a))])
      }
      let bad = 0
      for (const [a, b] of cuts as Array<[number, number]>) {
        const part = fill(dtype, dist, 7, 'ra.weight', a, b - a)
        if (!Buffer.from(part).equals(whole.subarray(a * s, b * s))) bad++
      }
      t.equal(bad, 0, `${dtype} ${dist.kind}: ${cuts.length} ranges`)
      // Shards filled in reverse order into one buffer, and a misaligned target.
      const shards = new Uint8Array(N * s)
      for (let a = N; a > 0; a -= 777) {
        const lo = Math.max(0, a - 777)
        philoxFill(shards.subarray(lo * s, a * s), dtype, dist, { seed: 7, name: 'ra.weight' }, lo)
      }
      t.ok(Buffer.from(shards).equals(whole), `${dtype} ${dist.kind}: reverse-order shards`)
      const odd = new Uint8Array(N * s + 1)
      philoxFill(odd.subarray(1), dtype, dist, { seed: 7, name: 'ra.weight' }, 0)
      t.ok(Buffer.from(odd.subarray(1)).equals(whole), `${dtype} ${dist.kind}: unaligned target`)
      const shared = new Uint8Array(new SharedArrayBuffer(N * s + 64), 64, N * s)
      philoxFill(shared, dtype, dist, { seed: 7, name: 'ra.weight' }, 0)
      t.ok(Buffer.from(shared).equals(whole), `${dtype} ${dist.kind}: SharedArrayBuffer target`)
    }
  }
  // Far offsets: ranges straddling block 2^32 (counter word 0 wrapping into word 1).
  for (const dtype of dtypes) {
    for (const dist of dists) {
      const per = elementsPerBlock(dist.kind, dtype)
      const base = per * 2 ** 32 - 1000
      const whole = fill(dtype, dist, 3, 'far', base, 2000)
      const part = fill(dtype, dist, 3, 'far', base + 999, 3)
      t.ok(Buffer.from(part).equals(whole.subarray(999 * size[dtype], 1002 * size[dtype])), `${dtype} ${dist.kind} across 2^32 blocks`)
    }
  }
  const top = fill('float32', normal(0, 1), 1, 'top', 2 ** 53 - 3, 3)
  t.ok(Buffer.from(top.subarray(8)).equals(fill('float32', normal(0, 1), 1, 'top', 2 ** 53 - 1, 1)), 'last element below 2^53')
  t.throws(() => fill('float32', normal(0, 1), 1, 'top', 2 ** 53 - 2, 3), RangeError)
})

t.test('order independence: streams depend only on (seed, name, dist, dtype, index)', async t => {
  const a1 = fill('float32', uniform(-1, 1), 5, 'a', 0, 1000)
  const b1 = fill('float32', normal(0, 1), 5, 'b', 0, 1000)
  // Other tensors, other seeds and other sizes in between change nothing.
  for (let i = 0; i < 50; i++) fill('float64', normal(1, 2), i, `noise${i}`, i * 13, 17)
  const b2 = fill('float32', normal(0, 1), 5, 'b', 0, 1000)
  const a2 = fill('float32', uniform(-1, 1), 5, 'a', 0, 1000)
  t.ok(Buffer.from(a1).equals(a2))
  t.ok(Buffer.from(b1).equals(b2))
  // Distinct names, seeds and distributions give distinct streams.
  t.notOk(Buffer.from(fill('float32', uniform(-1, 1), 5, 'a2', 0, 1000)).equals(a1))
  t.notOk(Buffer.from(fill('float32', uniform(-1, 1), 6, 'a', 0, 1000)).equals(a1))
  // float16/bfloat16 are the float32 values rounded; float32 uniform does not depend on n.
  const f32 = new Float32Array(fill('float32', uniform(-1, 1), 5, 'a', 0, 1000).buffer)
  const bf = new Uint16Array(fill('bfloat16', uniform(-1, 1), 5, 'a', 0, 1000).buffer)
  const f32b = new Uint32Array(f32.buffer)
  let bad = 0
  for (let i = 0; i < 1000; i++) {
    const u = f32b[i]!
    if (bf[i] !== ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16)) bad++
  }
  t.equal(bad, 0, 'bfloat16 = RNE(float32)')
})

// ---- distribution sanity ----

// erf, Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): plenty for a KS bound of ~1.6e-3.
function erf (x: number): number {
  const s = x < 0 ? -1 : 1
  const ax = Math.abs(x)
  const k = 1 / (1 + 0.3275911 * ax)
  const y = 1 - (((((1.061405429 * k - 1.453152027) * k) + 1.421413741) * k - 0.284496736) * k + 0.254829592) * k * Math.exp(-ax * ax)
  return s * y
}
const phi = (z: number): number => 0.5 * (1 + erf(z / Math.SQRT2))

function moments (x: Float64Array): { mean: number, std: number } {
  let s = 0
  for (let i = 0; i < x.length; i++) s += x[i]!
  const mean = s / x.length
  let v = 0
  for (let i = 0; i < x.length; i++) v += (x[i]! - mean) ** 2
  return { mean, std: Math.sqrt(v / (x.length - 1)) }
}

function ks (x: Float64Array, cdf: (v: number) => number): number {
  const y = Float64Array.from(x).sort()
  let d = 0
  for (let i = 0; i < y.length; i++) {
    const f = cdf(y[i]!)
    d = Math.max(d, f - i / y.length, (i + 1) / y.length - f)
  }
  return d
}

function values (dtype: 'float32' | 'float64', dist: PhiloxDist, name: string, n: number): Float64Array {
  const b = fill(dtype, dist, 2024, name, 0, n)
  return Float64Array.from(dtype === 'float32' ? new Float32Array(b.buffer) : new Float64Array(b.buffer))
}

t.test('distributions: 1e6 samples', async t => {
  const N = 1_000_000
  const ksCrit = 1.95 / Math.sqrt(N) // alpha = 0.001
  for (const dtype of ['float32', 'float64'] as const) {
    const u = values(dtype, uniform(-2, 3), 'dist.u', N)
    const mu = moments(u)
    t.ok(Math.abs(mu.mean - 0.5) < 5 * 5 / Math.sqrt(12 * N), `${dtype} uniform mean ${mu.mean}`)
    t.ok(Math.abs(mu.std - 5 / Math.sqrt(12)) < 0.005, `${dtype} uniform std ${mu.std}`)
    let lo = Infinity; let hi = -Infinity
    for (const v of u) { lo = Math.min(lo, v); hi = Math.max(hi, v) }
    t.ok(lo >= -2 && hi <= 3 && lo < -1.99 && hi > 2.99, `${dtype} uniform range [${lo}, ${hi}]`)
    const du = ks(u, v => (v + 2) / 5)
    t.ok(du < ksCrit, `${dtype} uniform KS D=${du.toExponential(3)} < ${ksCrit.toExponential(3)}`)

    const z = values(dtype, normal(0, 1), 'dist.n', N)
    const mz = moments(z)
    t.ok(Math.abs(mz.mean) < 5 / Math.sqrt(N), `${dtype} normal mean ${mz.mean}`)
    t.ok(Math.abs(mz.std - 1) < 5 / Math.sqrt(2 * N), `${dtype} normal std ${mz.std}`)
    const dz = ks(z, phi)
    t.ok(dz < ksCrit, `${dtype} normal KS D=${dz.toExponential(3)} < ${ksCrit.toExponential(3)}`)
    let tail = 0
    for (const v of z) if (Math.abs(v) > 3) tail++
    const pTail = 2 * (1 - phi(3))
    t.ok(Math.abs(tail / N - pTail) < 5 * Math.sqrt(pTail / N), `${dtype} P(|z|>3) = ${tail / N} vs ${pTail.toFixed(5)}`)
    // Neighbours (the cos/sin of one pair, and adjacent pairs) are uncorrelated.
    let c1 = 0; let c2 = 0
    for (let i = 0; i + 2 < N; i += 2) { c1 += z[i]! * z[i + 1]!; c2 += z[i + 1]! * z[i + 2]! }
    t.ok(Math.abs(c1 / (N / 2)) < 5 / Math.sqrt(N / 2) && Math.abs(c2 / (N / 2)) < 5 / Math.sqrt(N / 2), `${dtype} lag-1 correlation`)
  }
  // Scaled normal: mean/std applied.
  const s = moments(values('float32', normal(0.25, 0.02), 'dist.s', 200_000))
  t.ok(Math.abs(s.mean - 0.25) < 0.001 && Math.abs(s.std - 0.02) < 0.0005, `normal(0.25, 0.02): ${s.mean} ${s.std}`)
  // Two names are independent streams.
  const a = values('float64', normal(0, 1), 'indep.a', 200_000)
  const b = values('float64', normal(0, 1), 'indep.b', 200_000)
  let c = 0
  for (let i = 0; i < a.length; i++) c += a[i]! * b[i]!
  t.ok(Math.abs(c / a.length) < 5 / Math.sqrt(a.length), 'cross-name correlation')
})

t.test('spec constants and argument checks', async t => {
  t.equal(TWO_PI, 2 * Math.PI)
  t.equal(LN2, Math.LN2)
  t.equal(SQRT1_2, Math.SQRT1_2)
  const b = new Uint8Array(8)
  const k = { seed: 0, name: 'w' }
  t.throws(() => philoxFill(new Uint8Array(6), 'float32', uniform(0, 1), k, 0), RangeError)
  t.throws(() => philoxFill(b, 'float32', uniform(0, 1), k, -1), RangeError)
  t.throws(() => philoxFill(b, 'float32', uniform(0, 1), k, 0.5), RangeError)
  t.throws(() => philoxFill(b, 'float32', uniform(1, 0), k, 0), RangeError)
  t.throws(() => philoxFill(b, 'float32', uniform(0, Infinity), k, 0), RangeError)
  t.throws(() => philoxFill(b, 'float32', uniform(-3e38, 3e38), k, 0), RangeError)
  t.throws(() => philoxFill(b, 'float32', normal(0, -1), k, 0), RangeError)
  t.throws(() => philoxFill(b, 'float32', normal(NaN, 1), k, 0), RangeError)
  t.throws(() => philoxFill(b, 'float32', uniform(0, 1), { seed: 1.5, name: 'w' }, 0), RangeError)
  t.throws(() => philoxFill(b, 'float32', uniform(0, 1), { seed: 2 ** 64, name: 'w' }, 0), RangeError)
  t.throws(() => philoxFill(b, 'float32', uniform(0, 1), { seed: 0, name: 'bad\ud800' }, 0), TypeError)
  t.throws(() => philoxFill(b, 'int8' as FloatDType, uniform(0, 1), k, 0), TypeError)
  philoxFill(new Uint8Array(0), 'float32', uniform(0, 1), k, 2 ** 53 - 1) // empty is fine anywhere
  // Degenerate distributions.
  t.same(Array.from(new Float32Array(fill('float32', uniform(2, 2), 0, 'w', 0, 7).buffer)), Array(7).fill(2))
  t.same(Array.from(new Float64Array(fill('float64', normal(3, 0), 0, 'w', 0, 5).buffer)), Array(5).fill(3))
  // Negative seeds wrap modulo 2^64 like torch.manual_seed: -2^63 and 2^63 are the same seed.
  t.same(Array.from(philoxKey(-(2 ** 63), 'x')), Array.from(philoxKey(2 ** 63, 'x')))
})

t.test('float16 rounding of the fill path equals the general conversion', async t => {
  const src = new Uint32Array(1 << 16)
  const fast = new Uint16Array(src.length)
  const slow = new Uint16Array(src.length)
  let bad = 0
  // Every float16 rounding boundary region: all 2^16 patterns of the bits that matter, at every
  // exponent around the float16 range, plus random words.
  for (let e = 100; e < 145; e++) {
    for (let i = 0; i < src.length; i++) src[i] = ((i & 0x8000) << 16) | (e << 23) | (((i & 0x7fff) << 8) | (i & 0xff)) & 0x7fffff
    castF32BitsToF16Fast(src, fast, 0, src.length)
    castF32BitsToF16(src, slow, 0, src.length)
    for (let i = 0; i < src.length; i++) if (fast[i] !== slow[i]) bad++
  }
  for (let r = 0; r < 20; r++) {
    for (let i = 0; i < src.length; i++) src[i] = (Math.random() * 2 ** 32) >>> 0
    castF32BitsToF16Fast(src, fast, 0, src.length)
    castF32BitsToF16(src, slow, 0, src.length)
    for (let i = 0; i < src.length; i++) if (fast[i] !== slow[i]) bad++
  }
  t.equal(bad, 0)
})
