// trunc_normal_ runs in cancellable slices (docs/trunc-normal.md): on cpu the event loop keeps
// turning and DELETE stops it; on worker it is a chain of short pool tasks with the same bytes.
import t from 'tap'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import { build } from '../helper.js'

const tight = (device: string, wait = true): object => ({
  init: { default: 'default', overrides: { weight: { fn: 'trunc_normal_', a: -0.4, b: 0.4 } } }, seed: 7, device, wait
})

async function linear (app: FastifyInstance, n: number): Promise<{ sid: string, mid: string }> {
  const sid = (await app.inject({ method: 'POST', url: '/v1/sessions' })).json().id as string
  const res = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules`, payload: { class: 'Linear', args: [n, n] } })
  if (res.statusCode !== 201) throw new Error(res.body)
  return { sid, mid: res.json().id as string }
}

t.test('cpu: the event loop keeps turning and DELETE cancels a running trunc_normal_', async (t) => {
  const app = await build(t)
  const { sid, mid } = await linear(app, 4096) // ~16M elements, ~50 rounds: seconds of work
  // warm-up outside the measured window: worker threads compiling at boot share the 2 cores, and the first trunc_normal_ compiles its code
  const warm = await linear(app, 64)
  await Promise.all(['cpu', 'worker', 'worker'].map(async (device) => app.inject({ method: 'POST', url: `/v1/sessions/${warm.sid}/modules/${warm.mid}/materializations`, payload: tight(device) })))
  const h = monitorEventLoopDelay({ resolution: 10 })
  h.enable()
  const res = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules/${mid}/materializations`, payload: tight('cpu', false) })
  t.equal(res.statusCode, 202)
  const id = res.json().id as string
  const m = app.materializations.get(sid, id)
  if (m === undefined) throw new Error('no materialization')
  const resident = app.materializations.residentBytes
  // other requests are answered meanwhile
  for (let i = 0; i < 8; i++) {
    await sleep(50)
    t.equal((await app.inject(`/v1/sessions/${sid}/materializations/${id}`)).json().status, 'pending', `still drawing, request ${i} answered`)
  }
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/sessions/${sid}/materializations/${id}` })).statusCode, 204)
  // the fill notices within a few turns of the loop (it checks the signal between ~4 ms steps)
  let settled = false
  void m.done.then(() => { settled = true })
  // eslint-disable-next-line no-unmodified-loop-condition -- set by the promise above, between ticks
  for (let i = 0; i < 50 && !settled; i++) await tick()
  h.disable()
  t.ok(settled, 'the fill ended soon after DELETE')
  t.equal(m.status, 'failed')
  t.equal(m.error, 'cancelled')
  t.ok(h.max / 1e6 < 200, `event-loop delay max ${(h.max / 1e6).toFixed(1)} ms < 200 ms`)
  t.equal(app.materializations.residentBytes, resident - m.plan.arenaSize, 'its memory released')
})

t.test('worker: a tight trunc_normal_ of 2048x2048 completes in many short tasks, with the cpu bytes', async (t) => {
  const app = await build(t)
  const { sid, mid } = await linear(app, 2048) // ~4M elements: tens of ~50 ms tasks, not minutes under coverage
  const post = async (device: string): Promise<Buffer> => {
    const res = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules/${mid}/materializations`, payload: tight(device) })
    t.equal(res.statusCode, 201, `${device}: ready`)
    const m = res.json() as { id: string, status: string, tensors: Array<{ name: string, href: string }> }
    t.equal(m.status, 'ready')
    const bytes = (await app.inject(m.tensors.find((x) => x.name === 'weight')?.href ?? '')).rawPayload
    t.equal((await app.inject({ method: 'DELETE', url: `/v1/sessions/${sid}/materializations/${m.id}` })).statusCode, 204)
    return bytes
  }
  const before = app.pool.completed
  const worker = await post('worker')
  t.ok(app.pool.completed - before > 10, `${app.pool.completed - before} pool tasks, each resuming the last`)
  const cpu = await post('cpu')
  t.equal(worker.length, 2048 * 2048 * 4)
  t.ok(worker.equals(cpu), 'worker bytes = cpu bytes')
  const w = new Float32Array(new Uint8Array(worker).buffer)
  let outside = 0
  for (const v of w) if (!(v >= Math.fround(-0.4) && v <= Math.fround(0.4))) outside++
  t.equal(outside, 0, 'every value in [a, b], none left NaN')
})
