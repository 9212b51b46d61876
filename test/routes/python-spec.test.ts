// Specs written as Python on every route that takes a module spec, over HTTP on loopback, and the
// repr route.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { build } from '../helper.js'

async function listen (app: FastifyInstance): Promise<(method: string, path: string, body?: unknown) => Promise<{ status: number, type: string | null, json: () => unknown, text: string }>> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  return async (method, path, body) => {
    const res = await fetch(base + path, { method, ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}) })
    const text = await res.text()
    return { status: res.status, type: res.headers.get('content-type'), json: () => JSON.parse(text), text }
  }
}

type Call = Awaited<ReturnType<typeof listen>>

async function session (call: Call): Promise<string> {
  return (call('POST', '/v1/sessions').then((r) => r.json() as { id: string })).then((s) => s.id)
}

t.test('POST …/modules: the python form builds what the JSON form builds, and answers the canonical python', async (t) => {
  const app = await build(t)
  const call = await listen(app)
  const sid = await session(call)
  const py = await call('POST', `/v1/sessions/${sid}/modules`, { python: 'nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2, bias=False))' })
  t.equal(py.status, 201)
  const m = py.json() as Record<string, unknown>
  const json = (await call('POST', `/v1/sessions/${sid}/modules`, {
    class: 'Sequential', args: [{ class: 'Linear', args: [4, 8] }, { class: 'ReLU' }, { class: 'Linear', args: [8, 2], kwargs: { bias: false } }]
  })).json() as Record<string, unknown>
  t.equal(m.class, 'torch.nn.Sequential')
  t.same(m.args, json.args, 'args echo the JSON form, classes qualified')
  t.same(m.tensors, json.tensors)
  t.equal(m.python, 'torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2, bias=False))')
  t.equal(json.python, m.python, 'JSON specs get the same canonical python')
  const got = await call('GET', `/v1/sessions/${sid}/modules/${m.id as string}`)
  t.equal((got.json() as Record<string, unknown>).python, m.python, 'stored with the module')
})

t.test('python specs nest wherever a JSON spec may, and take ties', async (t) => {
  const app = await build(t)
  const call = await listen(app)
  const sid = await session(call)
  const nested = (await call('POST', `/v1/sessions/${sid}/modules`, {
    class: 'ModuleDict', args: [{ enc: { python: 'nn.Embedding(10, 4, dtype=torch.float16)' }, head: { class: 'Linear', args: [4, 10] } }]
  })).json() as Record<string, unknown>
  t.equal(nested.python, "torch.nn.ModuleDict({'enc': torch.nn.Embedding(10, 4, dtype=torch.float16), 'head': torch.nn.Linear(4, 10)})")
  t.same((nested.tensors as Array<{ name: string, dtype: string }>).map((x) => [x.name, x.dtype]), [['enc.weight', 'float16'], ['head.weight', 'float32'], ['head.bias', 'float32']])
  const tied = await call('POST', `/v1/sessions/${sid}/modules`, { python: 'nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 10, bias=False))', ties: [['1.weight', '0.weight']] })
  t.equal(tied.status, 201)
  const tm = tied.json() as { ties: string[][], tensors: Array<{ name: string, tiedTo?: string }> }
  t.same(tm.ties, [['1.weight', '0.weight']])
  t.equal(tm.tensors.find((x) => x.name === '1.weight')?.tiedTo, '0.weight')
})

t.test('POST /v1/estimate takes python and answers python', async (t) => {
  const app = await build(t)
  const call = await listen(app)
  const py = await call('POST', '/v1/estimate', { python: 'torch.nn.Linear(4096, 4096)' })
  t.equal(py.status, 200)
  const e = py.json() as Record<string, unknown>
  const json = (await call('POST', '/v1/estimate', { class: 'Linear', args: [4096, 4096] })).json() as Record<string, unknown>
  t.same(e, json)
  t.equal(e.python, 'torch.nn.Linear(4096, 4096)')
  t.same(e.totals, { numel: 16781312, nbytes: 67125248 })
})

