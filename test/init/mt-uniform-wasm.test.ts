// MT19937 float32 uniform_ WebAssembly SIMD kernel (src/init/mt-uniform-wasm.ts): the committed
// module matches its .wat source, and every output and the generator's final state are
// bit-identical to uniformF32's JS path.
import { readFileSync } from 'node:fs'

import t, { type Test } from 'tap'

import { bytesUrl, compileWasm, renderWasmBytes, wasmKernels } from '../../scripts/build-wasm.js'
import { profile113, profile2x, uniformFill } from '../../src/init/distributions.js'
import { mtUniformWasmAvailable, mtUniformWasmF32 } from '../../src/init/mt-uniform-wasm.js'
import { CpuGenerator } from '../../src/init/mt19937.js'
import { sumIsExact, uniformF32 } from '../../src/init/uniform-fill.js'
import { firstDiff, makeTarget, mulberry32 } from './helpers.js'
import type { FloatDType } from '../../src/tensor/dtype.js'

function sameState (a: CpuGenerator, b: CpuGenerator): boolean {
  return firstDiff(a.getState(), b.getState()) === -1
}

t.test('committed mt-uniform-wasm-bytes.ts is what scripts/build-wasm.ts makes from the .wat', async t => {
  const k = wasmKernels.mtUniform
  const expected = renderWasmBytes(k, await compileWasm(k))
  t.equal(readFileSync(bytesUrl(k), 'utf8'), expected, 'run `npx tsx scripts/build-wasm.ts` after editing src/init/mt-uniform-wasm.wat')
})

t.test('the kernel loads (WebAssembly SIMD) on this runtime', async t => {
  t.ok(mtUniformWasmAvailable(), `WebAssembly SIMD kernel available on node ${process.version}`)
})

const boundsList: Array<[number, number]> = [
  [0, 1], [-1, 1], [-0.011048543456039804, 0.011048543456039804], [-0.05, 0.05], [-0.125, 0.125], [0.1, 0.7],
  [-7.25, 1e6], [-1e-3, -1e-4], [1e-30, 2e-30], [-1.5e38, 1.6e38], [0, 2 ** -120], [-(2 ** -118), 2 ** -117],
  [2 ** -125, 2 ** -125 + 3 * 2 ** -118], [0, 1e-40], [-1e-42, 1e-42], [-0, 0], [2.5, 2.5], [3, 3.0000002],
  [-1, -0], [-(2 ** -126), 0], [1, 2], [-3.4e38, 0]
]

interface Case { seed: number, skip: number, n: number, off: number, shared: boolean, low: number, high: number, dtype: FloatDType, v113: boolean }

/** uniformFill with WASM on vs off from the same generator position: same bytes, same final state. */
function check (t: Test, c: Case): boolean {
  const size = c.dtype === 'float32' ? 4 : 2
  const g0 = new CpuGenerator(c.seed)
  g0.discard(c.skip)
  const g1 = g0.clone()
  const profile = c.v113 ? profile113 : profile2x
  const ref = makeTarget(c.n * size, c.off, c.shared)
  uniformFill(g0, { dtype: c.dtype, data: ref }, c.low, c.high, profile, false)
  const got = makeTarget(c.n * size, c.off, c.shared)
  uniformFill(g1, { dtype: c.dtype, data: got }, c.low, c.high, profile)
  const d = firstDiff(got, ref)
  const whole = new Uint8Array(got.buffer)
  const outside = whole.subarray(0, c.off).every(v => v === 0xa5) && whole.subarray(c.off + c.n * size).every(v => v === 0xa5)
  const st = sameState(g0, g1)
  if (d !== -1 || !outside || !st) {
    t.fail(`${JSON.stringify(c)}: diff at byte ${d}, outside untouched ${String(outside)}, same state ${String(st)}`)
    return false
  }
  return true
}

