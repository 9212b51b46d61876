// Requests the property suite (test/property) found mishandled, kept as plain regressions.
import t from 'tap'
import { assertErrorBody, build } from '../helper.js'

t.test('a materialization POST with no body takes the defaults (it was a 500)', async (t) => {
  const app = await build(t)
  const sid = (await app.inject({ method: 'POST', url: '/v1/sessions' })).json().id as string
  const mid = (await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules`, payload: { class: 'Linear', args: [16, 8] } })).json().id as string
  const res = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules/${mid}/materializations` })
  t.equal(res.statusCode, 201, res.body)
  t.equal(res.json().init, 'empty')
})

t.test('an RNN with 100000 layers is refused by the tensor limit before its tensors are made', async (t) => {
  const app = await build(t)
  const sid = (await app.inject({ method: 'POST', url: '/v1/sessions' })).json().id as string
  const res = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules`, payload: { class: 'LSTM', args: [2, 2], kwargs: { num_layers: 100000 } } })
  t.match(assertErrorBody(t, res, 413, 'MATERIA_ERR_MODULE_TOO_LARGE').message, /has 400000 tensors.*at most 50000/)
  t.equal(app.moduleRecords.ledger.bytes, 0)
})
