// What a module record and a materialization cost is counted against limits per module, session,
// tenant and replica, and refused with the figures before the work it would cause (docs/tenants.md).
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { assertErrorBody, build, redisUrl } from './helper.js'
import { buildModuleTree, moduleCost } from '../src/nn/index.js'
import { RECORD_BYTES_PER_TENSOR } from '../src/nn/build.js'

// 110 bytes of JSON, 108000 tensors: the spec of the heap exhaustion this guards against
const huge = { class: 'TransformerEncoder', args: [{ class: 'TransformerEncoderLayer', args: [8, 2] }, 9000] }
const small = { class: 'Linear', args: [4, 3] }

async function session (app: FastifyInstance, key?: string): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/v1/sessions', headers: key !== undefined ? { 'x-api-key': key } : {} })
  t.equal(res.statusCode, 201, res.body)
  return res.json().id as string
}

async function post (app: FastifyInstance, sid: string, spec: unknown, key?: string): Promise<Awaited<ReturnType<FastifyInstance['inject']>>> {
  return await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules`, payload: spec as object, headers: key !== undefined ? { 'x-api-key': key } : {} })
}

t.test('a module\'s cost is known from its tree, before the tensor table is built', async (t) => {
  const specs = [
    huge,
    small,
    { class: 'LSTM', args: [6, 9], kwargs: { num_layers: 3, bidirectional: true } },
    { class: 'ModuleDict', args: [{ ['k'.repeat(300)]: { class: 'TransformerEncoder', args: [{ class: 'TransformerEncoderLayer', args: [16, 4] }, 3] }, e: { class: 'Embedding', args: [10, 4] } }] },
    { class: 'Sequential', args: [{ class: 'Linear', args: [4, 4] }, { class: 'BatchNorm1d', args: [4] }], ties: [['0.bias', '1.weight']] }
  ]
  for (const spec of specs) {
    const { root, built } = buildModuleTree(spec)
    const cost = moduleCost(root)
    t.equal(cost.tensors, built.tensors.length, `${built.qualname}: tensors`)
    const names = built.tensors.reduce((n, x) => n + x.name.length, 0)
    t.equal(cost.recordBytes, cost.tensors * RECORD_BYTES_PER_TENSOR + names, `${built.qualname}: name bytes as in the built table`)
  }
  // the 300-character key is in every name under it, counted once per tensor and not once per node
  const dict = moduleCost(buildModuleTree(specs[3]).root)
  t.ok(dict.recordBytes > 300 * (dict.tensors - 2), 'long prefixes are counted in every name')
})

t.test('a module over maxModuleTensors: 413 with the figures, on every route that builds one', async (t) => {
  const app = await build(t)
  const sid = await session(app)
  const created = assertErrorBody(t, await post(app, sid, huge), 413, 'MATERIA_ERR_MODULE_TOO_LARGE')
  t.match(created.message, /has at least 108000 tensors.*at most 50000.*MATERIA_MODULE_MAX_TENSORS/)
  const estimate = await app.inject({ method: 'POST', url: '/v1/estimate', payload: huge })
  assertErrorBody(t, estimate, 413, 'MATERIA_ERR_MODULE_TOO_LARGE')
  // a tenant limit of 10 tensors: a 3-layer LSTM has 12, skip_init refuses it too
  const strict = await build(t, { MATERIA_MODULE_MAX_TENSORS: '10' })
  const sid2 = await session(strict)
  const lstm = { class: 'LSTM', args: [2, 2], kwargs: { num_layers: 3 } }
  const skip = await strict.inject({ method: 'POST', url: `/v1/sessions/${sid2}/skip_init`, payload: { ...lstm, kwargs: { ...lstm.kwargs, device: 'cpu' } } })
  t.match(assertErrorBody(t, skip, 413, 'MATERIA_ERR_MODULE_TOO_LARGE').message, /has 12 tensors.*at most 10/)
  t.equal((await post(strict, sid2, { ...lstm, kwargs: { num_layers: 2 } })).statusCode, 201, '8 tensors pass')
  t.equal(strict.materializations.count, 0, 'skip_init started nothing')
  t.equal(app.moduleRecords.ledger.bytes, 0, 'nothing held for refused modules')
  t.equal((await app.inject(`/v1/sessions/${sid}/modules`)).json().modules.length, 0)
})

t.test('a session at maxSessionModules: 429 until a module is deleted; other sessions unaffected', async (t) => {
  const app = await build(t, { MATERIA_SESSION_MAX_MODULES: '3' })
  const sid = await session(app)
  const ids: string[] = []
  for (let i = 0; i < 3; i++) ids.push((await post(app, sid, small)).json().id as string)
  const over = assertErrorBody(t, await post(app, sid, small), 429, 'MATERIA_ERR_SESSION_MODULE_QUOTA')
  t.match(over.message, /holds 3 modules.*\(3: MATERIA_SESSION_MAX_MODULES/)
  const skip = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/skip_init`, payload: { ...small, kwargs: { device: 'cpu' } } })
  assertErrorBody(t, skip, 429, 'MATERIA_ERR_SESSION_MODULE_QUOTA')
  t.equal((await post(app, await session(app), small)).statusCode, 201, 'another session has room')
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/sessions/${sid}/modules/${ids[0] ?? ''}` })).statusCode, 204)
  t.equal((await post(app, sid, small)).statusCode, 201, 'room again after a delete')
})

t.test('module records count against the tenant\'s maxModuleBytes and the replica\'s MATERIA_MODULE_BUDGET', async (t) => {
  const cost = moduleCost(buildModuleTree(huge).root).recordBytes
  t.ok(cost > 30e6 && cost < 45e6, `the 110-byte spec costs ${cost} bytes of heap (measured ~39 MB)`)
  // tenants a and b may each hold two such records; the replica three
  const app = await build(t, {
    MATERIA_API_KEYS: 'a,b',
    MATERIA_MODULE_MAX_TENSORS: '200000',
    MATERIA_TENANT_MAX_MODULE_BYTES: String(2 * cost + 1000),
    MATERIA_MODULE_BUDGET: String(3 * cost + 1000)
  })
  const sa = await session(app, 'a')
  const sb = await session(app, 'b')
  t.equal((await post(app, sa, huge, 'a')).statusCode, 201)
  t.equal((await post(app, sa, huge, 'a')).statusCode, 201)
  const quota = assertErrorBody(t, await post(app, sa, huge, 'a'), 507, 'MATERIA_ERR_TENANT_MODULE_QUOTA')
  t.match(quota.message, new RegExp(`needs ${cost} bytes.*hold ${2 * cost} bytes of its ${2 * cost + 1000}-byte quota.*MATERIA_TENANT_MAX_MODULE_BYTES`))
  t.equal((await post(app, sb, small, 'b')).statusCode, 201, 'tenant b is not affected by a at its quota')
  t.equal((await post(app, sb, huge, 'b')).statusCode, 201)
  const full = assertErrorBody(t, await post(app, sb, huge, 'b'), 507, 'MATERIA_ERR_MODULE_BUDGET')
  t.match(full.message, /MATERIA_MODULE_BUDGET/)
  t.equal(app.moduleRecords.ledger.bytesOfTenant(app.tenants.lookup('a')?.id ?? ''), 2 * cost)
  t.match((await app.inject('/metrics')).body, new RegExp(`^materia_module_record_bytes ${3 * cost + moduleCost(buildModuleTree(small).root).recordBytes}$`, 'm'))
  // the session's end gives its records back
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/sessions/${sa}`, headers: { 'x-api-key': 'a' } })).statusCode, 204)
  t.equal(app.moduleRecords.ledger.bytesOfTenant(app.tenants.lookup('a')?.id ?? ''), 0)
  t.equal((await post(app, sb, huge, 'b')).statusCode, 201, 'room again for b once a\'s session is gone')
})

