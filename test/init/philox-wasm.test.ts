// rng: "philox" WebAssembly SIMD kernel (src/init/philox-wasm.ts): the committed module matches its
// .wat source, and every float32 and bfloat16 uniform output is bit-identical to the JS path of
// philoxFill.
import { readFileSync } from 'node:fs'

import t, { type Test } from 'tap'

import { bytesUrl, compileWasm, renderWasmBytes, wasmKernels } from '../../scripts/build-wasm.js'
import { philoxWasmAvailable, philoxWasmUniform, wasmCastF32ToBf16 } from '../../src/init/philox-wasm.js'
import { castF32BitsToBf16 } from '../../src/init/fp.js'
import { philoxFill, philoxFillJs, philoxKey, type PhiloxDist } from '../../src/init/philox.js'
import { firstDiff, makeTarget, mulberry32 } from './helpers.js'

const TWO32 = 2 ** 32
type Dtype = 'float32' | 'bfloat16'
const size: Record<Dtype, number> = { float32: 4, bfloat16: 2 }

/** The JS path of philoxFill. */
function jsFill (target: Uint8Array, dtype: Dtype, dist: PhiloxDist, seed: number, name: string, first: number): void {
  philoxFillJs(target, dtype, dist, { seed, name }, first)
}

/** The float32 bounds philoxFill passes on (checkParams). */
function bounds (low: number, high: number): { lo: number, range: number } {
  const lo = Math.fround(low)
  return { lo, range: Math.fround(Math.fround(high) - lo) }
}

t.test('committed philox-wasm-bytes.ts is what scripts/build-wasm.ts makes from the .wat', async t => {
  const k = wasmKernels.philox
  const expected = renderWasmBytes(k, await compileWasm(k))
  t.equal(readFileSync(bytesUrl(k), 'utf8'), expected, 'run `npx tsx scripts/build-wasm.ts` after editing src/init/philox-wasm.wat')
})

t.test('the kernel loads (WebAssembly SIMD) on this runtime', async t => {
  t.ok(philoxWasmAvailable(), `WebAssembly SIMD kernel available on node ${process.version}`)
})

interface Case { dtype: Dtype, seed: number, name: string, first: number, n: number, off: number, shared: boolean, low: number, high: number }

/** Compares WASM (direct and through philoxFill) with JS; 'wasm' if the kernel ran, 'js' if it declined, 'fail' on any difference. */
function check (t: Test, c: Case): 'wasm' | 'js' | 'fail' {
  const dist: PhiloxDist = { kind: 'uniform', low: c.low, high: c.high }
  const bytes = c.n * size[c.dtype]
  const ref = makeTarget(bytes, c.off, c.shared)
  jsFill(ref, c.dtype, dist, c.seed, c.name, c.first)
  // Direct kernel call.
  const direct = makeTarget(bytes, c.off, c.shared)
  const key = philoxKey(c.seed, c.name)
  const { lo, range } = bounds(c.low, c.high)
  const used = philoxWasmUniform(direct, c.dtype, c.first, c.n, lo, range, key[0]!, key[1]!)
  // Through philoxFill's dispatch (WASM on).
  const viaFill = makeTarget(bytes, c.off, c.shared)
  philoxFill(viaFill, c.dtype, dist, { seed: c.seed, name: c.name }, c.first)
  const label = JSON.stringify(c)
  const d1 = firstDiff(used ? direct : ref, ref)
  const d2 = firstDiff(viaFill, ref)
  // Bytes around the target are untouched.
  const whole = new Uint8Array(viaFill.buffer)
  const outside = whole.subarray(0, c.off).every(v => v === 0xa5) && whole.subarray(c.off + bytes).every(v => v === 0xa5)
  if (d1 !== -1 || d2 !== -1 || !outside) {
    t.fail(`${label}: direct diff at byte ${d1}, philoxFill diff at byte ${d2}, outside untouched ${String(outside)}`)
    return 'fail'
  }
  return used ? 'wasm' : 'js'
}

