import t from 'tap'

import { profile113, UnsupportedInitError } from '../../src/init/distributions.js'
import { f32Bits, f64Hex } from '../../src/init/fp.js'
import { CpuGenerator } from '../../src/init/mt19937.js'
import {
  calculateFanInAndFanOut, calculateGain, constant, dirac, eye, type InitTensor, kaimingNormal, kaimingUniform, normal,
  ones, truncNormal, uniform, xavierNormal, xavierUniform, zeros
} from '../../src/init/nn-init.js'
import { alloc, loadFixture, matchesEntry, profileOf, sha256Of } from './helpers.js'
import type { FloatDType } from '../../src/tensor/dtype.js'

function tensor (shape: number[], dtype: FloatDType = 'float32'): InitTensor {
  return { shape, dtype, data: alloc(dtype, shape.reduce((a, b) => a * b, 1)) }
}

function bitsOf (x: InitTensor): string[] {
  return Array.from(x.data as Float32Array, v => x.dtype === 'float32' ? f32Bits(v).toString(16).padStart(8, '0') : f64Hex(v))
}

// Module constructors replayed with nn-init calls in torch's RNG order (docs/torch-init.md §5).
type Built = Array<[string, InitTensor]>
const sqrt5 = Math.sqrt(5)
const builders: Record<string, (g: CpuGenerator, p: typeof profile113) => Built> = {
  Linear: (g, p) => {
    const w = tensor([3, 4]); const b = tensor([3])
    kaimingUniform(g, w, sqrt5, 'fan_in', 'leaky_relu', p)
    const bound = 1 / Math.sqrt(calculateFanInAndFanOut(w.shape).fanIn)
    uniform(g, b, -bound, bound, p)
    return [['weight', w], ['bias', b]]
  },
  Embedding: (g, p) => {
    const w = tensor([3, 5])
    normal(g, w, 0, 1, p)
    return [['weight', w]]
  },
  Conv1d: (g, p) => {
    const w = tensor([4, 1, 3]); const b = tensor([4])
    kaimingUniform(g, w, sqrt5, 'fan_in', 'leaky_relu', p)
    const bound = 1 / Math.sqrt(calculateFanInAndFanOut(w.shape).fanIn)
    uniform(g, b, -bound, bound, p)
    return [['weight', w], ['bias', b]]
  },
  LSTM: (g, p) => {
    const ps: Built = [['weight_ih_l0', tensor([12, 2])], ['weight_hh_l0', tensor([12, 3])],
      ['bias_ih_l0', tensor([12])], ['bias_hh_l0', tensor([12])]]
    const stdv = 1.0 / Math.sqrt(3)
    for (const [, x] of ps) uniform(g, x, -stdv, stdv, p)
    return ps
  },
  MultiheadAttention: (g, p) => {
    const outW = tensor([4, 4]); const outB = tensor([4])
    kaimingUniform(g, outW, sqrt5, 'fan_in', 'leaky_relu', p) // out_proj = Linear(4, 4), built first
    uniform(g, outB, -1 / Math.sqrt(4), 1 / Math.sqrt(4), p)
    const inW = tensor([12, 4]); const inB = tensor([12]); const bk = tensor([1, 1, 4]); const bv = tensor([1, 1, 4])
    xavierUniform(g, inW, 1, p)
    constant(inB, 0)
    constant(outB, 0)
    xavierNormal(g, bk, 1, p)
    xavierNormal(g, bv, 1, p) // E < 16: scalar path, bias_v starts with the sample bias_k left
    return [['in_proj_weight', inW], ['in_proj_bias', inB], ['bias_k', bk], ['bias_v', bv],
      ['out_proj.weight', outW], ['out_proj.bias', outB]]
  }
}

for (const file of ['vectors_2.13_avx2.json', 'vectors_1.13_avx2.json']) {
  t.test(`module state_dicts (${file})`, async t => {
    const v = loadFixture(file)
    const profile = profileOf(v.profile.version)
    for (const m of v.modules) {
      const name = (m.ctor as string).split('(')[0]!
      const built = builders[name]!(new CpuGenerator(m.seed), profile)
      t.same(built.map(([k]) => k), m.state_dict.map((e: any) => e.key), `${m.ctor} keys`)
      for (const [i, e] of (m.state_dict as any[]).entries()) {
        const [, x] = built[i]!
        t.same(x.shape, e.shape)
        t.same(bitsOf(x), e.bits, `${m.ctor} ${e.key}`)
      }
    }
  })
}

