// save_pretrained files of a materialization, byte for byte against transformers 5.18 (golden:
// scripts/golden/make-pretrained-golden.py → test/fixtures/pretrained): each case's weights, as
// save_pretrained wrote them, are uploaded as the checkpoint, then every file of the service's
// directory (default and small max_shard_size) must have the size and sha256 of Python's, and the
// JSON files its exact text. The config.json written is then fed back as a `{"config": …}` spec and
// must come out the same.
import t, { type Test } from 'tap'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { FastifyInstance } from 'fastify'
import { assertErrorBody, build } from '../helper.js'

const dir = new URL('../fixtures/pretrained/', import.meta.url)
interface Directory { maxShardSize: number | null, files: Record<string, { size: number, sha256: string }>, json: Record<string, string> }
interface Case { id: string, spec: unknown, directories: Directory[], upload?: string }
const golden = JSON.parse(readFileSync(new URL('cases.json', dir), 'utf8')) as { transformers: string, cases: Case[] }

// transformers writes Qwen3-MoE's num_experts as num_local_experts (its attribute_map); the config
// class materia builds from does not read that name back yet, so such a config.json builds 128 experts
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

async function materialize (app: FastifyInstance, sid: string, spec: unknown, weights: Buffer): Promise<string> {
  const mod = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules`, payload: spec as object })
  if (mod.statusCode !== 201) throw new Error(`module: ${mod.statusCode} ${mod.body}`)
  const mat = await app.inject({
    method: 'POST', url: `/v1/sessions/${sid}/modules/${mod.json<{ id: string }>().id}/materializations`, payload: weights, headers: { 'content-type': 'application/octet-stream' }
  })
  if (mat.statusCode !== 201) throw new Error(`materialization: ${mat.statusCode} ${mat.body}`)
  return mat.json<{ id: string }>().id
}

async function directoryOf (app: FastifyInstance, sid: string, mat: string, maxShardSize: number | null): Promise<Map<string, Buffer>> {
  const query = maxShardSize === null ? '' : `?maxShardBytes=${maxShardSize}`
  const list = await app.inject({ url: `/v1/sessions/${sid}/materializations/${mat}/pretrained${query}` })
  if (list.statusCode !== 200) throw new Error(`listing: ${list.statusCode} ${list.body}`)
  const out = new Map<string, Buffer>()
  for (const f of list.json<{ files: Array<{ name: string, size: number, href: string }> }>().files) {
    const res = await app.inject({ url: f.href })
    if (res.statusCode !== 200) throw new Error(`${f.name}: ${res.statusCode} ${res.body}`)
    if (res.rawPayload.length !== f.size) throw new Error(`${f.name}: listed ${f.size} bytes, served ${res.rawPayload.length}`)
    out.set(f.name, res.rawPayload)
  }
  return out
}

function compare (t: Test, got: Map<string, Buffer>, want: Directory, what: string): void {
  t.same([...got.keys()].sort(), Object.keys(want.files).sort(), `${what}: the files save_pretrained writes`)
  for (const [name, expected] of Object.entries(want.files)) {
    const bytes = got.get(name)
    if (bytes === undefined) continue
    if (name.endsWith('.json')) t.equal(bytes.toString('utf8'), want.json[name], `${what}: ${name} text`)
    t.same({ size: bytes.length, sha256: sha256(bytes) }, expected, `${what}: ${name} bytes`)
  }
}

t.test('the golden cases cover sharded, tied, untied, generation-less and shorthand models', async (t) => {
  t.equal(golden.transformers, '5.18.0')
  t.ok(golden.cases.length >= 8)
  t.ok(golden.cases.some((c) => c.directories.some((d) => 'model.safetensors.index.json' in d.files)))
  t.ok(golden.cases.some((c) => !('generation_config.json' in c.directories[0]!.files)))
  t.ok(golden.cases.some((c) => c.upload !== undefined && c.directories.length > 1), 'a sharded mixture of experts')
})

t.test('every file is byte-identical to model.save_pretrained(dir) in transformers 5.18', async (t) => {
  const app = await build(t)
  const sid = (await app.inject({ method: 'POST', url: '/v1/sessions', payload: {} })).json<{ id: string }>().id
  for (const c of golden.cases) {
    // the state_dict itself where save_pretrained renames tensors (experts split), else what save_pretrained wrote
    const weights = readFileSync(new URL(c.upload ?? `${c.id}.safetensors`, dir))
    const mat = await materialize(app, sid, c.spec, weights)
    for (const d of c.directories) compare(t, await directoryOf(app, sid, mat, d.maxShardSize), d, `${c.id} (max_shard_size ${d.maxShardSize ?? 'default'})`)
    // config.json read back as a config.json spec gives the same directory
    const config = JSON.parse(c.directories[0]!.json['config.json']!) as Record<string, unknown>
    const again = await materialize(app, sid, { config }, weights)
    compare(t, await directoryOf(app, sid, again, null), c.directories[0]!, `${c.id} from its own config.json`)
  }
})

t.test('a file not in the directory, and a module that is not a transformers model', async (t) => {
  const app = await build(t)
  const sid = (await app.inject({ method: 'POST', url: '/v1/sessions', payload: {} })).json<{ id: string }>().id
  const c = golden.cases[0]!
  const mat = await materialize(app, sid, c.spec, readFileSync(new URL(`${c.id}.safetensors`, dir)))
  const missing = await app.inject({ url: `/v1/sessions/${sid}/materializations/${mat}/pretrained/model-00001-of-00002.safetensors` })
  t.match(assertErrorBody(t, missing, 404, 'MATERIA_ERR_TENSOR_NOT_FOUND').message, /config\.json, generation_config\.json, model\.safetensors/)
  const mod = (await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules`, payload: { class: 'Linear', args: [2, 3] } })).json<{ id: string }>().id
  const lin = (await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules/${mod}/materializations`, payload: { init: 'zeros' } })).json<{ id: string }>().id
  const refused = await app.inject({ url: `/v1/sessions/${sid}/materializations/${lin}/pretrained` })
  t.match(assertErrorBody(t, refused, 501, 'MATERIA_ERR_PRETRAINED_UNAVAILABLE').message, /torch\.nn\.Linear/)
})