t.test('POST …/skip_init takes python: device is the final device, PyTorch\'s refusals', async (t) => {
  const app = await build(t)
  const call = await listen(app)
  const sid = await session(call)
  const res = await call('POST', `/v1/sessions/${sid}/skip_init`, { python: "nn.Linear(8, 4, device='worker')" })
  t.equal(res.status, 201)
  const mat = res.json() as { device: string, init: string, module: { python: string, tensors: unknown[] } }
  t.equal(mat.device, 'worker')
  t.equal(mat.init, 'empty')
  t.equal(mat.module.python, 'torch.nn.Linear(8, 4)')
  const sgd = await call('POST', `/v1/sessions/${sid}/skip_init`, { python: 'torch.optim.SGD()' })
  t.equal(sgd.status, 400)
  t.same(sgd.json(), { statusCode: 400, code: 'MATERIA_ERR_NN_NOT_A_MODULE', error: 'Bad Request', message: "Expected a Module; got <class 'torch.optim.sgd.SGD'>" })
  const relu = await call('POST', `/v1/sessions/${sid}/skip_init`, { python: 'nn.ReLU()' })
  t.equal((relu.json() as { code: string }).code, 'MATERIA_ERR_NN_NO_DEVICE_ARG')
})

t.test('errors: syntax names the column, unknown names are unknown classes, arguments are checked as JSON', async (t) => {
  const app = await build(t)
  const call = await listen(app)
  const sid = await session(call)
  for (const path of [`/v1/sessions/${sid}/modules`, '/v1/estimate', `/v1/sessions/${sid}/skip_init`]) {
    const bad = await call('POST', path, { python: 'nn.Linear(4 8)' })
    t.equal(bad.status, 400, path)
    t.same(bad.json(), {
      statusCode: 400,
      code: 'MATERIA_ERR_NN_PYTHON_SYNTAX',
      error: 'Bad Request',
      message: "SyntaxError at column 13: expected ',' or ')' after an argument of nn.Linear(…), got a number"
    })
  }
  const unknown = await call('POST', '/v1/estimate', { python: 'nn.Linaer(4, 8)' })
  const unknownJson = await call('POST', '/v1/estimate', { class: 'nn.Linaer', args: [4, 8] })
  t.equal(unknown.status, 404)
  t.same(unknown.json(), unknownJson.json(), 'the same answer as an unknown JSON class')
  const args = await call('POST', '/v1/estimate', { python: 'nn.Linear(5)' })
  t.same(args.json(), { statusCode: 400, code: 'MATERIA_ERR_NN_ARGS', error: 'Bad Request', message: "Linear.__init__() missing 1 required positional argument: 'out_features'" })
  const deep = await call('POST', '/v1/estimate', { python: `nn.Identity(${'['.repeat(300)}${']'.repeat(300)})` })
  t.equal((deep.json() as { code: string }).code, 'MATERIA_ERR_NN_SPEC_TOO_LARGE')
  const nestedBad = await call('POST', '/v1/estimate', { class: 'Sequential', args: [{ python: 'nn.ReLU(' }] })
  t.equal((nestedBad.json() as { message: string }).message, "SyntaxError at column 8: '(' was never closed")
  for (const body of [{ python: '' }, { python: 'nn.ReLU()', class: 'ReLU' }, { python: 'nn.ReLU()', args: [] }]) {
    const r = await call('POST', '/v1/estimate', body)
    t.equal((r.json() as { code: string }).code, 'MATERIA_ERR_VALIDATION', JSON.stringify(body))
  }
})

t.test('GET …/repr: print(module), ModuleList groups, 404s', async (t) => {
  const app = await build(t)
  const call = await listen(app)
  const sid = await session(call)
  const m = (await call('POST', `/v1/sessions/${sid}/modules`, {
    python: 'nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2), nn.Linear(2, 2), nn.Sequential(nn.Dropout(0.1), nn.ReLU(inplace=True))])'
  })).json() as { id: string }
  const res = await call('GET', `/v1/sessions/${sid}/modules/${m.id}/repr`)
  t.equal(res.status, 200)
  t.equal(res.type, 'text/plain; charset=utf-8')
  t.equal(res.text, [
    'ModuleList(',
    '  (0-2): 3 x Linear(in_features=2, out_features=2, bias=True)',
    '  (3): Sequential(',
    '    (0): Dropout(p=0.1, inplace=False)',
    '    (1): ReLU(inplace=True)',
    '  )',
    ')'
  ].join('\n'))
  const missing = await call('GET', `/v1/sessions/${sid}/modules/mod_nothing/repr`)
  t.equal((missing.json() as { code: string }).code, 'MATERIA_ERR_MODULE_NOT_FOUND')
  const noSession = await call('GET', `/v1/sessions/ses_nothing/modules/${m.id}/repr`)
  t.equal((noSession.json() as { code: string }).code, 'MATERIA_ERR_SESSION_NOT_FOUND')
})
