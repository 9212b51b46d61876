// The bounded, resumable trunc_normal_ loop (docs/trunc-normal.md) against the unbounded one it
// replaced, kept here as the reference: same bytes, same generator state afterwards.
import t from 'tap'
import { CpuGenerator } from '../../src/init/mt19937.js'
import {
  allocDense, decodeElement, defaultProfile, encodeElement, normalFill, type DenseArray
} from '../../src/init/distributions.js'
import {
  truncNormal, truncNormalParams, truncNormalRun, truncNormalStart, TruncBits, TruncOutput
} from '../../src/init/nn-init.js'
import type { FloatDType } from '../../src/tensor/dtype.js'

/** The loop as it was: an index list of every rejected element, a full-size redraw per round. */
function oldTruncNormal (gen: CpuGenerator, dtype: FloatDType, n: number, mean: number, std: number, a: number, b: number): DenseArray {
  const values = allocDense(dtype, n)
  const lo = decodeElement(dtype, encodeElement(dtype, a))
  const hi = decodeElement(dtype, encodeElement(dtype, b))
  normalFill(gen, { dtype, data: values }, mean, std, defaultProfile)
  let fresh: DenseArray | null = null
  const rejected: number[] = []
  for (;;) {
    rejected.length = 0
    for (let i = 0; i < n; i++) {
      const v = decodeElement(dtype, values[i]!)
      if (v < lo || v > hi) rejected.push(i)
    }
    if (rejected.length === 0) break
    fresh ??= allocDense(dtype, n)
    normalFill(gen, { dtype, data: fresh }, mean, std, defaultProfile)
    for (const i of rejected) values[i] = fresh[i]!
  }
  return values
}

const bytes = (d: DenseArray): Buffer => Buffer.from(d.buffer, d.byteOffset, d.byteLength)
const sameState = (x: CpuGenerator, y: CpuGenerator): boolean => Buffer.from(x.getState()).equals(Buffer.from(y.getState()))

const sizes = [1, 7, 15, 16, 17, 31, 33, 100, 1000, 4101, 40_007, 65_536]
const dtypes: FloatDType[] = ['float32', 'float64', 'float16', 'bfloat16']
const bounds = [
  { mean: 0, std: 1, a: -0.4, b: 0.4 }, // p = 0.311: the tight case, ~50 rounds on a large tensor
  { mean: 0, std: 1, a: -2, b: 2 },
  { mean: 0.5, std: 2, a: -1, b: 3 }
]

t.test('truncNormal equals the unbounded loop: bytes and generator state', async (t) => {
  let cases = 0
  for (const dtype of dtypes) {
    for (const n of sizes) {
      if (dtype === 'float64' && n > 5000) continue // float64 normal_ is ~10x slower; the stream logic is the same
      for (const [j, bd] of bounds.entries()) {
        const seed = 1000 * j + n
        const ref = new CpuGenerator(seed)
        const want = oldTruncNormal(ref, dtype, n, bd.mean, bd.std, bd.a, bd.b)
        const gen = new CpuGenerator(seed)
        const got = allocDense(dtype, n)
        truncNormal(gen, { dtype, data: got, shape: [n] }, bd.mean, bd.std, bd.a, bd.b)
        if (!bytes(got).equals(bytes(want)) || !sameState(gen, ref)) t.fail(`${dtype} n=${n} ${JSON.stringify(bd)}`)
        cases++
      }
    }
  }
  t.pass(`${cases} cases agree`)
})

t.test('resumed in small steps, through the bit store and into a cast output: the same stream', async (t) => {
  for (const n of [17, 4101, 65_536]) {
    const { mean, std, a, b } = bounds[0]!
    const ref = new CpuGenerator(n)
    const want = oldTruncNormal(ref, 'float32', n, mean, std, a, b)
    const p = truncNormalParams('float32', n, mean, std, a, b)
    // tiny budgets: every few blocks the loop stops, and its state (plain data) carries on
    const gen = new CpuGenerator(n)
    const out = new Float32Array(n)
    const store = new TruncOutput(out, 'float32', p)
    let state = truncNormalStart()
    let calls = 0
    while (!truncNormalRun(gen, p, store, state, 100)) { state = JSON.parse(JSON.stringify(state)); calls++ }
    t.ok(calls > 5, `n=${n}: ${calls} resumptions`)
    t.ok(bytes(out).equals(bytes(want)), `n=${n}: resumed bytes`)
    t.ok(sameState(gen, ref), `n=${n}: resumed generator state`)
    // a draw nothing keeps advances the generator exactly as far
    const g2 = new CpuGenerator(n)
    truncNormalRun(g2, p, new TruncBits(new Uint8Array(TruncBits.bytes(n)), p), truncNormalStart(), Infinity)
    t.ok(sameState(g2, ref), `n=${n}: bit store consumes the same draws`)
    // computed in float32, stored as bfloat16: the float32 values, each cast once
    const g3 = new CpuGenerator(n)
    const bf = new Uint16Array(n)
    truncNormalRun(g3, p, new TruncOutput(bf, 'bfloat16', p), truncNormalStart(), Infinity)
    const cast = Uint16Array.from(want, (v) => encodeElement('bfloat16', v))
    t.ok(bytes(bf).equals(bytes(cast)), `n=${n}: bfloat16 output = cast of the float32 values`)
    t.ok(sameState(g3, ref), `n=${n}: cast output, same draws`)
  }
})
