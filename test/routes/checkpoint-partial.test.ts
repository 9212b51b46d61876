// Checkpoint uploads with ?strict=false: the missing keys get the module's seeded default init (or
// `init`), exactly what `torch.manual_seed(seed); m = X(...); m.load_state_dict(sd, strict=False)`
// leaves, compared with files written by PyTorch (scripts/golden/make-partial-checkpoint-golden.py).
import t from 'tap'
import { readFileSync } from 'node:fs'
import type { FastifyInstance } from 'fastify'
import { assertErrorBody, build, safetensorsTensors } from '../helper.js'

const dir = new URL('../fixtures/partial-checkpoint/', import.meta.url)
const golden = JSON.parse(readFileSync(new URL('cases.json', dir), 'utf8')) as {
  cases: Array<{ id: string, spec: object, seed: number, input: string, expected: string, missingKeys: string[], unexpectedKeys: string[] }>
}

interface Mat { id: string, safetensors: string, seed: number | null, rng: string | null, device: string, init: string, tensors: Array<{ name: string, href: string }>, checkpoint?: { strict: boolean, missingKeys: string[], unexpectedKeys: string[], missingInit: string } }

async function setup (app: FastifyInstance, spec: object): Promise<{ sid: string, mid: string }> {
  const sid = (await app.inject({ method: 'POST', url: '/v1/sessions', payload: {} })).json().id as string
  const res = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules`, payload: spec })
  if (res.statusCode !== 201) throw new Error(res.body)
  return { sid, mid: res.json().id as string }
}

const upload = async (app: FastifyInstance, sid: string, mid: string, file: Buffer, query = '') =>
  await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules/${mid}/materializations${query}`, payload: file, headers: { 'content-type': 'application/octet-stream' } })

t.test('strict=false: missing keys hold PyTorch\'s seeded init, the rest the file (golden, both devices)', async (t) => {
  const app = await build(t)
  t.ok(golden.cases.length >= 5)
  for (const c of golden.cases) {
    const input = readFileSync(new URL(c.input, dir))
    const expected = readFileSync(new URL(c.expected, dir))
    for (const device of ['cpu', 'worker']) {
      const { sid, mid } = await setup(app, c.spec)
      const res = await upload(app, sid, mid, input, `?strict=false&seed=${c.seed}&device=${device}`)
      t.equal(res.statusCode, 201, `${c.id} ${device}: ${res.statusCode === 201 ? 'created' : res.body}`)
      const m = res.json() as Mat
      t.same(m.checkpoint, { strict: false, missingKeys: c.missingKeys, unexpectedKeys: c.unexpectedKeys, missingInit: 'default' }, `${c.id}: load_state_dict's report`)
      t.equal(m.init, 'checkpoint')
      t.equal(m.device, device)
      t.same([m.seed, m.rng], c.missingKeys.length > 0 ? [c.seed, 'torch'] : [null, null])
      const served = (await app.inject(m.safetensors)).rawPayload
      t.ok(served.equals(expected), `${c.id} ${device}: the file PyTorch saved after load_state_dict(strict=False)`)
    }
  }
})

