import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, assertErrorBody } from '../helper.js'
import { errorDefs } from '../../src/errors.js'

async function session (app: FastifyInstance): Promise<string> {
  return (await app.inject({ method: 'POST', url: '/v1/sessions' })).json().id as string
}

t.test('build Linear(5, 1, bias=False) on meta', async (t) => {
  const app = await build(t)
  const sid = await session(app)
  const res = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules`, payload: { class: 'Linear', args: [5, 1], kwargs: { bias: false } } })
  t.equal(res.statusCode, 201)
  const m = res.json()
  t.match(m.id, /^mod_/)
  t.equal(res.headers.location, `/v1/sessions/${sid}/modules/${m.id}`)
  t.equal(m.class, 'torch.nn.Linear')
  t.equal(m.device, 'meta')
  t.same(m.args, [5, 1])
  t.same(m.tensors, [{ name: 'weight', kind: 'parameter', shape: [1, 5], dtype: 'float32', stride: [5, 1], numel: 5, nbytes: 20, requiresGrad: true, persistent: true }])
  t.same(m.totals, { parameters: 5, buffers: 0, numel: 5, nbytes: 20 })
  t.equal((await app.inject(`/v1/sessions/${sid}`)).json().modules, 1)
})

t.test('LSTM(6, 9, bidirectional=True): PyTorch names in state_dict order', async (t) => {
  const app = await build(t)
  const sid = await session(app)
  const m = (await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules`, payload: { class: 'torch.nn.LSTM', args: [6, 9], kwargs: { bidirectional: true } } })).json()
  t.same(m.tensors.map((x: { name: string }) => x.name), ['weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0', 'weight_ih_l0_reverse', 'weight_hh_l0_reverse', 'bias_ih_l0_reverse', 'bias_hh_l0_reverse'])
  t.same(m.tensors[0].shape, [36, 6])
  t.same(m.tensors[1].shape, [36, 9])
})

t.test('BatchNorm buffers: running stats and an int64 counter', async (t) => {
  const app = await build(t)
  const sid = await session(app)
  const m = (await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules`, payload: { class: 'nn.BatchNorm2d', args: [3] } })).json()
  t.same(m.tensors.map((x: { name: string, kind: string, dtype: string }) => [x.name, x.kind, x.dtype]), [
    ['weight', 'parameter', 'float32'], ['bias', 'parameter', 'float32'], ['running_mean', 'buffer', 'float32'],
    ['running_var', 'buffer', 'float32'], ['num_batches_tracked', 'buffer', 'int64']])
  t.same(m.tensors[4].shape, [])
  t.equal(m.tensors[4].requiresGrad, false)
  t.same(m.totals, { parameters: 6, buffers: 7, numel: 13, nbytes: 6 * 4 + 6 * 4 + 8 })
})

t.test('nested containers and ties', async (t) => {
  const app = await build(t)
  const sid = await session(app)
  const spec = {
    class: 'ModuleDict',
    args: [{ embed: { class: 'Embedding', args: [10, 4] }, blocks: { class: 'ModuleList', args: [[{ class: 'Linear', args: [4, 4] }, { class: 'ReLU' }]] }, lm_head: { class: 'Linear', args: [4, 10], kwargs: { bias: false } } }],
    ties: [['lm_head.weight', 'embed.weight']]
  }
  const res = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules`, payload: spec })
  t.equal(res.statusCode, 201, res.body)
  const m = res.json()
  t.same(m.tensors.map((x: { name: string }) => x.name), ['embed.weight', 'blocks.0.weight', 'blocks.0.bias', 'lm_head.weight'])
  t.equal(m.tensors[3].tiedTo, 'embed.weight')
  t.same(m.ties, [['lm_head.weight', 'embed.weight']])
  t.equal(m.totals.parameters, 40 + 16 + 4, 'tied storage counted once')
})

