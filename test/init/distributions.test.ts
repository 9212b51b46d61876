import t from 'tap'

import {
  type FillTarget, type InitProfile, normalFill, profile113, profile2x, uniformFill, UnsupportedInitError
} from '../../src/init/distributions.js'
import { bf16BitsFromF32, f16BitsFromF32, f32Bits, f64Hex, fma32 } from '../../src/init/fp.js'
import { CpuGenerator } from '../../src/init/mt19937.js'
import { alloc, bytesOf, countElementDiffs, hexOf, loadFixture, matchesEntry, profileOf, sha256Of } from './helpers.js'
import type { FloatDType } from '../../src/tensor/dtype.js'

const dtypes: FloatDType[] = ['float32', 'float64', 'float16', 'bfloat16']

function run (gen: CpuGenerator, op: string, target: FillTarget, p0: number, p1: number, profile: InitProfile): void {
  if (op === 'uniform') uniformFill(gen, target, p0, p1, profile)
  else normalFill(gen, target, p0, p1, profile)
}

interface StateEntry { sha256: string, left: number, next: number, cachedNormal: string | null }

/** Compare the generator with torch's state. Returns 'exact', 'cache' (only the cached double's
 * last bits differ; it comes from sin) or 'position' (a real failure). */
function stateMatch (g: CpuGenerator, st: StateEntry): 'exact' | 'cache' | 'position' {
  if (sha256Of(g.getState()) === st.sha256) return 'exact'
  if (g.engine.left !== st.left || g.engine.next !== st.next) return 'position'
  if ((st.cachedNormal === null) !== !g.hasDoubleNormal) return 'position'
  return 'cache'
}

for (const file of ['vectors_2.13_avx2.json', 'vectors_1.13_avx2.json']) {
  t.test(`op vectors (${file})`, async t => {
    const v = loadFixture(file)
    const profile = profileOf(v.profile.version)
    for (const op of v.ops) {
      const [kind, rest] = op.op.split('_(') as [string, string]
      const [a, b] = rest.slice(0, -1).split(',').map(Number) as [number, number]
      const dt = op.dtype as FloatDType
      const arr = alloc(dt, op.numel)
      run(new CpuGenerator(op.seed), kind, { dtype: dt, data: arr }, a, b, profile)
      const bits = Array.from(arr as Float32Array, x => dt === 'float32' ? f32Bits(x).toString(16).padStart(8, '0') : f64Hex(x))
      t.same(bits, op.bits, `${op.op} ${dt} n=${op.numel}`)
    }
  })
}

t.test('torch 2.13 sweep: seeds x dtypes x sizes x bounds', async t => {
  const v = loadFixture('torch-2.13-extra.json')
  let exact = 0; let f64Elems = 0; let f64Diff = 0; let cacheDiff = 0; let scalarCases = 0
  for (const c of v.ops) {
    const dt = c.dtype as FloatDType
    const g = new CpuGenerator(c.seed)
    const arr = alloc(dt, c.numel)
    run(g, c.op, { dtype: dt, data: arr }, c.params[0], c.params[1], profile2x)
    const label = `seed ${c.seed} ${c.op}(${c.params}) ${dt} n=${c.numel}`
    if (c.op === 'normal' && dt === 'float64') {
      f64Elems += c.numel
      f64Diff += countElementDiffs(arr, c.hex, dt)
    } else if (!matchesEntry(arr, c)) {
      t.fail(`values differ: ${label}`)
      continue
    }
    const sm = stateMatch(g, c.state)
    if (sm === 'position') t.fail(`generator position differs: ${label}`)
    if (c.op === 'normal' && c.numel < 16) scalarCases++
    if (sm === 'cache') cacheDiff++
    else if (sm === 'exact') exact++
  }
  t.comment(`${v.ops.length} cases; ${exact} byte-exact incl. generator state; float64 normal_ elements ` +
    `differing in the last bits: ${f64Diff}/${f64Elems}; cached-sample last-bit differences: ${cacheDiff}/${scalarCases} scalar-path cases`)
  t.ok(f64Diff <= 0.01 * f64Elems, 'float64 normal_ mismatch rate below 1% (glibc misrounding)')
  t.ok(cacheDiff <= 0.02 * scalarCases)
})

