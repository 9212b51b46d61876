// Checkpoint uploads are held to what the module could accept (checkpointHeaderLimits): a header
// longer than its entry bound allows is refused from its length, one with more entries as soon as
// the count passes the bound, both before the body is read in full; mismatch messages list 20 keys
// per list then "… and N more", within 4 KiB.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { Readable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { assertErrorBody, build } from '../helper.js'

async function setup (app: FastifyInstance, spec: object): Promise<{ sid: string, mid: string }> {
  const sid = (await app.inject({ method: 'POST', url: '/v1/sessions', payload: {} })).json().id as string
  const res = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules`, payload: spec })
  if (res.statusCode !== 201) throw new Error(res.body)
  return { sid, mid: res.json().id as string }
}

/** A safetensors file of zero-size F32 tensors (all at offset 0: valid, with an empty data section). */
function emptyTensors (names: string[]): Buffer {
  const json = Buffer.from(JSON.stringify(Object.fromEntries(names.map((n) => [n, { dtype: 'F32', shape: [0], data_offsets: [0, 0] }]))))
  const f = Buffer.alloc(8 + json.length)
  f.writeBigUInt64LE(BigInt(json.length), 0)
  json.copy(f, 8)
  return f
}

/** The file as a stream of 16 KiB chunks, produced on demand; `pulled()` is how much was asked for. */
function lazy (file: Buffer, declared = file.length): { stream: Readable, pulled: () => number } {
  let at = 0
  const stream = new Readable({
    highWaterMark: 16 * 1024,
    read () {
      if (at >= declared) { this.push(null); return }
      const n = Math.min(16 * 1024, declared - at)
      // beyond the real bytes (a header that only claims to be long): spaces
      const chunk = Buffer.alloc(n, 0x20)
      if (at < file.length) file.copy(chunk, 0, at, Math.min(file.length, at + n))
      at += n
      this.push(chunk)
    }
  })
  return { stream, pulled: () => at }
}

const upload = async (app: FastifyInstance, sid: string, mid: string, payload: Buffer | Readable, length: number, query = '') =>
  await app.inject({
    method: 'POST',
    url: `/v1/sessions/${sid}/modules/${mid}/materializations${query}`,
    payload,
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(length) }
  })

const linears = (n: number): object => ({ class: 'Sequential', args: Array.from({ length: n }, () => ({ class: 'Linear', args: [2, 2] })) })

t.test('a torch.save file (zip or legacy pickle) is refused with what to upload instead', async (t) => {
  const app = await build(t)
  const { sid, mid } = await setup(app, { class: 'Linear', args: [2, 2] })
  // written by torch.save (scripts/golden/make-torch-save-fixtures.py)
  for (const [file, format] of [['linear-zip.pt', 'a zip archive'], ['linear-legacy.pt', 'a pickle']] as const) {
    const bytes = readFileSync(new URL(`../fixtures/torch-save/${file}`, import.meta.url))
    const res = await upload(app, sid, mid, bytes, bytes.length)
    const body = assertErrorBody(t, res, 400, 'MATERIA_ERR_CHECKPOINT_INVALID')
    t.match(body.message, `this is a torch.save file (${format}), not safetensors`)
    t.match(body.message, "safetensors.torch.save_file(torch.load(path), 'model.safetensors')")
  }
  // a safetensors file is still read as one
  const res = await upload(app, sid, mid, emptyTensors(['weight']), emptyTensors(['weight']).length)
  t.equal(res.json().code, 'MATERIA_ERR_CHECKPOINT_MISMATCH', 'an ordinary file gets as far as the key check')
})

t.test('a header longer than the module allows is refused from its length alone', async (t) => {
  const app = await build(t)
  const { sid, mid } = await setup(app, { class: 'Linear', args: [4, 4] })
  // Linear has 2 tensors: at most 1004 entries of 64 KiB + 256 bytes = 66055168 header bytes
  const headerLength = 80_000_000
  const prefix = Buffer.alloc(8)
  prefix.writeBigUInt64LE(BigInt(headerLength), 0)
  const file = lazy(prefix, 8 + headerLength)
  const res = await upload(app, sid, mid, file.stream, 8 + headerLength)
  const body = assertErrorBody(t, res, 400, 'MATERIA_ERR_CHECKPOINT_INVALID')
  t.match(body.message, /header length 80000000 is larger than the limit of 66055168 bytes \(the module has 2 tensors, so a checkpoint for it has at most 2 × 2 \+ 1000 = 1004 entries/)
  t.ok(file.pulled() < 8 + headerLength, `refused after ${file.pulled()} of ${8 + headerLength} bytes were read`)
  t.ok(res.body.length < 1024, 'a short error body')
})

t.test('a header with more entries than the module allows is refused as they stream in, before parsing', async (t) => {
  const app = await build(t)
  const { sid, mid } = await setup(app, linears(3)) // 6 tensors: at most 1012 entries
  const f = emptyTensors(Array.from({ length: 20000 }, (_, i) => `t${i}`))
  const file = lazy(f)
  const res = await upload(app, sid, mid, file.stream, f.length, '?strict=false')
  const body = assertErrorBody(t, res, 400, 'MATERIA_ERR_CHECKPOINT_INVALID')
  t.match(body.message, /header has more than 1012 entries \(the module has 6 tensors, so a checkpoint for it has at most 2 × 6 \+ 1000 = 1012 entries/)
  t.ok(file.pulled() < f.length / 2, `refused after ${file.pulled()} of ${f.length} bytes were read`)
  t.ok(res.body.length < 1024, 'a short error body')
  // at the bound it is accepted (strict=false: the unexpected keys are ignored)
  const names = [...Array.from({ length: 1011 }, (_, i) => `t${i}`)]
  const ok = await upload(app, sid, mid, emptyTensors(names), emptyTensors(names).length, '?strict=false')
  t.equal(ok.statusCode, 201, ok.statusCode === 201 ? '1011 tensors and no metadata: accepted' : ok.body)
  t.equal(ok.json().checkpoint.unexpectedKeys.length, 1011)
})

t.test('mismatch messages name 20 keys per list, then "… and N more", within 4 KiB', async (t) => {
  const app = await build(t)
  const { sid, mid } = await setup(app, linears(30)) // 60 tensors: 0.weight, 0.bias, …
  const unexpected = Array.from({ length: 300 }, (_, i) => `extra.${i}.${'x'.repeat(i === 0 ? 5000 : 10)}`)
  const f = emptyTensors(unexpected)
  const res = await upload(app, sid, mid, f, f.length)
  const body = assertErrorBody(t, res, 400, 'MATERIA_ERR_CHECKPOINT_MISMATCH')
  t.match(body.message, /^Error\(s\) in loading state_dict for Sequential:\n\tMissing key\(s\) in state_dict: "0\.weight", "0\.bias", /)
  t.match(body.message, /"9\.bias", … and 40 more\. \n/, 'the missing keys: 20 named, 40 counted')
  t.match(body.message, /Unexpected key\(s\) in state_dict: "extra\.0\.x{192}…", "extra\.1\.xxxxxxxxxx", /, 'a long key is cut at 200 characters')
  t.match(body.message, /"extra\.19\.xxxxxxxxxx", … and 280 more\. /, 'the unexpected keys: 20 named, 280 counted')
  t.ok(body.message.length <= 4096, `message of ${body.message.length} characters`)
  t.ok(res.body.length < 8192, `body of ${res.body.length} bytes`)
})

t.test('size mismatches beyond 20 are counted, not listed', async (t) => {
  const app = await build(t)
  const { sid, mid } = await setup(app, linears(30))
  const names = Array.from({ length: 30 }, (_, i) => [`${i}.weight`, `${i}.bias`]).flat()
  const f = emptyTensors(names) // every tensor [0] where the module has [2, 2] and [2]
  const res = await upload(app, sid, mid, f, f.length)
  const body = assertErrorBody(t, res, 400, 'MATERIA_ERR_CHECKPOINT_MISMATCH')
  t.equal(body.message.match(/size mismatch for/g)?.length, 22, '22 problems shown')
  t.match(body.message, /… and 38 more problems$/)
  t.ok(body.message.length <= 4096)
})
