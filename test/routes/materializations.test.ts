import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, assertErrorBody } from '../helper.js'
import { errorDefs } from '../../src/errors.js'

interface Mat { id: string, status: string, safetensors: string, nbytes: number, tensors: Array<{ name: string, href: string, nbytes: number }>, progress: { bytesDone: number, bytesTotal: number } }

async function moduleOf (app: FastifyInstance, spec: object): Promise<{ sid: string, mid: string }> {
  const sid = (await app.inject({ method: 'POST', url: '/v1/sessions' })).json().id as string
  const res = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules`, payload: spec })
  if (res.statusCode !== 201) throw new Error(res.body)
  return { sid, mid: res.json().id as string }
}

async function materialize (app: FastifyInstance, sid: string, mid: string, body: object): Promise<Mat> {
  const res = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules/${mid}/materializations`, payload: body })
  if (res.statusCode !== 201) throw new Error(`${res.statusCode} ${res.body}`)
  return res.json() as Mat
}

const mixed = {
  class: 'Sequential',
  args: [{ class: 'Conv2d', args: [3, 5, 3] }, { class: 'BatchNorm2d', args: [5] }, { class: 'Embedding', args: [7, 3], kwargs: { dtype: 'float16' } }, { class: 'Linear', args: [3, 2] }]
}

t.test('cpu and worker give identical bytes, for every init and dtype cast', async (t) => {
  const app = await build(t)
  const { sid, mid } = await moduleOf(app, mixed)
  for (const init of ['empty', 'zeros', 'ones']) {
    for (const dtype of [undefined, 'bfloat16', 'torch.float64']) {
      const files: Buffer[] = []
      for (const device of ['cpu', 'worker']) {
        const m = await materialize(app, sid, mid, { init, device, ...(dtype !== undefined ? { dtype } : {}) })
        t.equal(m.status, 'ready')
        const res = await app.inject(m.safetensors)
        t.equal(res.statusCode, 200)
        t.equal(res.headers['content-type'], 'application/octet-stream')
        t.equal(Number(res.headers['content-length']), res.rawPayload.length)
        files.push(res.rawPayload)
      }
      t.ok(files[0]?.equals(files[1] ?? Buffer.alloc(0)), `${init} ${dtype ?? ''}: cpu = worker`)
    }
  }
})

t.test('values: ones, buffers at their constructor values even when empty, dtype casts', async (t) => {
  const app = await build(t)
  const { sid, mid } = await moduleOf(app, mixed)
  const bytes = async (m: Mat, name: string): Promise<Buffer> => (await app.inject(m.tensors.find((x) => x.name === name)?.href ?? '')).rawPayload
  const ones = await materialize(app, sid, mid, { init: 'ones' })
  t.same([...new Float32Array(new Uint8Array(await bytes(ones, '0.weight')).buffer)].slice(0, 3), [1, 1, 1])
  t.equal((await bytes(ones, '2.weight')).toString('hex').slice(0, 8), '003c003c', 'float16 ones')
  const empty = await materialize(app, sid, mid, { init: 'empty' })
  t.same([...new Float32Array(new Uint8Array(await bytes(empty, '1.running_var')).buffer)], [1, 1, 1, 1, 1])
  t.same([...new Float32Array(new Uint8Array(await bytes(empty, '1.running_mean')).buffer)], [0, 0, 0, 0, 0])
  t.equal((await bytes(empty, '1.num_batches_tracked')).readBigInt64LE(0), 0n)
  const bf = await materialize(app, sid, mid, { init: 'ones', dtype: 'bfloat16' })
  const w = await app.inject(bf.tensors[0]?.href ?? '')
  t.equal(w.headers['x-tensor-dtype'], 'bfloat16')
  t.equal(w.headers['x-tensor-shape'], '5,3,3,3')
  t.equal(w.rawPayload.toString('hex').slice(0, 8), '803f803f', 'bfloat16 ones')
  const counter = await app.inject(bf.tensors.find((x) => x.name === '1.num_batches_tracked')?.href ?? '')
  t.equal(counter.headers['x-tensor-dtype'], 'int64', 'integer buffers are not cast')
  t.equal(counter.headers['x-tensor-shape'], '')
})

