// A materialization's progress counts the bytes its fill writes: `bytesTotal` is what the fill will
// write (never more than the module's bytes: a tensor is written once, what stays zero not at all),
// and a ready materialization has `bytesDone` equal to it, counted as written, not set at the end.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { build } from '../helper.js'

interface Mat { status: string, nbytes: number, progress: { bytesDone: number, bytesTotal: number }, checkpoint?: { missingKeys: string[], unexpectedKeys: string[] } }

async function moduleOf (app: FastifyInstance, spec: object): Promise<{ sid: string, mid: string, nbytes: number }> {
  const sid = (await app.inject({ method: 'POST', url: '/v1/sessions', payload: {} })).json().id as string
  const res = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules`, payload: spec })
  if (res.statusCode !== 201) throw new Error(res.body)
  const m = res.json() as { id: string, tensors: Array<{ nbytes: number }> }
  return { sid, mid: m.id, nbytes: m.tensors.reduce((n, x) => n + x.nbytes, 0) }
}

/** A safetensors file (format: https://github.com/huggingface/safetensors#format) of the given tensors, in order. */
function safetensorsFile (tensors: Array<{ name: string, dtype: string, shape: number[], data: Buffer }>): Buffer {
  const header: Record<string, unknown> = {}
  let at = 0
  for (const x of tensors) {
    header[x.name] = { dtype: x.dtype, shape: x.shape, data_offsets: [at, at + x.data.length] }
    at += x.data.length
  }
  const json = Buffer.from(JSON.stringify(header))
  const len = Buffer.alloc(8)
  len.writeBigUInt64LE(BigInt(json.length))
  return Buffer.concat([len, json, ...tensors.map((x) => x.data)])
}

const filled = (n: number, bytes: number[]): Buffer => Buffer.from(Array.from({ length: n }, () => bytes).flat())
const BF16_ONE = [0x80, 0x3f]
const F64_HALF = [0, 0, 0, 0, 0, 0, 0xe0, 0x3f]

t.test('every init: bytesTotal within the module\'s bytes, bytesDone reaches it (LayerNorm default writes its weight only)', async (t) => {
  const app = await build(t)
  const specs = [{ class: 'LayerNorm', args: [1024] }, { class: 'BatchNorm1d', args: [100] }, { class: 'TransformerEncoderLayer', args: [64, 4] }, { class: 'Linear', args: [10, 10] }]
  for (const spec of specs) {
    const { sid, mid, nbytes } = await moduleOf(app, spec)
    for (const init of ['default', 'ones', 'zeros', 'empty']) {
      for (const device of ['cpu', 'worker']) {
        const res = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules/${mid}/materializations`, payload: { init, device, ...(init === 'default' ? { seed: 1 } : {}) } })
        t.equal(res.statusCode, 201, res.body)
        const m = res.json() as Mat
        t.equal(m.status, 'ready', `${spec.class} ${init} ${device}`)
        t.ok(m.progress.bytesTotal <= nbytes, `${spec.class} ${init} ${device}: ${m.progress.bytesTotal} ≤ ${nbytes}`)
        t.equal(m.progress.bytesDone, m.progress.bytesTotal, `${spec.class} ${init} ${device}: counted to the end`)
        if (spec.class === 'LayerNorm' && init === 'default') t.equal(m.progress.bytesTotal, 1024 * 4, 'weight = 1; the zero bias stays fresh memory')
      }
    }
  }
})

t.test('checkpoint with strict=false: the copies count their written (cast) bytes, the missing keys once', async (t) => {
  const app = await build(t)
  const upload = async (sid: string, mid: string, file: Buffer, query: string): Promise<Mat> => {
    const res = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules/${mid}/materializations${query}`, payload: file, headers: { 'content-type': 'application/octet-stream' } })
    t.equal(res.statusCode, 201, res.body)
    return res.json() as Mat
  }
  // a bfloat16 weight into LayerNorm's float32 one (half the source bytes), the bias missing and left zero
  const ln = await moduleOf(app, { class: 'LayerNorm', args: [1024] })
  const lnFile = safetensorsFile([{ name: 'weight', dtype: 'BF16', shape: [1024], data: filled(1024, BF16_ONE) }])
  for (const device of ['cpu', 'worker']) {
    const m = await upload(ln.sid, ln.mid, lnFile, `?strict=false&device=${device}`)
    t.same(m.checkpoint?.missingKeys, ['bias'])
    t.same(m.progress, { bytesDone: 1024 * 4, bytesTotal: 1024 * 4 }, `${device}: the weight's float32 bytes`)
  }
  // a float64 weight (twice the bytes) and an unexpected tensor, the missing bias drawn (default) or ones
  const lin = await moduleOf(app, { class: 'Linear', args: [64, 32] })
  const linFile = safetensorsFile([
    { name: 'extra', dtype: 'F32', shape: [4096], data: Buffer.alloc(4096 * 4) },
    { name: 'weight', dtype: 'F64', shape: [32, 64], data: filled(32 * 64, F64_HALF) }
  ])
  for (const query of ['?strict=false&seed=2', '?strict=false&init=ones', '?strict=false&init=zeros']) {
    const m = await upload(lin.sid, lin.mid, linFile, query)
    t.same(m.checkpoint?.unexpectedKeys, ['extra'])
    const bias = query.endsWith('zeros') ? 0 : 32 * 4
    t.same(m.progress, { bytesDone: 32 * 64 * 4 + bias, bytesTotal: 32 * 64 * 4 + bias }, `${query}: weight as float32${bias > 0 ? ' and the bias' : ''}`)
    t.ok(m.progress.bytesTotal <= lin.nbytes)
  }
})

t.test('wait: false: every poll has bytesDone ≤ bytesTotal ≤ the module\'s bytes, and ends equal', async (t) => {
  const app = await build(t)
  const { sid, mid, nbytes } = await moduleOf(app, { class: 'TransformerEncoderLayer', args: [512, 8] })
  const res = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules/${mid}/materializations`, payload: { init: 'default', seed: 3, wait: false } })
  t.equal(res.statusCode, 202)
  const url = String(res.headers.location)
  let m: Mat
  let polls = 0
  do {
    m = (await app.inject(url)).json() as Mat
    polls++
    t.ok(m.progress.bytesDone <= m.progress.bytesTotal && m.progress.bytesTotal <= nbytes, `poll ${polls}: ${m.progress.bytesDone} ≤ ${m.progress.bytesTotal} ≤ ${nbytes}`)
    if (m.status === 'pending') await new Promise((resolve) => setTimeout(resolve, 5))
  } while (m.status === 'pending' && polls < 10000)
  t.equal(m.status, 'ready')
  t.equal(m.progress.bytesDone, m.progress.bytesTotal)
})