t.test('nn.init calls vs torch 2.13', async t => {
  const v = loadFixture('torch-2.13-extra.json')
  let n = 0
  for (const c of v.inits) {
    const g = new CpuGenerator(c.seed)
    const x = tensor(c.shape, c.dtype as FloatDType)
    const k = c.kwargs
    switch (c.fn) {
      case 'kaiming_uniform_': kaimingUniform(g, x, k.a ?? 0, k.mode ?? 'fan_in', k.nonlinearity ?? 'leaky_relu'); break
      case 'kaiming_normal_': kaimingNormal(g, x, k.a ?? 0, k.mode ?? 'fan_in', k.nonlinearity ?? 'leaky_relu'); break
      case 'xavier_uniform_': xavierUniform(g, x, k.gain ?? 1); break
      case 'xavier_normal_': xavierNormal(g, x, k.gain ?? 1); break
      case 'uniform_': uniform(g, x, k.a, k.b); break
      case 'normal_': normal(g, x, k.mean, k.std); break
      case 'trunc_normal_': truncNormal(g, x, k.mean ?? 0, k.std ?? 1, k.a ?? -2, k.b ?? 2); break
      case 'constant_': constant(x, k.val); break
      case 'ones_': ones(x); break
      case 'zeros_': zeros(x); break
      case 'eye_': eye(x); break
      case 'dirac_': dirac(x, k.groups ?? 1); break
      default: t.fail(`unknown ${c.fn}`)
    }
    const label = `seed ${c.seed} ${c.fn}(${JSON.stringify(k)}) ${c.dtype} [${c.shape}]`
    t.ok(matchesEntry(x.data, c), label)
    t.equal(sha256Of(g.getState()), c.state.sha256, `${label} generator state`)
    n++
  }
  t.comment(`${n} init calls`)
})

t.test('calculate_gain and fans use torch\'s double arithmetic', async t => {
  t.equal(calculateGain('linear'), 1)
  t.equal(calculateGain('conv_transpose2d'), 1)
  t.equal(calculateGain('sigmoid'), 1)
  t.equal(calculateGain('tanh'), 5.0 / 3)
  t.equal(calculateGain('relu'), Math.SQRT2)
  t.equal(calculateGain('selu'), 0.75)
  t.equal(calculateGain('leaky_relu'), Math.sqrt(2.0 / (1 + 0.0001)))
  t.equal(calculateGain('leaky_relu', 0), Math.SQRT2)
  t.equal(calculateGain('leaky_relu', sqrt5), Math.sqrt(2.0 / (1 + 5.000000000000001)))
  t.throws(() => calculateGain('leaky_relu', true), RangeError)
  t.throws(() => calculateGain('gelu'), RangeError)
  t.same(calculateFanInAndFanOut([8, 3, 5, 2]), { fanIn: 30, fanOut: 80 })
  t.throws(() => calculateFanInAndFanOut([3]), RangeError)
  // Linear(20, ·): sqrt(3) * (sqrt(2 / (1 + sqrt(5)**2)) / sqrt(20)), not 1/sqrt(20).
  const gain = calculateGain('leaky_relu', sqrt5)
  t.equal(Math.sqrt(3.0) * (gain / Math.sqrt(20)), 0.22360679774997894)
  const a = new CpuGenerator(0); const b = new CpuGenerator(0)
  const w1 = tensor([7, 20]); const w2 = tensor([7, 20])
  kaimingUniform(a, w1, sqrt5)
  uniform(b, w2, -0.22360679774997894, 0.22360679774997894)
  t.same([...w1.data], [...w2.data])
})

t.test('misc behaviour and unsupported branches', async t => {
  const g = new CpuGenerator(0)
  const before = sha256Of(g.getState())
  kaimingUniform(g, tensor([0, 5]))
  kaimingNormal(g, tensor([4, 0]))
  t.equal(sha256Of(g.getState()), before, 'zero-size kaiming draws nothing')
  t.throws(() => kaimingUniform(g, tensor([2, 2]), 0, 'fan_avg'), RangeError)
  t.throws(() => xavierUniform(g, tensor([0, 0])), RangeError)
  t.throws(() => uniform(g, { shape: [2, 3], dtype: 'float32', data: alloc('float32', 5) }), RangeError)
  t.throws(() => truncNormal(g, tensor([4]), 0, 1, -0.1, 0.1), UnsupportedInitError, 'p <= 0.3')
  t.throws(() => truncNormal(g, tensor([4]), 0, 1, -2, 2, profile113), UnsupportedInitError)
  t.throws(() => truncNormal(g, tensor([4]), 0, 0), RangeError)
  // In-place on a byte view of a shared arena, misaligned included.
  const arena = new SharedArrayBuffer(64)
  const view: InitTensor = { shape: [3, 3], dtype: 'float32', data: new Uint8Array(arena, 1, 36) }
  eye(view)
  t.same([...new Float32Array(new Uint8Array(arena, 1, 36).slice().buffer)], [1, 0, 0, 0, 1, 0, 0, 0, 1])
  t.throws(() => truncNormal(new CpuGenerator(1), { shape: [50], dtype: 'float32', data: new Uint8Array(arena, 2, 0) }),
    RangeError, 'storage size mismatch')
  // trunc_normal_ through a misaligned byte view equals the typed-array result.
  const typed = tensor([40, 5])
  truncNormal(new CpuGenerator(3), typed, 0, 1, -0.5, 0.5)
  const bytes = new Uint8Array(new ArrayBuffer(803), 3, 800)
  truncNormal(new CpuGenerator(3), { shape: [40, 5], dtype: 'float32', data: bytes }, 0, 1, -0.5, 0.5)
  t.same([...new Float32Array(bytes.slice().buffer)], [...typed.data])
})
