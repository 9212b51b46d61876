import t from 'tap'
import { build, assertErrorBody } from '../helper.js'
import { errorDefs } from '../../src/errors.js'

t.test('the catalog lists every class with its signature', async (t) => {
  const app = await build(t)
  const res = await app.inject('/v1/modules')
  t.equal(res.statusCode, 200)
  const modules = res.json().modules as Array<{ name: string, qualname: string, acceptsDevice: boolean, signature: Array<{ name: string }> }>
  const names = modules.map((m) => m.name)
  t.same(names, [...names].sort(), 'sorted by name')
  for (const n of ['Linear', 'Conv2d', 'LSTM', 'MultiheadAttention', 'TransformerEncoder', 'Sequential', 'ReLU', 'BatchNorm1d', 'Embedding']) t.ok(names.includes(n), n)
  const linear = modules.find((m) => m.name === 'Linear')
  t.equal(linear?.qualname, 'torch.nn.Linear')
  t.equal(linear?.acceptsDevice, true)
  t.same(linear?.signature.map((p) => p.name), ['in_features', 'out_features', 'bias', 'device', 'dtype'])
  t.equal(modules.find((m) => m.name === 'Sequential')?.acceptsDevice, false)
})

t.test('one class by any spelling; unknown names list close matches', async (t) => {
  const app = await build(t)
  for (const n of ['Linear', 'nn.Linear', 'torch.nn.Linear']) t.equal((await app.inject(`/v1/modules/${n}`)).json().qualname, 'torch.nn.Linear', n)
  const miss = assertErrorBody(t, await app.inject('/v1/modules/Conv2D'), 404, errorDefs.unknownClass.code)
  t.match(miss.message, /torch\.nn\.Conv2d/)
})

t.test('estimate: totals, per dtype, largest tensor, Adam', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'POST', url: '/v1/estimate', payload: { class: 'Sequential', args: [{ class: 'Embedding', args: [1000, 64] }, { class: 'BatchNorm1d', args: [64] }, { class: 'Linear', args: [64, 1000], kwargs: { bias: false } }], ties: [['2.weight', '0.weight']] } })
  t.equal(res.statusCode, 200, res.body)
  const e = res.json()
  t.equal(e.class, 'torch.nn.Sequential')
  const params = 64_000 + 128
  const buffers = 128 + 1
  t.same(e.totals, { numel: params + buffers, nbytes: (params + 128) * 4 + 8 })
  t.same(e.largestTensor, { name: '0.weight', nbytes: 256_000 })
  t.equal(e.training.adam, params * 4 * 4 + 128 * 4 + 8)
  t.equal(e.byDtype.float16.nbytes, (params + 128) * 2 + 8, 'int64 counter keeps its size')
  t.equal(e.byDtype.int8.largestTensor, 64_000)
  t.equal(e.byDtype.float32.nbytes, e.totals.nbytes)
})

t.test('estimate of a 10^12-parameter module', async (t) => {
  const app = await build(t)
  const e = (await app.inject({ method: 'POST', url: '/v1/estimate', payload: { class: 'Linear', args: [1_000_000, 1_000_000] } })).json()
  t.equal(e.totals.numel, 1e12 + 1e6)
  t.equal(e.byDtype.bfloat16.nbytes, 2 * (1e12 + 1e6))
})