t.test('torch 2.13 normal-cache sequences carry the cached sample across calls', async t => {
  const v = loadFixture('torch-2.13-extra.json')
  for (const seq of v.sequences) {
    const g = new CpuGenerator(seq.seed)
    seq.steps.forEach((s: any, i: number) => {
      const dt = s.dtype as FloatDType
      const arr = alloc(dt, s.numel)
      run(g, s.op, { dtype: dt, data: arr }, s.op === 'uniform' ? 0 : 0, 1, profile2x)
      const label = `seed ${seq.seed} step ${i}: ${s.op} ${dt} n=${s.numel}`
      t.equal(hexOf(arr), s.hex, label)
      t.not(stateMatch(g, s.state), 'position', `${label} generator position`)
    })
  }
  // Splitting a scalar-path normal_ at an odd count changes nothing: the cache bridges the calls.
  const whole = alloc('float32', 10)
  normalFill(new CpuGenerator(5), { dtype: 'float32', data: whole })
  const g = new CpuGenerator(5)
  const a = alloc('float32', 5); const b = alloc('float32', 5)
  normalFill(g, { dtype: 'float32', data: a })
  t.ok(g.hasDoubleNormal, 'odd count leaves a cached sample')
  normalFill(g, { dtype: 'float32', data: b })
  t.same([...a, ...b], [...whole])
  // The fill path (n >= 16) neither reads nor clears the cache.
  const h = new CpuGenerator(5)
  normalFill(h, { dtype: 'float32', data: alloc('float32', 1) })
  const cached = h.doubleNormal
  normalFill(h, { dtype: 'float32', data: alloc('float32', 17) })
  t.ok(h.hasDoubleNormal)
  t.equal(h.doubleNormal, cached)
})

t.test('torch 2.13 large fills (many twists, chunk boundaries, ragged tails)', async t => {
  const v = loadFixture('torch-2.13-extra.json')
  for (const c of v.large) {
    const dt = c.dtype as FloatDType
    const g = new CpuGenerator(c.seed)
    const arr = alloc(dt, c.numel)
    run(g, c.op, { dtype: dt, data: arr }, 0, 1, profile2x)
    const label = `${c.op} ${dt} n=${c.numel}`
    if (c.op === 'normal' && dt === 'float64') {
      const d = countElementDiffs(arr, c.hex, dt)
      t.comment(`${label}: ${d} of ${c.numel} elements differ in the last bits (glibc misrounding)`)
      t.ok(d <= 0.01 * c.numel)
    } else {
      t.ok(matchesEntry(arr, c), label)
    }
    t.equal(stateMatch(g, c.state), 'exact', `${label} generator state`)
  }
})

t.test('torch 1.13 profile (reference-derived vectors)', async t => {
  const v = loadFixture('ref-1.13-extra.json')
  let f64Diff = 0; let f64Elems = 0; let n = 0
  for (const c of v.ops) {
    const dt = c.dtype as FloatDType
    const g = new CpuGenerator(c.seed)
    const arr = alloc(dt, c.numel)
    run(g, c.op, { dtype: dt, data: arr }, c.params[0], c.params[1], profile113)
    const label = `seed ${c.seed} ${c.op}(${c.params}) ${dt} n=${c.numel}`
    if (c.op === 'normal' && dt === 'float64') {
      f64Elems += c.numel
      f64Diff += countElementDiffs(arr, c.hex, dt)
    } else if (!matchesEntry(arr, c)) {
      t.fail(`values differ: ${label}`)
    }
    if (g.engine.left !== c.left || g.engine.next !== c.next) t.fail(`position differs: ${label}`)
    if ((c.cachedNormal === null) === g.hasDoubleNormal) t.fail(`cache presence differs: ${label}`)
    n++
  }
  t.comment(`${n} cases; float64 normal_ last-bit differences ${f64Diff}/${f64Elems}`)
  t.ok(f64Diff <= 0.01 * f64Elems)
  t.throws(() => normalFill(new CpuGenerator(0), { dtype: 'float16', data: alloc('float16', 16) }, 0, 1, profile113),
    UnsupportedInitError)
})