t.test('uniformFill: WASM equals JS bit for bit (random seeds, positions, lengths, bounds, buffers)', async t => {
  const r = mulberry32(0x3719)
  let fails = 0
  const cases = 1500
  for (let i = 0; i < cases; i++) {
    const seedKind = i % 3
    const seed = seedKind === 0 ? Math.floor(r() * 1000) : seedKind === 1 ? Math.floor(r() * 2 ** 53) : -Math.floor(r() * 2 ** 40)
    const skipKind = Math.floor(r() * 4)
    const skip = skipKind === 0 ? 0 : skipKind === 1 ? Math.floor(r() * 624) : skipKind === 2 ? 624 * Math.floor(r() * 5) + [0, 1, 623][Math.floor(r() * 3)]! : Math.floor(r() * 5000)
    const lenKind = Math.floor(r() * 5)
    const n = lenKind === 0 ? 1 + Math.floor(r() * 100) : lenKind === 1 ? 1 + 2 * Math.floor(r() * 1500) : lenKind === 2 ? 16384 + Math.floor(r() * 5) - 2 : lenKind === 3 ? 624 * (1 + Math.floor(r() * 3)) + Math.floor(r() * 3) - 1 : 1 + Math.floor(r() * 70000)
    const off = Math.floor(r() * 9)
    const shared = (i & 1) === 1
    const [low, high] = boundsList[Math.floor(r() * boundsList.length)]!
    const dk = i % 10
    // 16-bit dtypes only take bounds whose width fits their range (torch's check).
    const dtype: FloatDType = dk < 7 || high - low > 65504 ? 'float32' : dk < 9 ? 'bfloat16' : 'float16'
    const v113 = i % 7 === 3
    if (!check(t, { seed, skip, n, off, shared, low, high, dtype, v113 })) fails++
  }
  t.equal(fails, 0, `${cases} cases`)
})

t.test('uniformF32 direct: WASM equals JS, outputs and generator state, many mid-stream calls', async t => {
  const r = mulberry32(0xbeef)
  let wasmCalls = 0
  for (let i = 0; i < 300; i++) {
    const [low, high] = boundsList[i % boundsList.length]!
    const from = Math.fround(low); const to = Math.fround(high); const range = Math.fround(to - from)
    const mask = i % 5 === 4 ? 0x7ff : 0xffffff
    const scale = mask === 0x7ff ? 2 ** -11 : 2 ** -24
    const clampTo = i % 2 === 0 ? to : NaN
    const g0 = new CpuGenerator(i * 7919 + 1); g0.discard(Math.floor(r() * 2000))
    const g1 = g0.clone()
    const n = 20000
    const a = new Float32Array(n); const b = new Float32Array(n)
    // A sequence of pieces of random size, each a separate call (the stream must continue exactly).
    let off = 0
    while (off < n) {
      const k = Math.min(n - off, 1 + Math.floor(r() * (r() < 0.5 ? 100 : 3000)))
      uniformF32(g0, a, off, k, mask, scale, from, range, clampTo, false)
      uniformF32(g1, b, off, k, mask, scale, from, range, clampTo)
      off += k
    }
    const d = firstDiff(new Uint8Array(a.buffer), new Uint8Array(b.buffer))
    t.ok(d === -1 && sameState(g0, g1), `bounds [${low}, ${high}) mask ${mask.toString(16)} clamp ${String(clampTo)}: diff ${d}`)
    if (sumIsExact(scale, range, from)) {
      const g2 = g0.clone(); const g3 = g0.clone()
      const c = new Float32Array(777); const e = new Float32Array(777)
      uniformF32(g2, c, 0, 777, mask, scale, from, range, clampTo, false)
      if (mtUniformWasmF32(g3.engine, e, 0, 777, mask, range * scale, from, clampTo)) wasmCalls++
      t.ok(firstDiff(new Uint8Array(c.buffer), new Uint8Array(e.buffer)) === -1 && sameState(g2, g3), 'direct kernel call')
    }
  }
  t.ok(wasmCalls > 0, `${wasmCalls} direct kernel calls`)
})

t.test('exhaustive check of the clamp rule: values that round onto `to` become `from`', async t => {
  // [1, 1 + 2^-23): range = 2^-23, so k * 2^-47 + 1 rounds to 1 + 2^-23 = to for k >= 2^23 (ties to even).
  const g0 = new CpuGenerator(99); const g1 = g0.clone()
  const n = 100_000
  const a = new Float32Array(n); const b = new Float32Array(n)
  const to = 1 + 2 ** -23
  uniformFill(g0, { dtype: 'float32', data: a }, 1, to, undefined, false)
  uniformFill(g1, { dtype: 'float32', data: b }, 1, to)
  t.equal(firstDiff(new Uint8Array(a.buffer), new Uint8Array(b.buffer)), -1)
  t.ok(sameState(g0, g1))
  t.notOk(b.includes(Math.fround(to)), 'no value equals `to`')
})

t.test('a large fill across many chunks, SharedArrayBuffer at an odd offset', async t => {
  for (const [dtype, off] of [['float32', 5], ['float32', 4], ['bfloat16', 3]] as const) {
    t.ok(check(t, { seed: 7, skip: 123, n: 1_000_003, off, shared: true, low: -0.02, high: 0.02, dtype, v113: false }), `${dtype} off ${off}`)
  }
})
