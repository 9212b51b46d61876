// Clients that stop reading or stop sending, over real HTTP on loopback: a deleted materialization
// still read by a stalled download keeps its bytes counted until the connection goes, which
// MATERIA_SEND_TIMEOUT bounds; a stalled upload is answered 408 and its reservation given back.
import t, { type Test } from 'tap'
import { connect, type Socket } from 'node:net'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { build, until } from '../helper.js'

const MiB = 2 ** 20
// 64 MiB of float32 weight: far more than the socket buffers hold, so a client that reads nothing stalls it
const linear = { class: 'Linear', args: [4096, 4096], kwargs: { bias: false } }

async function listen (app: FastifyInstance): Promise<number> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  return (app.server.address() as AddressInfo).port
}

async function materialized (t: Test, app: FastifyInstance): Promise<{ sid: string, mid: string, matId: string }> {
  const sid = (await app.inject({ method: 'POST', url: '/v1/sessions' })).json().id as string
  const mid = (await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules`, payload: linear })).json().id as string
  const m = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules/${mid}/materializations`, payload: { init: 'ones' } })
  t.equal(m.statusCode, 201, m.body)
  return { sid, mid, matId: m.json().id as string }
}

/** A GET whose response is never read: the socket is paused once the headers are in. */
async function stalledGet (port: number, path: string): Promise<{ socket: Socket, head: string, firstBytes: number }> {
  const socket = connect(port, '127.0.0.1')
  await once(socket, 'connect')
  socket.write(`GET ${path} HTTP/1.1\r\nhost: x\r\n\r\n`)
  const [first] = await once(socket, 'data') as [Buffer]
  socket.pause()
  return { socket, head: first.toString('latin1', 0, 200), firstBytes: first.length }
}

t.test('a stalled download keeps a deleted materialization counted until it is closed', async (t) => {
  const app = await build(t, { MATERIA_SEND_TIMEOUT: '0', MATERIA_MEMORY_BUDGET: '96MiB', MATERIA_ARENA_CACHE: '0' })
  const port = await listen(app)
  const { sid, mid, matId } = await materialized(t, app)
  const nbytes = 64 * MiB
  const { socket, head } = await stalledGet(port, `/v1/sessions/${sid}/materializations/${matId}/safetensors`)
  t.match(head, /^HTTP\/1\.1 200/)
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/sessions/${sid}/materializations/${matId}` })).statusCode, 204)
  t.equal(app.materializations.count, 0, 'the materialization is gone')
  t.equal(app.materializations.budget.used, nbytes, 'its bytes are still counted: a reader holds them')
  // the budget really is full: 64 MiB more do not fit in 96
  const again = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules/${mid}/materializations`, payload: { init: 'ones' } })
  t.equal(again.statusCode, 507, again.body)
  t.equal(again.json().code, 'MATERIA_ERR_MEMORY_BUDGET')
  t.equal(app.materializations.residentBytesOfTenant('public'), nbytes, 'and in the tenant\'s quota')
  socket.destroy()
  await until('the budget is released', () => app.materializations.budget.used === 0)
  t.pass('released once the reader went away')
})

t.test('MATERIA_SEND_TIMEOUT closes a download that makes no progress, and its bytes are released', async (t) => {
  const app = await build(t, { MATERIA_SEND_TIMEOUT: '300ms', MATERIA_ARENA_CACHE: '0' })
  const port = await listen(app)
  const { sid, matId } = await materialized(t, app)
  const { socket } = await stalledGet(port, `/v1/sessions/${sid}/materializations/${matId}/safetensors`)
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/sessions/${sid}/materializations/${matId}` })).statusCode, 204)
  // the server gives up on the stalled response: the bytes go back without the client doing anything
  await until('the budget is released', () => app.materializations.budget.used === 0)
  t.equal(app.materializations.budget.used, 0)
  // what the client had not read yet (in its socket buffers) ends short of the file
  let received = 0
  socket.on('data', (c: Buffer) => { received += c.length })
  socket.resume()
  await once(socket, 'close')
  t.ok(received < 64 * MiB, `the connection was closed after ${received} bytes`)
})

t.test('a download that keeps reading slowly is not cut by MATERIA_SEND_TIMEOUT', async (t) => {
  const app = await build(t, { MATERIA_SEND_TIMEOUT: '400ms' })
  const port = await listen(app)
  const { sid, matId } = await materialized(t, app)
  const { socket, firstBytes } = await stalledGet(port, `/v1/sessions/${sid}/materializations/${matId}/safetensors`)
  // read in bursts, pausing 150 ms (well under the timeout) after every 4 MiB: the server stalls each time
  let received = firstBytes
  let nextPause = 4 * MiB
  socket.on('data', (c: Buffer) => {
    received += c.length
    if (received < nextPause) return
    nextPause += 4 * MiB
    socket.pause()
    setTimeout(() => socket.resume(), 150)
  })
  let closed = false
  socket.once('close', () => { closed = true })
  socket.resume()
  await until('the whole file, or the connection closed', () => closed || received >= 64 * MiB, 60_000)
  t.notOk(closed, `open after ${received} bytes`)
  t.ok(received >= 64 * MiB, `received ${received} bytes`)
  socket.destroy()
})

t.test('MATERIA_RECEIVE_TIMEOUT: an upload that stalls after its header gets 408 and its reservation back', async (t) => {
  const app = await build(t, { MATERIA_RECEIVE_TIMEOUT: '300ms' })
  const port = await listen(app)
  const sid = (await app.inject({ method: 'POST', url: '/v1/sessions' })).json().id as string
  const mid = (await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules`, payload: linear })).json().id as string
  const nbytes = 64 * MiB
  const header = Buffer.from(JSON.stringify({ weight: { dtype: 'F32', shape: [4096, 4096], data_offsets: [0, nbytes] } }))
  const prefix = Buffer.alloc(8)
  prefix.writeBigUInt64LE(BigInt(header.length))
  const length = 8 + header.length + nbytes
  const socket = connect(port, '127.0.0.1')
  await once(socket, 'connect')
  socket.write(`POST /v1/sessions/${sid}/modules/${mid}/materializations HTTP/1.1\r\nhost: x\r\ncontent-type: application/octet-stream\r\ncontent-length: ${length}\r\n\r\n`)
  socket.write(Buffer.concat([prefix, header, Buffer.alloc(MiB, 1)]))
  await until('the reservation is made', () => app.materializations.budget.used >= nbytes)
  let answer = ''
  socket.setEncoding('latin1').on('data', (d: string) => { answer += d })
  await once(socket, 'close')
  t.match(answer, /^HTTP\/1\.1 408/)
  t.match(answer, /"code":"MATERIA_ERR_REQUEST_TIMEOUT"/)
  t.match(answer, /no byte for 300 ms after \d+ of \d+ bytes/)
  await until('the reservation is released', () => app.materializations.budget.used === 0)
  t.equal(app.materializations.count, 0, 'no materialization left behind')
})