t.test('Range, HEAD, ETag', async (t) => {
  const app = await build(t)
  const { sid, mid } = await moduleOf(app, { class: 'Linear', args: [4, 4] })
  const m = await materialize(app, sid, mid, { init: 'ones' })
  const href = m.tensors[0]?.href ?? ''
  const full = await app.inject(href)
  t.equal(full.rawPayload.length, 64)
  const etag = String(full.headers.etag)
  t.match(etag, /^"[\w-]+"$/)
  t.equal(full.headers['accept-ranges'], 'bytes')
  const get = async (headers: Record<string, string>, url = href) => await app.inject({ url, headers })
  const r1 = await get({ range: 'bytes=0-0' })
  t.equal(r1.statusCode, 206); t.equal(r1.headers['content-range'], 'bytes 0-0/64'); t.equal(r1.rawPayload.length, 1)
  const r2 = await get({ range: 'bytes=-4' })
  t.equal(r2.statusCode, 206); t.equal(r2.headers['content-range'], 'bytes 60-63/64'); t.same(r2.rawPayload, full.rawPayload.subarray(60))
  const r3 = await get({ range: 'bytes=10-' })
  t.equal(r3.headers['content-range'], 'bytes 10-63/64'); t.same(r3.rawPayload, full.rawPayload.subarray(10))
  const r4 = await get({ range: 'bytes=5-1000' })
  t.equal(r4.headers['content-range'], 'bytes 5-63/64')
  const bad = await get({ range: 'bytes=64-70' })
  assertErrorBody(t, bad, 416, errorDefs.rangeNotSatisfiable.code)
  t.equal(bad.headers['content-range'], 'bytes */64')
  t.equal((await get({ range: 'bytes=0-1,4-5' })).statusCode, 200, 'multiple ranges: the whole')
  t.equal((await get({ 'if-none-match': etag })).statusCode, 304)
  t.equal((await get({ range: 'bytes=0-1', 'if-range': '"other"' })).statusCode, 200, 'If-Range mismatch: the whole')
  t.equal((await get({ range: 'bytes=0-1', 'if-range': etag })).statusCode, 206)
  const head = await app.inject({ method: 'HEAD', url: href })
  t.equal(head.statusCode, 200); t.equal(head.headers['content-length'], '64'); t.equal(head.rawPayload.length, 0)
  t.equal(head.headers['x-tensor-dtype'], 'float32')
  const file = await app.inject(m.safetensors)
  const fileRange = await get({ range: 'bytes=4-100' }, m.safetensors)
  t.same(fileRange.rawPayload, file.rawPayload.subarray(4, 101), 'a range across header and data')
  const fileHead = await app.inject({ method: 'HEAD', url: m.safetensors })
  t.equal(Number(fileHead.headers['content-length']), file.rawPayload.length)
  assertErrorBody(t, await app.inject(`/v1/sessions/${sid}/materializations/${m.id}/tensors/nope`), 404, errorDefs.tensorNotFound.code)
  assertErrorBody(t, await app.inject(`/v1/sessions/${sid}/materializations/mat_nope/safetensors`), 404, errorDefs.materializationNotFound.code)
})

