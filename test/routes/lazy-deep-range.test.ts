// Ranges deep inside a seeded model, from a lazy materialization, against PyTorch: the golden bytes
// were made by building the model layer by layer after torch.manual_seed (make-deep-range-golden.py),
// as a model too large for memory has to be checked. Each range is asked alone, by a fresh
// materialization (no walk to resume: the generator jumps from the seed), then all in order by one.
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import t from 'tap'
import type { AddressInfo } from 'node:net'
import { build } from '../helper.js'

interface Range { tensor: string, start: number, end: number, sha256: string, head: string }
const golden = JSON.parse(readFileSync(new URL('../fixtures/deep-range/deep-range.json', import.meta.url), 'utf8')) as
  { spec: object, cases: Array<{ seed: number, dtype: string, ranges: Range[] }> }

t.test('ranges deep in a seeded model equal PyTorch\'s, each computable alone', async (t) => {
  const app = await build(t)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const sid = (await app.inject({ method: 'POST', url: '/v1/sessions' })).json().id as string
  const mod = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules`, payload: golden.spec })
  t.equal(mod.statusCode, 201, mod.body)
  const mid = mod.json().id as string
  for (const c of golden.cases) {
    const body = { init: 'default', seed: c.seed, lazy: true, device: 'worker', ...(c.dtype !== 'float32' ? { dtype: c.dtype } : {}) }
    const materialize = async (): Promise<string> => {
      const res = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules/${mid}/materializations`, payload: body })
      t.equal(res.statusCode, 201, res.body)
      return `${base}/v1/sessions/${sid}/materializations/${res.json().id as string}`
    }
    const fetchRange = async (m: string, r: Range): Promise<Buffer> => {
      const res = await fetch(`${m}/tensors/${encodeURIComponent(r.tensor)}`, { headers: { range: `bytes=${r.start}-${r.end - 1}` } })
      t.equal(res.status, 206)
      return Buffer.from(await res.arrayBuffer())
    }
    for (const r of c.ranges) {
      const bytes = await fetchRange(await materialize(), r)
      t.equal(bytes.subarray(0, 16).toString('hex'), r.head, `seed ${c.seed} ${c.dtype} ${r.tensor} [${r.start}, ${r.end}): first bytes`)
      t.equal(createHash('sha256').update(bytes).digest('hex'), r.sha256, 'alone: PyTorch\'s bytes')
    }
    const one = await materialize()
    for (const r of c.ranges) t.equal(createHash('sha256').update(await fetchRange(one, r)).digest('hex'), r.sha256, `in order: ${r.tensor}`)
  }
})
