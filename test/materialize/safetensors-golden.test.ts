// PyTorch compatibility of the served safetensors files: every case of
// test/fixtures/safetensors-golden/cases.json (written by scripts/golden/make-safetensors-golden.py:
// PyTorch builds the module, fills its parameters with ones or zeros, keeps buffers as constructed,
// optionally casts with module.to(dtype), and safetensors.torch.save_model writes the file) is
// materialized through the HTTP API on both devices; the bytes served must equal the golden file.
import { readFileSync } from 'node:fs'
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { build } from '../helper.js'

interface GoldenCase {
  id: string
  spec: Record<string, unknown>
  init: 'ones' | 'zeros'
  dtype?: string
  file: string
}

const dir = new URL('../fixtures/safetensors-golden/', import.meta.url)
const cases = JSON.parse(readFileSync(new URL('cases.json', dir), 'utf8')) as GoldenCase[]
const devices = ['cpu', 'worker'] as const

/** Where the two disagree: the first differing byte and the header text around it. */
function describeDiff (got: Buffer, want: Buffer): string {
  let i = 0
  while (i < got.length && i < want.length && got[i] === want[i]) i++
  const around = (b: Buffer): string => JSON.stringify(b.subarray(Math.max(0, i - 40), i + 80).toString('latin1'))
  return `first difference at byte ${i} (sizes ${got.length} vs ${want.length})\n  served: ${around(got)}\n  golden: ${around(want)}`
}

async function materialize (app: FastifyInstance, sid: string, mid: string, c: GoldenCase, device: string): Promise<string> {
  const res = await app.inject({
    method: 'POST',
    url: `/v1/sessions/${sid}/modules/${mid}/materializations`,
    payload: { init: c.init, device, ...(c.dtype !== undefined ? { dtype: c.dtype } : {}) }
  })
  if (res.statusCode !== 201) throw new Error(`materialization of ${c.id} on ${device}: ${res.statusCode} ${res.body}`)
  return res.json().id as string
}

t.test('the golden selection is broad', async (t) => {
  t.ok(cases.length >= 40, `${cases.length} cases`)
  t.ok(cases.some((c) => c.init === 'zeros'), 'init zeros')
  t.ok(cases.some((c) => c.dtype !== undefined), 'materialization dtype casts')
  t.ok(cases.some((c) => 'ties' in c.spec), 'tied weights')
})

t.test('served safetensors equal safetensors.torch.save_model byte for byte', async (t) => {
  const app = await build(t)
  const sid = (await app.inject({ method: 'POST', url: '/v1/sessions' })).json().id as string

  for (const c of cases) {
    await t.test(c.id, async (t) => {
      const golden = readFileSync(new URL(c.file, dir))
      const mod = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules`, payload: c.spec })
      t.equal(mod.statusCode, 201, 'module built')
      const mid = mod.json().id as string
      for (const device of devices) {
        const id = await materialize(app, sid, mid, c, device)
        const url = `/v1/sessions/${sid}/materializations/${id}/safetensors`
        const res = await app.inject({ method: 'GET', url })
        t.equal(res.statusCode, 200, `${device}: GET 200`)
        const body = res.rawPayload
        t.ok(body.equals(golden), `${device}: bytes equal ${c.file}`, body.equals(golden) ? {} : { diff: describeDiff(body, golden) })
        t.equal(res.headers['content-length'], String(golden.length), `${device}: GET content-length`)
        const head = await app.inject({ method: 'HEAD', url })
        t.equal(head.statusCode, 200, `${device}: HEAD 200`)
        t.equal(head.headers['content-length'], String(golden.length), `${device}: HEAD content-length`)
        t.equal(head.rawPayload.length, 0, `${device}: HEAD has no body`)
        t.equal((await app.inject({ method: 'DELETE', url: `/v1/sessions/${sid}/materializations/${id}` })).statusCode, 204)
      }
      // the golden file, written by PyTorch, loads back as a checkpoint (dtype casts aside: strict dtypes)
      if (c.dtype === undefined) {
        const up = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules/${mid}/materializations`, payload: golden, headers: { 'content-type': 'application/octet-stream' } })
        t.equal(up.statusCode, 201, `checkpoint upload: ${up.statusCode === 201 ? 'ok' : up.body}`)
        if (up.statusCode === 201) {
          const back = await app.inject(up.json().safetensors as string)
          t.ok(back.rawPayload.equals(golden), 'checkpoint round trip is byte-identical')
        }
      }
      t.equal((await app.inject({ method: 'DELETE', url: `/v1/sessions/${sid}/modules/${mid}` })).statusCode, 204)
    })
  }
})