t.test('sharded export: index and shards cover the state dict', async (t) => {
  const app = await build(t)
  const { sid, mid } = await moduleOf(app, { class: 'Sequential', args: [{ class: 'Linear', args: [8, 8] }, { class: 'Linear', args: [8, 8] }, { class: 'Linear', args: [8, 8] }] })
  const m = await materialize(app, sid, mid, { init: 'ones' })
  const idx = await app.inject(`${m.safetensors}/model.safetensors.index.json?maxShardBytes=300`)
  t.equal(idx.statusCode, 200)
  t.match(String(idx.headers['content-type']), /^application\/json/)
  const index = idx.json() as { metadata: { total_size: number }, weight_map: Record<string, string> }
  t.equal(index.metadata.total_size, 3 * (64 + 8) * 4)
  t.same(Object.keys(index.weight_map).sort(), ['0.bias', '0.weight', '1.bias', '1.weight', '2.bias', '2.weight'])
  const files = [...new Set(Object.values(index.weight_map))]
  t.ok(files.length > 1, 'more than one shard')
  let seen = 0
  for (const f of files) {
    const shard = await app.inject(`${m.safetensors}/${f}?maxShardBytes=300`)
    t.equal(shard.statusCode, 200, f)
    const n = Number(shard.rawPayload.readBigUInt64LE(0))
    const header = JSON.parse(shard.rawPayload.subarray(8, 8 + n).toString()) as Record<string, { data_offsets: [number, number] }>
    for (const [name, e] of Object.entries(header)) {
      if (name === '__metadata__') continue
      t.equal(index.weight_map[name], f)
      const data = shard.rawPayload.subarray(8 + n + e.data_offsets[0], 8 + n + e.data_offsets[1])
      t.ok([...new Float32Array(new Uint8Array(data).buffer)].every((v) => v === 1), `${name} bytes`)
      seen++
    }
  }
  t.equal(seen, 6)
  assertErrorBody(t, await app.inject(`${m.safetensors}/model-00009-of-00009.safetensors?maxShardBytes=300`), 404, errorDefs.tensorNotFound.code)
})

t.test('wait: false answers 202 with Location; progress reaches the total', async (t) => {
  const app = await build(t)
  const { sid, mid } = await moduleOf(app, { class: 'Linear', args: [2048, 2048] })
  const res = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules/${mid}/materializations`, payload: { init: 'ones', device: 'worker', wait: false } })
  t.equal(res.statusCode, 202)
  const location = String(res.headers.location)
  t.equal(location, `/v1/sessions/${sid}/materializations/${res.json().id as string}`)
  let m = res.json() as Mat
  for (let i = 0; i < 500 && m.status === 'pending'; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10))
    m = (await app.inject(location)).json() as Mat
  }
  t.equal(m.status, 'ready')
  t.equal(m.progress.bytesDone, m.progress.bytesTotal)
  t.equal(m.progress.bytesTotal, (2048 * 2048 + 2048) * 4)
})

t.test('the memory budget refuses with 507 and the figures; DELETE returns the bytes', async (t) => {
  const app = await build(t, { MATERIA_MEMORY_BUDGET: '1MiB' })
  const { sid, mid } = await moduleOf(app, { class: 'Linear', args: [512, 256] }) // 512 KiB + 1 KiB
  const first = await materialize(app, sid, mid, { init: 'ones' })
  const refused = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules/${mid}/materializations`, payload: { init: 'ones' } })
  const body = assertErrorBody(t, refused, 507, errorDefs.memoryBudget.code)
  t.match(body.message, /needs 525312 bytes/)
  t.match(body.message, /budget is 1048576 bytes/)
  t.equal((await app.inject('/healthz')).statusCode, 200, 'still up')
  t.equal((await app.inject(`/v1/sessions/${sid}`)).json().residentBytes, 525312)
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/sessions/${sid}/materializations/${first.id}` })).statusCode, 204)
  t.equal((await app.inject(`/v1/sessions/${sid}`)).json().residentBytes, 0)
  await materialize(app, sid, mid, { init: 'ones' })
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/sessions/${sid}/modules/${mid}` })).statusCode, 204, 'module delete frees its materializations')
  t.same((await app.inject(`/v1/sessions/${sid}/materializations`)).json().materializations, [])
  const again = await moduleOf(app, { class: 'Linear', args: [512, 256] })
  await materialize(app, again.sid, again.mid, { init: 'ones' })
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/sessions/${again.sid}` })).statusCode, 204)
  const after = await moduleOf(app, { class: 'Linear', args: [512, 256] })
  t.equal((await materialize(app, after.sid, after.mid, { init: 'ones' })).status, 'ready', 'session delete returned the budget')
})

t.test('DELETE during a fill cancels it', async (t) => {
  const app = await build(t)
  const { sid, mid } = await moduleOf(app, { class: 'Linear', args: [16384, 8192], kwargs: { bias: false } }) // 512 MiB
  for (const device of ['cpu', 'worker']) {
    const res = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules/${mid}/materializations`, payload: { init: 'ones', device, wait: false } })
    t.equal(res.statusCode, 202)
    const id = res.json().id as string
    t.equal((await app.inject({ method: 'DELETE', url: `/v1/sessions/${sid}/materializations/${id}` })).statusCode, 204)
    assertErrorBody(t, await app.inject(`/v1/sessions/${sid}/materializations/${id}`), 404, errorDefs.materializationNotFound.code)
    t.equal(app.materializations.residentBytes, 0, `${device}: budget returned`)
  }
})