t.test('byte targets: aligned views (SharedArrayBuffer) and misaligned chunks give the same bytes', async t => {
  for (const dt of dtypes) {
    for (const n of [0, 1, 7, 16, 33, 4096, 4111, 9000]) {
      for (const op of ['uniform', 'normal']) {
        const ref = alloc(dt, n)
        const g0 = new CpuGenerator(7)
        run(g0, op, { dtype: dt, data: ref }, -0.5, 0.5, profile2x)
        const size = bytesOf(ref).byteLength
        const sab = new SharedArrayBuffer(size + 24)
        const aligned = new Uint8Array(sab, 8, size)
        const g1 = new CpuGenerator(7)
        run(g1, op, { dtype: dt, data: aligned }, -0.5, 0.5, profile2x)
        const mis = new Uint8Array(new ArrayBuffer(size + 3), 3, size)
        const g2 = new CpuGenerator(7)
        run(g2, op, { dtype: dt, data: mis }, -0.5, 0.5, profile2x)
        const want = Buffer.from(bytesOf(ref))
        const ok = want.equals(Buffer.from(aligned)) && want.equals(Buffer.from(mis)) &&
          Buffer.from(g0.getState()).equals(Buffer.from(g1.getState())) &&
          Buffer.from(g0.getState()).equals(Buffer.from(g2.getState()))
        if (!ok) t.fail(`${op} ${dt} n=${n}`)
      }
    }
  }
  t.pass('all dtypes, sizes and ops')
  // Neighbouring bytes are untouched.
  const buf = new Uint8Array(12).fill(0xaa)
  uniformFill(new CpuGenerator(0), { dtype: 'float32', data: buf.subarray(2, 10) })
  t.same([buf[0], buf[1], buf[10], buf[11]], [0xaa, 0xaa, 0xaa, 0xaa])
})

t.test('uniform_ with bounds where the double sum is inexact takes the fma32 path', async t => {
  const fround = Math.fround
  for (const [a, b] of [[-1e-30, 1e4], [1e-3, 1e-3 + 1e-9], [-3, 1e-20], [0.1, 0.7], [-1, 1]] as Array<[number, number]>) {
    for (const dt of ['float32', 'float16', 'bfloat16'] as FloatDType[]) {
      const n = 3000
      const arr = alloc(dt, n)
      uniformFill(new CpuGenerator(11), { dtype: dt, data: arr }, a, b)
      const g = new CpuGenerator(11)
      const from = fround(a); const to = fround(b); const range = fround(to - from)
      const cast = (v: number): number => dt === 'float32' ? v : dt === 'float16' ? f16BitsFromF32(v) : bf16BitsFromF32(v)
      let bad = 0
      for (let i = 0; i < n; i++) {
        let v = cast(fma32((g.random() & 0xffffff) * 2 ** -24, range, from))
        if (dt === 'float32' ? v === to : (v & 0x7fff) === (cast(to) & 0x7fff) && ((v ^ cast(to)) & 0x8000) === 0) v = cast(from)
        if (!Object.is(arr[i], v)) bad++
      }
      t.equal(bad, 0, `uniform_(${a}, ${b}) ${dt}`)
    }
  }
})

t.test('argument checks and zero-size tensors', async t => {
  const g = new CpuGenerator(0)
  const f = alloc('float32', 4)
  t.throws(() => uniformFill(g, { dtype: 'float32', data: f }, 1, 0), RangeError)
  t.throws(() => uniformFill(g, { dtype: 'float32', data: f }, 0, Infinity), RangeError)
  t.throws(() => uniformFill(g, { dtype: 'float16', data: alloc('float16', 2) }, -70000, 70000), RangeError)
  t.throws(() => normalFill(g, { dtype: 'float32', data: f }, 0, -1), RangeError)
  t.throws(() => normalFill(g, { dtype: 'float64', data: f }), TypeError)
  t.throws(() => uniformFill(g, { dtype: 'float32', data: new Uint8Array(6) }), RangeError)
  const before = sha256Of(g.getState())
  uniformFill(g, { dtype: 'float32', data: alloc('float32', 0) })
  normalFill(g, { dtype: 'float64', data: alloc('float64', 0) })
  t.equal(sha256Of(g.getState()), before, 'empty tensors draw nothing')
  // uniform_(a, a) is all `a` and still draws.
  uniformFill(g, { dtype: 'float32', data: f }, 0.25, 0.25)
  t.same([...f], [0.25, 0.25, 0.25, 0.25])
  t.not(sha256Of(g.getState()), before)
})