t.test('materializations count against the tenant\'s maxResidentBytes; another tenant is not affected', async (t) => {
  const app = await build(t, { MATERIA_API_KEYS: 'a,b', MATERIA_TENANT_MAX_RESIDENT_BYTES: '1MiB' })
  const linear = { class: 'Linear', args: [256, 512] } // 526336 bytes in float32
  const ma: Array<{ sid: string, mid: string }> = []
  for (const key of ['a', 'b']) {
    const sid = await session(app, key)
    ma.push({ sid, mid: (await post(app, sid, linear, key)).json().id as string })
  }
  const mat = async (i: number, key: string): Promise<Awaited<ReturnType<FastifyInstance['inject']>>> =>
    await app.inject({ method: 'POST', url: `/v1/sessions/${ma[i]?.sid ?? ''}/modules/${ma[i]?.mid ?? ''}/materializations`, payload: { init: 'zeros' }, headers: { 'x-api-key': key } })
  const first = await mat(0, 'a')
  t.equal(first.statusCode, 201, first.body)
  const over = assertErrorBody(t, await mat(0, 'a'), 507, 'MATERIA_ERR_TENANT_MEMORY_QUOTA')
  t.match(over.message, /needs 526336 bytes.*hold 526336 bytes of its 1048576-byte quota.*522240 free/)
  t.equal((await mat(1, 'b')).statusCode, 201, 'tenant b materializes while a is at its quota')
  t.equal((await mat(1, 'b')).statusCode, 507)
  const del = await app.inject({ method: 'DELETE', url: `/v1/sessions/${ma[0]?.sid ?? ''}/materializations/${first.json().id as string}`, headers: { 'x-api-key': 'a' } })
  t.equal(del.statusCode, 204)
  t.equal((await mat(0, 'a')).statusCode, 201, 'room again after a delete')
})

for (const store of ['memory', 'redis'] as const) {
  t.test(`${store} store: a tenant at maxSessions gets 429 until a session ends; another tenant is not affected`, async (t) => {
    const env: Record<string, string> = { MATERIA_API_KEYS: 'a,b', MATERIA_TENANT_MAX_SESSIONS: '2' }
    if (store === 'redis') Object.assign(env, { MATERIA_STORE: 'redis', REDIS_URL: redisUrl(), MATERIA_REDIS_PREFIX: `materia-quota-${process.pid}:` })
    const app = await build(t, env)
    const first = await session(app, 'a')
    await session(app, 'a')
    const over = assertErrorBody(t, await app.inject({ method: 'POST', url: '/v1/sessions', headers: { 'x-api-key': 'a' } }), 429, 'MATERIA_ERR_TENANT_SESSION_QUOTA')
    t.match(over.message, /holds 2 live sessions.*\(2: MATERIA_TENANT_MAX_SESSIONS/)
    await session(app, 'b')
    t.equal((await app.inject({ method: 'DELETE', url: `/v1/sessions/${first}`, headers: { 'x-api-key': 'a' } })).statusCode, 204)
    await session(app, 'a')
    t.equal((await app.inject({ method: 'POST', url: '/v1/sessions', headers: { 'x-api-key': 'b' } })).statusCode, 201, 'b has its own count')
  })
}