t.test('bad materialization options are 400s', async (t) => {
  const app = await build(t)
  const { sid, mid } = await moduleOf(app, { class: 'Linear', args: [2, 2] })
  const post = async (payload: object) => await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules/${mid}/materializations`, payload })
  assertErrorBody(t, await post({ device: 'cuda' }), 400, errorDefs.validation.code)
  assertErrorBody(t, await post({ init: 'random' }), 400, errorDefs.validation.code)
  assertErrorBody(t, await post({ dtype: 'int64' }), 400, errorDefs.materializationOptions.code)
  assertErrorBody(t, await post({ dtype: 'float8' }), 400, errorDefs.materializationOptions.code)
  assertErrorBody(t, await post({ init: 'ones', seed: 3 }), 400, errorDefs.materializationOptions.code)
  t.equal((await post({ init: 'default', seed: 3 })).statusCode, 201, "init 'default' is available (test/init/golden-init.test.ts checks its values)")
  assertErrorBody(t, await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules/mod_nope/materializations`, payload: {} }), 404, errorDefs.moduleNotFound.code)
})

t.test('skip_init', async (t) => {
  const app = await build(t)
  const sid = (await app.inject({ method: 'POST', url: '/v1/sessions' })).json().id as string
  const post = async (payload: object) => await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/skip_init`, payload })
  const ok = await post({ class: 'torch.nn.Linear', args: [5, 1], kwargs: { bias: false } })
  t.equal(ok.statusCode, 201)
  const m = ok.json()
  t.equal(m.init, 'empty'); t.equal(m.device, 'cpu'); t.equal(m.status, 'ready')
  t.equal(m.module.class, 'torch.nn.Linear')
  t.equal(m.module.id, m.moduleId)
  t.same(m.tensors.map((x: { name: string }) => x.name), ['weight'])
  t.equal((await post({ class: 'LSTM', args: [6, 9], kwargs: { bidirectional: true, device: 'worker' } })).json().device, 'worker', 'RNNs take device')
  t.equal(assertErrorBody(t, await post({ class: 'torch.Tensor' }), 400, errorDefs.notAModule.code).message, "Expected a Module; got <class 'torch.Tensor'>")
  t.equal(assertErrorBody(t, await post({ class: 'torch.optim.SGD' }), 400, errorDefs.notAModule.code).message, "Expected a Module; got <class 'torch.optim.sgd.SGD'>")
  for (const cls of ['Sequential', 'ReLU', 'Identity']) {
    t.equal(assertErrorBody(t, await post({ class: cls }), 400, errorDefs.noDeviceArg.code).message, "Module must support a 'device' arg to skip initialization")
  }
  assertErrorBody(t, await post({ class: 'Linear', args: [1, 1], kwargs: { device: 'meta' } }), 400, errorDefs.constructorArgs.code)
  assertErrorBody(t, await post({ class: 'Linear', args: [1] }), 400, errorDefs.constructorArgs.code)
})

t.test('checkpoint upload: a served file loads back; strict-load errors list keys', async (t) => {
  const app = await build(t)
  const { sid, mid } = await moduleOf(app, mixed)
  const source = await materialize(app, sid, mid, { init: 'ones' })
  const file = (await app.inject(source.safetensors)).rawPayload
  const upload = async (m: string, payload: Buffer, s = sid) => await app.inject({ method: 'POST', url: `/v1/sessions/${s}/modules/${m}/materializations`, payload, headers: { 'content-type': 'application/octet-stream' } })
  const loaded = await upload(mid, file)
  t.equal(loaded.statusCode, 201, loaded.body)
  t.equal(loaded.json().init, 'checkpoint')
  t.same((await app.inject(loaded.json().safetensors as string)).rawPayload, file, 'round trip')

  const other = await moduleOf(app, { class: 'Sequential', args: [{ class: 'Conv2d', args: [3, 4, 3] }, { class: 'BatchNorm2d', args: [5] }, { class: 'Linear', args: [3, 2] }] })
  const mismatch = assertErrorBody(t, await upload(other.mid, file, other.sid), 400, errorDefs.checkpointMismatch.code)
  t.match(mismatch.message, /^Error\(s\) in loading state_dict for Sequential:/)
  // PyTorch's order and wording: missing, unexpected, then size mismatches
  t.equal(mismatch.message, 'Error(s) in loading state_dict for Sequential:\n\tMissing key(s) in state_dict: "2.bias". \n\t' +
    'Unexpected key(s) in state_dict: "3.bias", "3.weight". \n\t' +
    'size mismatch for 0.weight: copying a param with shape torch.Size([5, 3, 3, 3]) from checkpoint, the shape in current model is torch.Size([4, 3, 3, 3]).\n\t' +
    'size mismatch for 0.bias: copying a param with shape torch.Size([5]) from checkpoint, the shape in current model is torch.Size([4]).\n\t' +
    'size mismatch for 2.weight: copying a param with shape torch.Size([7, 3]) from checkpoint, the shape in current model is torch.Size([2, 3]).')

  assertErrorBody(t, await upload(mid, file.subarray(0, 5)), 400, errorDefs.checkpointInvalid.code)
  assertErrorBody(t, await upload(mid, Buffer.concat([file, Buffer.from([0])])), 400, errorDefs.checkpointInvalid.code)
  assertErrorBody(t, await upload(mid, file.subarray(0, file.length - 3)), 400, errorDefs.checkpointInvalid.code)
  const badJson = Buffer.from(file); badJson[9] = 0x7b
  assertErrorBody(t, await upload(mid, badJson), 400, errorDefs.checkpointInvalid.code)
  const huge = Buffer.from(file); huge.writeBigUInt64LE(2n ** 40n, 0)
  assertErrorBody(t, await upload(mid, huge), 400, errorDefs.checkpointInvalid.code)
  t.equal(app.materializations.residentBytes, 2 * source.nbytes, 'failed uploads hold no memory')
})

t.test('session TTL expiry frees the memory of its materializations', async (t) => {
  const app = await build(t)
  const sid = (await app.inject({ method: 'POST', url: '/v1/sessions', payload: { ttlSeconds: 1 } })).json().id as string
  const mid = (await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules`, payload: { class: 'Linear', args: [256, 256] } })).json().id as string
  await materialize(app, sid, mid, { init: 'ones' })
  t.equal(app.materializations.residentBytes, (256 * 256 + 256) * 4)
  // no request touches the session: the sweeper must end it on its own
  for (let i = 0; i < 60 && app.materializations.residentBytes !== 0; i++) await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(app.materializations.residentBytes, 0)
  assertErrorBody(t, await app.inject(`/v1/sessions/${sid}`), 404, errorDefs.sessionNotFound.code)
})