t.test('WASM equals JS bit for bit on random (seed, name, firstElement, length, offset, buffer)', async t => {
  const r = mulberry32(0x5eed)
  const names = ['w', 'layers.0.attn.q_proj.weight', 'emb', 'ünïcødé.weight', '', 'model.layers.31.mlp.down_proj.weight']
  const boundsList: Array<[number, number]> = [[-0.05, 0.05], [-1, 1], [0, 1], [-1.5e38, 1.6e38], [1e-30, 2e-30],
    [-0, 0], [2.5, 2.5], [0, 2 ** -120], [-(2 ** -118), 2 ** -118 * 2], [2 ** -125, 2 ** -125 + 3 * 2 ** -118], [-7.25, 1e6], [-1e-3, -1e-4], [0.1, 0.7]]
  let cases = 0; let wasmCases = 0; let failed = 0
  for (let i = 0; i < 1200; i++) {
    const dtype: Dtype = i % 3 === 2 ? 'bfloat16' : 'float32'
    const seedKind = i % 4
    const seed = seedKind === 0 ? Math.floor(r() * 1000) : seedKind === 1 ? -Math.floor(r() * 2 ** 53) : seedKind === 2 ? Math.floor(r() * 2 ** 53) : 2 ** 63 + Math.floor(r() * 2 ** 11) * 2 ** 52
    const name = names[i % names.length]!
    // firstElement: small, around multiples of 2^32 blocks (5 * 2^32 k elements), or anywhere below 2^53.
    const where = Math.floor(r() * 4)
    const first = where === 0
      ? Math.floor(r() * 100)
      : where === 1
        ? 5 * TWO32 * (1 + Math.floor(r() * 3)) - Math.floor(r() * 200)
        : where === 2 ? TWO32 + Math.floor(r() * 1e9) : Math.floor(r() * (2 ** 53 - 1e6))
    // Lengths: tiny, not multiples of the block (5) or the group, across the 4096-block chunks.
    const lenKind = Math.floor(r() * 4)
    const n = lenKind === 0 ? 1 + Math.floor(r() * 40) : lenKind === 1 ? 1 + Math.floor(r() * 2000) : lenKind === 2 ? 20480 + Math.floor(r() * 3) - 1 : Math.floor(r() * 70000)
    const off = Math.floor(r() * 8) // odd and unaligned byte offsets included
    const shared = (i & 1) === 1
    const [low, high] = boundsList[Math.floor(r() * boundsList.length)]!
    const c: Case = { dtype, seed, name, first, n, off, shared, low, high }
    cases++
    const result = check(t, c)
    if (result === 'wasm') wasmCases++
    else if (result === 'js' && n > 0 && Math.fround(bounds(low, high).range * 2 ** -24) === bounds(low, high).range * 2 ** -24) {
      t.fail(`kernel declined a representable case ${JSON.stringify(c)}`); failed++
    }
  }
  t.ok(wasmCases > cases * 0.8, `${wasmCases} of ${cases} cases ran on the WASM kernel and matched`)
  t.equal(failed, 0)
})

t.test('WASM equals JS across a 2^32-block counter boundary and at the end of the index range', async t => {
  const starts = [5 * TWO32 - 20480 * 2 - 3, 5 * TWO32 - 1, 5 * TWO32, 10 * TWO32 - 7, 2 ** 53 - 30001, 2 ** 40 + 1]
  for (const first of starts) {
    for (const [dtype, shared] of [['float32', false], ['float32', true], ['bfloat16', false], ['bfloat16', true]] as const) {
      const n = Math.min(90001, 2 ** 53 - first)
      t.equal(check(t, { dtype, seed: 42, name: 'boundary', first, n, off: 3, shared, low: -0.5, high: 0.25 }), 'wasm', `${dtype} first=${first} shared=${String(shared)}`)
    }
  }
})

t.test('a range whose step is not exact in float32 falls back to JS', async t => {
  const { lo, range } = bounds(0, 1e-40) // range subnormal: range * 2^-24 is not a float32
  const target = new Uint8Array(40)
  const key = philoxKey(1, 'w')
  t.equal(philoxWasmUniform(target, 'float32', 0, 10, lo, range, key[0]!, key[1]!), false)
  t.equal(philoxWasmUniform(target, 'bfloat16', 0, 20, lo, range, key[0]!, key[1]!), false)
  t.equal(check(t, { dtype: 'float32', seed: 1, name: 'w', first: 3, n: 1001, off: 1, shared: true, low: 0, high: 1e-40 }), 'js')
})

t.test('a large fill, many chunks, SharedArrayBuffer at an odd offset', async t => {
  t.equal(check(t, { dtype: 'float32', seed: 7, name: 'big.weight', first: 123457, n: 3_000_001, off: 5, shared: true, low: -0.02, high: 0.02 }), 'wasm')
  t.equal(check(t, { dtype: 'bfloat16', seed: 7, name: 'big.weight', first: 123457, n: 3_000_001, off: 3, shared: true, low: -0.02, high: 0.02 }), 'wasm')
})

t.test('the kernel\'s float32 -> bfloat16 cast equals castF32BitsToBf16 on every kind of value', async t => {
  if (!philoxWasmAvailable()) { t.fail('WebAssembly SIMD is not available'); return }
  const next = mulberry32(11)
  const specials = [0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0xffffffff, 0x00000001, 0x007fffff, 0x3f808000, 0x3f818000, 0x3f807fff, 0x7f7fffff, 0x7f7f8000]
  for (const n of [1, 7, 8, 9, 16384, 16385, 50000]) {
    const bits = new Uint32Array(n)
    for (let i = 0; i < n; i++) bits[i] = specials[i % (specials.length * 3)] ?? Math.floor(next() * TWO32)
    const js = new Uint16Array(n)
    castF32BitsToBf16(bits, js, 0, n)
    const wasm = new Uint8Array(2 * n)
    t.ok(wasmCastF32ToBf16(new Uint8Array(bits.buffer), wasm), 'ran')
    t.equal(firstDiff(new Uint8Array(js.buffer), wasm), -1, `${n} elements`)
  }
})
