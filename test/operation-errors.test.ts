// Each operation driven into the errors it can answer with (those that are cheap to reach), and
// each answer's code checked against the codes the operation declares in the OpenAPI document.
// The property suite (test/property) checks the same on generated requests.
import t from 'tap'
import type { InjectOptions } from 'fastify'
import { build } from './helper.js'
import { declaredOperations, operationOf, parserCodesUndeclared, undeclared } from './property/declared-codes.js'

/** A safetensors file with one float32 tensor `name` of shape [n], all zeros. */
function safetensors (name: string, n: number): Buffer {
  const header = Buffer.from(JSON.stringify({ [name]: { dtype: 'F32', shape: [n], data_offsets: [0, 4 * n] } }))
  const len = Buffer.alloc(8)
  len.writeBigUInt64LE(BigInt(header.length))
  return Buffer.concat([len, header, Buffer.alloc(4 * n)])
}

t.test('every operation answers only with codes it declares, for each error it can be driven into', async (t) => {
  const app = await build(t, {
    MATERIA_API_KEYS: 'key-a',
    MATERIA_MEMORY_BUDGET: '1MiB',
    MATERIA_TENANT_MAX_SESSIONS: '2',
    MATERIA_MODULE_MAX_TENSORS: '40'
  })
  const ops = declaredOperations(app)
  const auth = { 'x-api-key': 'key-a' }
  const post = async (url: string, payload: object): Promise<Record<string, string>> => {
    const res = await app.inject({ method: 'POST', url, headers: auth, payload })
    t.ok(res.statusCode < 300, `fixture ${url}: ${res.body.slice(0, 200)}`)
    return res.json()
  }
  const sid = (await post('/v1/sessions', {})).id as string
  const mid = (await post(`/v1/sessions/${sid}/modules`, { class: 'Linear', args: [4, 2] })).id as string
  const mat = (await post(`/v1/sessions/${sid}/modules/${mid}/materializations`, { init: 'zeros' })).id as string
  const big = (await post(`/v1/sessions/${sid}/modules`, { class: 'Linear', args: [1024, 1024] })).id as string
  const s = `/v1/sessions/${sid}`
  const m = `${s}/materializations/${mat}`
  let deep: unknown = 1
  for (let i = 0; i < 300; i++) deep = [deep]
  const octet = { ...auth, 'content-type': 'application/octet-stream' }

  const cases: Array<[string, InjectOptions]> = [
    ['MATERIA_ERR_UNAUTHORIZED', { url: '/v1/modules' }],
    ['MATERIA_ERR_CREDENTIAL_IN_QUERY', { url: '/v1/modules?api_key=x', headers: auth }],
    ['MATERIA_ERR_NN_UNKNOWN_CLASS', { url: '/v1/modules/NoSuchModule', headers: auth }],
    ['MATERIA_ERR_VALIDATION', { method: 'POST', url: '/v1/estimate', headers: auth, payload: {} }],
    ['MATERIA_ERR_NN_ARGS', { method: 'POST', url: '/v1/estimate', headers: auth, payload: { class: 'Linear', args: ['x', 2] } }],
    ['MATERIA_ERR_NN_PYTHON_SYNTAX', { method: 'POST', url: '/v1/estimate', headers: auth, payload: { python: 'nn.Linear(4 8)' } }],
    ['MATERIA_ERR_NN_UNKNOWN_CLASS', { method: 'POST', url: '/v1/estimate', headers: auth, payload: { class: 'Lenear' } }],
    ['MATERIA_ERR_MODULE_TOO_LARGE', { method: 'POST', url: '/v1/estimate', headers: auth, payload: { class: 'Sequential', args: Array.from({ length: 30 }, () => ({ class: 'Linear', args: [1, 1] })) } }],
    ['MATERIA_ERR_NN_NOT_A_MODULE', { method: 'POST', url: '/v1/estimate', headers: auth, payload: { class: 'torch.Tensor' } }],
    ['MATERIA_ERR_NN_BAD_TIE', { method: 'POST', url: '/v1/estimate', headers: auth, payload: { class: 'Linear', args: [2, 2], ties: [['weight', 'nothing']] } }],
    ['MATERIA_ERR_NN_SPEC_TOO_LARGE', { method: 'POST', url: '/v1/estimate', headers: auth, payload: { class: 'Linear', args: [deep, 1] } }],
    ['MATERIA_ERR_VALIDATION', { method: 'POST', url: '/v1/sessions', headers: auth, payload: { ttlSeconds: -1 } }],
    ['MATERIA_ERR_VALIDATION', { url: '/v1/sessions?limit=0', headers: auth }],
    ['MATERIA_ERR_CREDENTIAL_IN_QUERY', { url: `${s}?token=x`, headers: auth }],
    ['MATERIA_ERR_SESSION_NOT_FOUND', { url: '/v1/sessions/ses_nothing/modules', headers: auth }],
    ['MATERIA_ERR_SESSION_NOT_FOUND', { url: '/v1/sessions/ses_nothing/materializations', headers: auth }],
    ['MATERIA_ERR_SESSION_NOT_FOUND', { url: `/v1/sessions/ses_nothing/materializations/${mat}/tensors/weight`, headers: auth }],
    ['MATERIA_ERR_MATERIALIZATION_NOT_FOUND', { url: `${s}/materializations/mat_nothing/safetensors/model.safetensors`, headers: auth }],
    ['MATERIA_ERR_NN_BAD_TIE', { method: 'POST', url: `${s}/skip_init`, headers: auth, payload: { class: 'Linear', args: [2, 2], ties: [['weight', 'bias']] } }],
    ['MATERIA_ERR_INVALID_CURSOR', { url: '/v1/sessions?cursor=not-a-cursor', headers: auth }],
    ['MATERIA_ERR_SESSION_NOT_FOUND', { url: '/v1/sessions/ses_nothing', headers: auth }],
    ['MATERIA_ERR_SESSION_NOT_FOUND', { method: 'DELETE', url: '/v1/sessions/ses_nothing', headers: auth }],
    ['MATERIA_ERR_NN_ARGS', { method: 'POST', url: `${s}/modules`, headers: auth, payload: { class: 'Linear', args: [1, 2, 3, 4, 5, 6] } }],
    ['MATERIA_ERR_NN_PYTHON_SYNTAX', { method: 'POST', url: `${s}/modules`, headers: auth, payload: { python: 'nn.Linear(4 8)' } }],
    ['MATERIA_ERR_NN_UNKNOWN_CLASS', { method: 'POST', url: `${s}/modules`, headers: auth, payload: { class: 'Nope' } }],
    ['MATERIA_ERR_NN_NOT_A_MODULE', { method: 'POST', url: `${s}/modules`, headers: auth, payload: { class: 'torch.Tensor' } }],
    ['MATERIA_ERR_NN_BAD_TIE', { method: 'POST', url: `${s}/modules`, headers: auth, payload: { class: 'Linear', args: [2, 2], ties: [['weight', 'bias']] } }],
    ['MATERIA_ERR_NN_SPEC_TOO_LARGE', { method: 'POST', url: `${s}/modules`, headers: auth, payload: { class: 'Linear', args: [deep, 1] } }],
    ['MATERIA_ERR_MODULE_TOO_LARGE', { method: 'POST', url: `${s}/modules`, headers: auth, payload: { class: 'Sequential', args: Array.from({ length: 30 }, () => ({ class: 'Linear', args: [1, 1] })) } }],
    ['MATERIA_ERR_SESSION_NOT_FOUND', { method: 'POST', url: '/v1/sessions/ses_nothing/modules', headers: auth, payload: { class: 'Linear', args: [1, 1] } }],
    ['MATERIA_ERR_INVALID_CURSOR', { url: `${s}/modules?cursor=not-a-cursor`, headers: auth }],
    ['MATERIA_ERR_MODULE_NOT_FOUND', { url: `${s}/modules/mod_nothing`, headers: auth }],
    ['MATERIA_ERR_MODULE_NOT_FOUND', { method: 'DELETE', url: `${s}/modules/mod_nothing`, headers: auth }],
    ['MATERIA_ERR_MODULE_NOT_FOUND', { url: `${s}/modules/mod_nothing/repr`, headers: auth }],
    ['MATERIA_ERR_MODULE_NOT_FOUND', { method: 'POST', url: `${s}/modules/mod_nothing/materializations`, headers: auth, payload: {} }],
    ['MATERIA_ERR_MATERIALIZATION_OPTIONS', { method: 'POST', url: `${s}/modules/${mid}/materializations`, headers: auth, payload: { init: 'zeros', seed: 1 } }],
    ['MATERIA_ERR_MATERIALIZATION_OPTIONS', { method: 'POST', url: `${s}/modules/${mid}/materializations`, headers: auth, payload: { init: { overrides: { nothing: { fn: 'zeros_' } } } } }],
    ['MATERIA_ERR_MATERIALIZATION_OPTIONS', { method: 'POST', url: `${s}/modules/${mid}/materializations`, headers: auth, payload: { init: { overrides: { weight: { fn: 'uniform_', a: 1, b: 0 } } } } }],
    ['MATERIA_ERR_INIT_UNAVAILABLE', { method: 'POST', url: `${s}/modules/${mid}/materializations`, headers: auth, payload: { init: { overrides: { weight: { fn: 'trunc_normal_', a: 0, b: 0.1 } } } } }],
    ['MATERIA_ERR_MEMORY_BUDGET', { method: 'POST', url: `${s}/modules/${big}/materializations`, headers: auth, payload: { init: 'zeros' } }],
    ['MATERIA_ERR_UNSUPPORTED_MEDIA_TYPE', { method: 'POST', url: `${s}/modules/${mid}/materializations`, headers: { ...auth, 'content-type': 'application/x-nope' }, payload: 'x' }],
    ['MATERIA_ERR_CHECKPOINT_INVALID', { method: 'POST', url: `${s}/modules/${mid}/materializations`, headers: octet, payload: Buffer.from('not a safetensors file') }],
    ['MATERIA_ERR_CHECKPOINT_MISMATCH', { method: 'POST', url: `${s}/modules/${mid}/materializations`, headers: octet, payload: safetensors('other', 2) }],
    ['MATERIA_ERR_INVALID_CURSOR', { url: `${s}/materializations?cursor=not-a-cursor`, headers: auth }],
    ['MATERIA_ERR_MATERIALIZATION_NOT_FOUND', { url: `${s}/materializations/mat_nothing`, headers: auth }],
    ['MATERIA_ERR_MATERIALIZATION_NOT_FOUND', { method: 'DELETE', url: `${s}/materializations/mat_nothing`, headers: auth }],
    ['MATERIA_ERR_TENSOR_NOT_FOUND', { url: `${m}/tensors/nothing`, headers: auth }],
    ['MATERIA_ERR_RANGE_NOT_SATISFIABLE', { url: `${m}/tensors/weight`, headers: { ...auth, range: 'bytes=100000-' } }],
    ['MATERIA_ERR_MATERIALIZATION_NOT_FOUND', { url: `${s}/materializations/mat_nothing/tensors/weight`, headers: auth }],
    ['MATERIA_ERR_RANGE_NOT_SATISFIABLE', { url: `${m}/safetensors`, headers: { ...auth, range: 'bytes=100000-' } }],
    ['MATERIA_ERR_MATERIALIZATION_NOT_FOUND', { url: `${s}/materializations/mat_nothing/safetensors`, headers: auth }],
    ['MATERIA_ERR_TENSOR_NOT_FOUND', { url: `${m}/safetensors/nothing.safetensors`, headers: auth }],
    ['MATERIA_ERR_NN_UNKNOWN_CLASS', { method: 'POST', url: `${s}/skip_init`, headers: auth, payload: { class: 'Nope' } }],
    ['MATERIA_ERR_NN_NOT_A_MODULE', { method: 'POST', url: `${s}/skip_init`, headers: auth, payload: { class: 'torch.Tensor' } }],
    ['MATERIA_ERR_NN_NO_DEVICE_ARG', { method: 'POST', url: `${s}/skip_init`, headers: auth, payload: { class: 'ReLU' } }],
    ['MATERIA_ERR_NN_ARGS', { method: 'POST', url: `${s}/skip_init`, headers: auth, payload: { class: 'Linear', args: [2, 2], kwargs: { device: 'meta' } } }],
    ['MATERIA_ERR_NN_PYTHON_SYNTAX', { method: 'POST', url: `${s}/skip_init`, headers: auth, payload: { python: 'nn.Linear(4 8)' } }],
    ['MATERIA_ERR_MEMORY_BUDGET', { method: 'POST', url: `${s}/skip_init`, headers: auth, payload: { class: 'Linear', args: [1024, 1024] } }],
    ['MATERIA_ERR_SESSION_NOT_FOUND', { method: 'POST', url: '/v1/sessions/ses_nothing/skip_init', headers: auth, payload: { class: 'Linear', args: [1, 1] } }],
    // the last: it uses up the tenant's sessions
    ['MATERIA_ERR_TENANT_SESSION_QUOTA', { method: 'POST', url: '/v1/sessions', headers: auth, payload: {} }]
  ]
  await post('/v1/sessions', {})

  const reached = new Map<string, Set<string>>()
  for (const [expected, req] of cases) {
    const method = req.method ?? 'GET'
    const url = req.url as string
    const res = await app.inject(req)
    const body = JSON.parse(res.body) as { code?: string, message?: string }
    const where = `${method} ${url.slice(0, 80)}`
    t.equal(body.code, expected, `${where}: ${body.message?.slice(0, 160) ?? res.body.slice(0, 160)}`)
    t.equal(undeclared(ops, method, url, body), undefined, `${where}: ${String(body.code)} is declared`)
    const op = operationOf(ops, method, url)
    t.ok(op, `${where} is an operation`)
    if (op !== undefined) reached.set(`${op.method} ${op.path}`, new Set([...(reached.get(`${op.method} ${op.path}`) ?? []), String(body.code)]))
  }
  // fastify answers these before the handler of every method with a body: each such operation declares them
  t.same(parserCodesUndeclared(ops), [], 'every operation with a body declares the body-parser codes')
  // what is declared and not driven here (quotas, timeouts, store and overload answers: their own tests)
  for (const op of ops) {
    const missing = [...op.codes].filter((c) => !(reached.get(`${op.method} ${op.path}`)?.has(c) ?? false))
    if (missing.length > 0) t.comment(`${op.method} ${op.path} not driven here: ${missing.join(', ')}`)
  }
})