t.test('strict=false with rng philox: missing keys equal a full philox materialization\'s; init ones', async (t) => {
  const app = await build(t)
  for (const id of ['encoderlayer-partial', 'encoder-copies-missing']) {
    // in encoder-copies-missing a missing copy's stream stays keyed by the first layer's name
    const c = golden.cases.find((x) => x.id === id) as (typeof golden.cases)[0]
    const input = readFileSync(new URL(c.input, dir))
    const fromFile = safetensorsTensors(input)
    const { sid, mid } = await setup(app, c.spec)
    const full = (await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules/${mid}/materializations`, payload: { init: 'default', rng: 'philox', seed: 5 } })).json() as Mat
    const fullTensors = safetensorsTensors((await app.inject(full.safetensors)).rawPayload)
    for (const device of ['cpu', 'worker']) {
      const res = await upload(app, sid, mid, input, `?strict=false&rng=philox&seed=5&device=${device}`)
      t.equal(res.statusCode, 201, res.body)
      const got = safetensorsTensors((await app.inject((res.json() as Mat).safetensors)).rawPayload)
      t.equal(got.size, fullTensors.size)
      for (const [name, bytes] of got) {
        const want = c.missingKeys.includes(name) ? fullTensors.get(name) : fromFile.get(name)
        t.ok(want !== undefined && bytes.equals(want), `${id} ${device} ${name}: ${c.missingKeys.includes(name) ? 'philox stream of the whole module' : 'from the file'}`)
      }
    }
  }
  const c = golden.cases.find((x) => x.id === 'encoderlayer-partial') as (typeof golden.cases)[0]
  const input = readFileSync(new URL(c.input, dir))
  const fromFile = safetensorsTensors(input)
  const { sid, mid } = await setup(app, c.spec)
  const ones = await upload(app, sid, mid, input, '?strict=false&init=ones')
  t.equal(ones.statusCode, 201, ones.body)
  t.equal((ones.json() as Mat).checkpoint?.missingInit, 'ones')
  t.same([(ones.json() as Mat).seed, (ones.json() as Mat).rng], [null, null])
  const onesTensors = safetensorsTensors((await app.inject((ones.json() as Mat).safetensors)).rawPayload)
  for (const name of c.missingKeys) {
    const b = onesTensors.get(name) as Buffer
    t.ok(b.length > 0 && new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length)).every((v) => v === 1), `${name}: ones`)
  }
  t.ok(onesTensors.get('linear1.weight')?.equals(fromFile.get('linear1.weight') as Buffer), 'a loaded tensor keeps the file\'s bytes')
})

t.test('strict (the default) still refuses missing and unexpected keys; options are checked', async (t) => {
  const app = await build(t)
  const c = golden.cases.find((x) => x.id === 'mlp-new-head') as (typeof golden.cases)[0]
  const input = readFileSync(new URL(c.input, dir))
  const { sid, mid } = await setup(app, c.spec)
  const strict = await upload(app, sid, mid, input)
  const body = assertErrorBody(t, strict, 400, 'MATERIA_ERR_CHECKPOINT_MISMATCH')
  t.match(body.message, /Missing key\(s\) in state_dict: "1\.running_var", "2\.weight", "2\.bias"\./)
  t.match(body.message, /Unexpected key\(s\) in state_dict: "head\.weight"\./)
  t.match(assertErrorBody(t, await upload(app, sid, mid, input, '?seed=3'), 400, 'MATERIA_ERR_MATERIALIZATION_OPTIONS').message, /need strict=false/)
  t.match(assertErrorBody(t, await upload(app, sid, mid, input, '?strict=false&init=zeros&seed=3'), 400, 'MATERIA_ERR_MATERIALIZATION_OPTIONS').message, /apply to init 'default'/)
  assertErrorBody(t, await upload(app, sid, mid, input, '?strict=false&rng=mt'), 400, 'MATERIA_ERR_VALIDATION')
  const json = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules/${mid}/materializations?strict=false`, payload: { init: 'ones' } })
  t.match(assertErrorBody(t, json, 400, 'MATERIA_ERR_MATERIALIZATION_OPTIONS').message, /apply to checkpoint uploads/)
  // a size mismatch fails with strict=false too, as in PyTorch
  const other = await setup(app, { class: 'Sequential', args: [{ class: 'Linear', args: [6, 8] }, { class: 'BatchNorm1d', args: [9] }, { class: 'Linear', args: [9, 4] }] })
  t.match(assertErrorBody(t, await upload(app, other.sid, other.mid, input, '?strict=false'), 400, 'MATERIA_ERR_CHECKPOINT_MISMATCH').message,
    /size mismatch for 0\.weight: copying a param with shape torch\.Size\(\[9, 6\]\) from checkpoint, the shape in current model is torch\.Size\(\[8, 6\]\)\./)
  t.equal(app.materializations.residentBytes, 0, 'nothing held after the refusals')
})