t.test('list, get and delete modules', async (t) => {
  const app = await build(t)
  const sid = await session(app)
  const a = (await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules`, payload: { class: 'ReLU' } })).json()
  const b = (await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules`, payload: { class: 'Linear', args: [2, 2] } })).json()
  t.same((await app.inject(`/v1/sessions/${sid}/modules`)).json().modules.map((m: { id: string }) => m.id), [a.id, b.id])
  t.same((await app.inject(`/v1/sessions/${sid}/modules/${b.id}`)).json(), b)
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/sessions/${sid}/modules/${a.id}` })).statusCode, 204)
  assertErrorBody(t, await app.inject(`/v1/sessions/${sid}/modules/${a.id}`), 404, errorDefs.moduleNotFound.code)
  assertErrorBody(t, await app.inject({ method: 'DELETE', url: `/v1/sessions/${sid}/modules/${a.id}` }), 404, errorDefs.moduleNotFound.code)
  assertErrorBody(t, await app.inject({ method: 'POST', url: '/v1/sessions/ses_nope/modules', payload: { class: 'ReLU' } }), 404, errorDefs.sessionNotFound.code)
})

t.test('bad specs are clear 4xx, never 500', async (t) => {
  const app = await build(t)
  const sid = await session(app)
  const post = async (payload: unknown) => await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules`, payload: payload as object })
  t.equal(assertErrorBody(t, await post({ class: 'Linear', args: [5] }), 400, errorDefs.constructorArgs.code).message,
    "Linear.__init__() missing 1 required positional argument: 'out_features'")
  t.equal(assertErrorBody(t, await post({ class: 'Linear', args: [5, 1], kwargs: { foo: 1 } }), 400, errorDefs.constructorArgs.code).message,
    "Linear.__init__() got an unexpected keyword argument 'foo'")
  t.equal(assertErrorBody(t, await post({ class: 'Linear', args: [1, 2, true, 'meta', 'float32', 6] }), 400, errorDefs.constructorArgs.code).message,
    'Linear.__init__() takes from 3 to 6 positional arguments but 7 were given')
  t.equal(assertErrorBody(t, await post({ class: 'MultiheadAttention', args: [10, 3] }), 400, errorDefs.constructorArgs.code).message,
    'embed_dim must be divisible by num_heads')
  t.match(assertErrorBody(t, await post({ class: 'Lnear', args: [1, 2] }), 404, errorDefs.unknownClass.code).message, /torch\.nn\.Linear/)
  assertErrorBody(t, await post({ class: 'Linear', args: [5, 1], kwargs: { device: 'cuda' } }), 400, errorDefs.constructorArgs.code)
  assertErrorBody(t, await post({ class: 'Linear', args: [5, 1], kwargs: { dtype: 'float128' } }), 400, errorDefs.constructorArgs.code)
  assertErrorBody(t, await post({ class: 'Linear', args: [2 ** 53, 1] }), 400, errorDefs.constructorArgs.code)
  assertErrorBody(t, await post({ args: [1] }), 400, errorDefs.validation.code)
  assertErrorBody(t, await post({ class: 'Linear', args: [1, 1], extra: true }), 400, errorDefs.validation.code)
  let deep: unknown = { class: 'ReLU' }
  for (let i = 0; i < 200; i++) deep = { class: 'Sequential', args: [deep] }
  assertErrorBody(t, await post(deep), 400, errorDefs.specTooLarge.code)
  const ties = assertErrorBody(t, await post({ class: 'Sequential', args: [{ class: 'Linear', args: [2, 3] }, { class: 'Linear', args: [3, 2] }], ties: [['0.weight', '1.weight']] }), 400, errorDefs.badTie.code)
  t.match(ties.message, /shape/)
  assertErrorBody(t, await post({ class: 'Sequential', args: [{ class: 'Linear', args: [2, 2] }], ties: [['0.weight', 'nope.weight']] }), 400, errorDefs.badTie.code)
})

t.test('huge but valid sizes build on meta', async (t) => {
  const app = await build(t)
  const sid = await session(app)
  const res = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules`, payload: { class: 'Linear', args: [1_000_000, 1_000_000], kwargs: { bias: false } } })
  t.equal(res.statusCode, 201)
  t.equal(res.json().totals.numel, 1e12)
  t.equal(res.json().totals.nbytes, 4e12)
})
