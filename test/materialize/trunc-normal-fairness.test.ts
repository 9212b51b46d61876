// Pool fairness (docs/trunc-normal.md): fills run as short pool tasks, so a small fill queued
// behind two huge trunc_normal_ fills gets a thread when their current tasks end, not when they do.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { build } from '../helper.js'

async function linear (app: FastifyInstance, sid: string, n: number): Promise<string> {
  const res = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules`, payload: { class: 'Linear', args: [n, n], kwargs: { bias: false } } })
  if (res.statusCode !== 201) throw new Error(res.body)
  return res.json().id as string
}

const queueMetric = async (app: FastifyInstance): Promise<number> =>
  Number(/^materia_pool_queue_size (\S+)$/m.exec((await app.inject('/metrics')).body)?.[1])

t.test('a 4 MiB ones fill finishes while two huge trunc_normal_ fills hold both threads', async (t) => {
  const app = await build(t) // 2 worker threads
  const sid = (await app.inject({ method: 'POST', url: '/v1/sessions' })).json().id as string
  const big = await linear(app, sid, 8192) // 64M elements each: far longer than the test waits
  const small = await linear(app, sid, 1024) // 4 MiB
  const tight = { init: { default: 'default', overrides: { weight: { fn: 'trunc_normal_', a: -0.4, b: 0.4 } } }, seed: 1, device: 'worker', wait: false }
  const longs = []
  for (let i = 0; i < 2; i++) {
    const res = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules/${big}/materializations`, payload: tight })
    t.equal(res.statusCode, 202)
    longs.push(res.json().id as string)
  }
  // each long fill keeps one task in flight, one per thread: nothing waits
  t.equal(await queueMetric(app), 0, 'queue metric: 0 while each thread has its own fill')
  const ones = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules/${small}/materializations`, payload: { init: 'ones', device: 'worker' } })
  t.equal(ones.statusCode, 201)
  t.equal(ones.json().status, 'ready', 'the ones fill is done')
  const w = (await app.inject(`/v1/sessions/${sid}/materializations/${ones.json().id as string}/tensors/weight`)).rawPayload
  t.ok(new Float32Array(new Uint8Array(w).buffer).every((v) => v === 1), 'all ones')
  for (const id of longs) {
    t.equal((await app.inject(`/v1/sessions/${sid}/materializations/${id}`)).json().status, 'pending', 'a long fill is still running')
  }
  const ms = longs.map((id) => app.materializations.get(sid, id))
  for (const id of longs) t.equal((await app.inject({ method: 'DELETE', url: `/v1/sessions/${sid}/materializations/${id}` })).statusCode, 204)
  for (const m of ms) {
    await m?.done
    t.equal(m?.error, 'cancelled')
  }
})

t.test('the queue metric counts tasks waiting for a thread', async (t) => {
  const app = await build(t, { MATERIA_WORKERS: '1' })
  const sid = (await app.inject({ method: 'POST', url: '/v1/sessions' })).json().id as string
  const big = await linear(app, sid, 4096)
  const tight = { init: { default: 'default', overrides: { weight: { fn: 'trunc_normal_', a: -0.4, b: 0.4 } } }, seed: 2, device: 'worker', wait: false }
  const ids = []
  for (let i = 0; i < 3; i++) ids.push((await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules/${big}/materializations`, payload: tight })).json().id as string)
  // three chains, one task in flight each, one thread: two wait
  t.equal(await queueMetric(app), 2)
  for (const id of ids) t.equal((await app.inject(`/v1/sessions/${sid}/materializations/${id}`)).json().status, 'pending')
  for (const id of ids) await app.inject({ method: 'DELETE', url: `/v1/sessions/${sid}/materializations/${id}` })
})
