// print(module) and the canonical `python` over the whole golden layout set, through the HTTP API
// on loopback: GET …/modules/{id}/repr must equal PyTorch 2.13's str(module) for every case of
// test/fixtures/nn-repr.json (written by scripts/golden/make-nn-repr.py: the layout cases, then specs
// written as Python that Python itself evaluated, covering every catalog class), and the module's
// `python` must rebuild the same module (same tensors, same repr, same python).
import t from 'tap'
import { readFileSync } from 'node:fs'
import { build } from '../helper.js'
import { MODULE_DEFS } from '../../src/nn/registry.js'

interface ReprCase { id: string, spec: Record<string, unknown>, torch: string, repr: string }

const cases = JSON.parse(readFileSync(new URL('../fixtures/nn-repr.json', import.meta.url), 'utf8')) as ReprCase[]

t.test('the golden reprs print every catalog class', async (t) => {
  const text = cases.map((c) => c.repr).join('\n')
  // torch.nn classes: the repr route refuses modules of other libraries (501, tested with the transformers routes)
  t.same(MODULE_DEFS.filter((d) => d.qualname.startsWith('torch.nn.') && !new RegExp(`(^|[ :])${d.name}\\(`, 'm').test(text)).map((d) => d.name), [])
})

t.test('every golden layout case: repr equals PyTorch, python round-trips', async (t) => {
  const app = await build(t)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  const call = async (method: string, path: string, body?: unknown): Promise<Response> =>
    await fetch(base + path, { method, ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}) })
  const sid = (await (await call('POST', '/v1/sessions')).json() as { id: string }).id

  t.ok(cases.length >= 300, `${cases.length} cases`)
  t.ok(cases.some((c) => 'python' in c.spec), 'and specs written as Python')
  t.ok(cases.some((c) => c.repr.includes(' x ')), 'the set has ModuleList groups of repeated blocks')
  let unprintable = 0
  for (const c of cases) {
    const created = await call('POST', `/v1/sessions/${sid}/modules`, c.spec)
    t.equal(created.status, 201, `${c.id}: built`)
    const m = await created.json() as { id: string, python?: string, tensors: unknown[], ties?: string[][] }
    const res = await call('GET', `/v1/sessions/${sid}/modules/${m.id}/repr`)
    t.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8')
    t.equal(await res.text(), c.repr, `${c.id}: repr`)
    await call('DELETE', `/v1/sessions/${sid}/modules/${m.id}`)

    if (m.python === undefined) {
      unprintable++
      t.match(JSON.stringify(c.spec.args ?? []), /"ties"/, `${c.id}: no python only for ties inside a nested spec`)
      continue
    }
    const again = await call('POST', `/v1/sessions/${sid}/modules`, { python: m.python, ...(m.ties !== undefined ? { ties: m.ties } : {}) })
    t.equal(again.status, 201, `${c.id}: ${m.python} builds`)
    const m2 = await again.json() as { id: string, python?: string, tensors: unknown[] }
    t.same(m2.tensors, m.tensors, `${c.id}: same tensors`)
    t.equal(m2.python, m.python, `${c.id}: same python`)
    t.equal(await (await call('GET', `/v1/sessions/${sid}/modules/${m2.id}/repr`)).text(), c.repr, `${c.id}: same repr`)
    await call('DELETE', `/v1/sessions/${sid}/modules/${m2.id}`)
  }
  t.ok(unprintable < 5, `${unprintable} cases have no python`)
})
