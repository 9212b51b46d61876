// Load shedding: over a threshold (heap, RSS, event-loop delay) /v1 requests answer 503
// MATERIA_ERR_OVERLOADED with Retry-After; operations routes keep answering.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { assertErrorBody, build } from './helper.js'
import { errorDefs } from '../src/errors.js'

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** Polls until a /v1 request is shed (under-pressure samples once a second); the shed response. */
async function shed (app: FastifyInstance, before?: () => void): Promise<Awaited<ReturnType<FastifyInstance['inject']>>> {
  let res = await app.inject('/v1/modules')
  for (let i = 0; i < 40 && res.statusCode !== 503; i++) {
    before?.()
    await sleep(100)
    res = await app.inject('/v1/modules')
  }
  return res
}

for (const [variable, message] of [['MATERIA_MAX_HEAP_BYTES', /heap in use \d+ MiB is above 0 MiB \(MATERIA_MAX_HEAP_BYTES\)/], ['MATERIA_MAX_RSS_BYTES', /resident set \d+ MiB is above 0 MiB \(MATERIA_MAX_RSS_BYTES\)/]] as const) {
  t.test(`${variable} over its threshold: 503 on /v1, ops routes open`, async (t) => {
    const app = await build(t, { MATERIA_MAX_HEAP_BYTES: '0', MATERIA_MAX_RSS_BYTES: '0', MATERIA_MAX_EVENT_LOOP_DELAY: '0', [variable]: '1' })
    const res = await shed(app)
    const body = assertErrorBody(t, res, 503, errorDefs.overloaded.code)
    t.match(body.message, message)
    t.equal(res.headers['retry-after'], '2')
    assertErrorBody(t, await app.inject({ method: 'POST', url: '/v1/sessions' }), 503, errorDefs.overloaded.code)
    for (const url of ['/healthz', '/readyz', '/metrics', '/openapi.json', '/docs/']) {
      const r = await app.inject(url)
      t.ok(r.statusCode < 400, `${url} → ${r.statusCode}`)
    }
  })
}

t.test('event-loop delay over its threshold sheds; an idle replica does not', async (t) => {
  const idle = await build(t, { MATERIA_MAX_HEAP_BYTES: '0', MATERIA_MAX_RSS_BYTES: '0', MATERIA_MAX_EVENT_LOOP_DELAY: '1000' })
  await sleep(1200)
  t.equal((await idle.inject('/v1/modules')).statusCode, 200, 'default-like threshold, idle loop: served')

  const app = await build(t, { MATERIA_MAX_HEAP_BYTES: '0', MATERIA_MAX_RSS_BYTES: '0', MATERIA_MAX_EVENT_LOOP_DELAY: '1' })
  // block the loop for 100 ms at a time, so the delay histogram sees stalls
  const res = await shed(app, () => { const end = Date.now() + 100; while (Date.now() < end); })
  const body = assertErrorBody(t, res, 503, errorDefs.overloaded.code)
  t.match(body.message, /event-loop delay \d+ ms is above 1 ms \(MATERIA_MAX_EVENT_LOOP_DELAY\)/)
  t.equal((await app.inject('/healthz')).statusCode, 200)
})

t.test('the stall of booting sheds nothing: a replica that just became ready serves', async (t) => {
  // compiling serializers and the OpenAPI document blocks the loop at boot; stand in for a slow
  // boot whose stalls the delay histogram sees (a tick between two of them records the first)
  const stall = (ms: number): void => { const end = Date.now() + ms; while (Date.now() < end); }
  const app = await build(t, { MATERIA_MAX_HEAP_BYTES: '0', MATERIA_MAX_RSS_BYTES: '0', MATERIA_MAX_EVENT_LOOP_DELAY: '300' }, (app) => {
    app.addHook('onReady', async () => { stall(1200); await sleep(30); stall(1200) })
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const codes = new Set<number>()
  for (let i = 0; i < 15; i++) {
    codes.add((await app.inject('/v1/modules')).statusCode)
    await sleep(100)
  }
  t.same([...codes], [200], 'every request in the 1.5 s after ready served')
  t.ok(Number.isFinite(app.memoryUsage().eventLoopDelay), 'the boot stall was measured')
})

t.test('a shed request is refused before the key check', async (t) => {
  const app = await build(t, { MATERIA_API_KEYS: 'alpha', MATERIA_MAX_HEAP_BYTES: '1', MATERIA_MAX_RSS_BYTES: '0', MATERIA_MAX_EVENT_LOOP_DELAY: '0' })
  assertErrorBody(t, await shed(app), 503, errorDefs.overloaded.code)
})

t.test('every threshold 0: no shedding', async (t) => {
  const app = await build(t, { MATERIA_MAX_HEAP_BYTES: '0', MATERIA_MAX_RSS_BYTES: '0', MATERIA_MAX_EVENT_LOOP_DELAY: '0' })
  t.equal(app.hasDecorator('isUnderPressure'), false)
})
