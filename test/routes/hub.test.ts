// /hub as huggingface_hub reads it (docs/hub.md), without Python: the model info and tree, the
// resolve URLs (HEAD, GET, Range, ETag, X-Repo-Commit), the X-Error-Code of each 404, the API key
// (HF_TOKEN) decided on the matched route, another tenant's repositories answering as absent, and a
// lazy materialization served without becoming resident. test/sdk/hub-python.test.ts drives the same
// routes with huggingface_hub itself.
import t from 'tap'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { FastifyInstance } from 'fastify'
import { newHandle } from '../../src/store/session-store.js'
import { assertErrorBody, build } from '../helper.js'

const dir = new URL('../fixtures/pretrained/', import.meta.url)
interface Directory { files: Record<string, { size: number, sha256: string }>, json: Record<string, string> }
const golden = JSON.parse(readFileSync(new URL('cases.json', dir), 'utf8')) as { cases: Array<{ id: string, spec: object, directories: Directory[] }> }
const tied = golden.cases.find((c) => c.id === 'llama-tied')!
const want = tied.directories[0]!

const KEY = 'hub-key-a'
const OTHER = 'hub-key-b'
const auth = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` })

async function setup (app: FastifyInstance): Promise<{ sid: string, mat: string, mod: string }> {
  const sid = (await app.inject({ method: 'POST', url: '/v1/sessions', payload: {}, headers: auth(KEY) })).json<{ id: string }>().id
  const mod = (await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules`, payload: tied.spec, headers: auth(KEY) })).json<{ id: string }>().id
  const res = await app.inject({
    method: 'POST', url: `/v1/sessions/${sid}/modules/${mod}/materializations`, payload: readFileSync(new URL(`${tied.id}.safetensors`, dir)), headers: { ...auth(KEY), 'content-type': 'application/octet-stream' }
  })
  t.equal(res.statusCode, 201)
  return { sid, mod, mat: res.json<{ id: string }>().id }
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

t.test('model info, tree and files as huggingface_hub reads them', async (t) => {
  const app = await build(t, { MATERIA_API_KEYS: `${KEY},${OTHER}` })
  const { sid, mat } = await setup(app)
  const repo = `${sid}/${mat}`
  const info = await app.inject({ url: `/hub/api/models/${repo}`, headers: auth(KEY) })
  t.equal(info.statusCode, 200)
  const body = info.json<{ id: string, sha: string, siblings: Array<{ rfilename: string, size: number }>, safetensors: { parameters: Record<string, number>, total: number } }>()
  t.equal(body.id, repo)
  t.match(body.sha, /^[0-9a-f]{40}$/)
  t.same(body.siblings.map((s) => [s.rfilename, s.size]).sort(), Object.entries(want.files).map(([n, f]) => [n, f.size]).sort())
  // tied lm_head counted once: 32×16 embedding, 2 layers of 4 projections (16×16), 3 MLP (24×16) and 2 norms, the final norm
  const params = 32 * 16 + 2 * (4 * 16 * 16 + 3 * 24 * 16 + 2 * 16) + 16
  t.same(body.safetensors, { parameters: { F32: params }, total: params })
  for (const rev of ['main', body.sha]) {
    const again = await app.inject({ url: `/hub/api/models/${repo}/revision/${rev}`, headers: auth(KEY) })
    t.equal(again.json<{ sha: string }>().sha, body.sha, `revision ${rev}`)
  }
  const tree = await app.inject({ url: `/hub/api/models/${repo}/tree/main?recursive=True&expand=False`, headers: auth(KEY) })
  t.equal(tree.statusCode, 200)
  for (const e of tree.json<Array<{ type: string, path: string, size: number, oid: string }>>()) {
    t.equal(e.type, 'file')
    t.equal(e.size, want.files[e.path]?.size, `${e.path} size`)
    // a JSON file's oid is git's blob id, as `git hash-object` gives it
    const text = want.json[e.path]
    if (text !== undefined) t.equal(e.oid, createHash('sha1').update(`blob ${Buffer.byteLength(text)}\0${text}`).digest('hex'), `${e.path} oid`)
  }

  const url = `/hub/${repo}/resolve/main/model.safetensors`
  const head = await app.inject({ method: 'HEAD', url, headers: { ...auth(KEY), 'accept-encoding': 'identity' } })
  t.equal(head.statusCode, 200)
  t.equal(head.headers['content-length'], String(want.files['model.safetensors']!.size))
  t.equal(head.headers['x-repo-commit'], body.sha)
  t.match(head.headers.etag, /^"[A-Za-z0-9_-]+"$/, 'an ETag huggingface_hub can use as a cache file name')
  t.equal(head.rawPayload.length, 0)
  const get = await app.inject({ url: `/hub/${repo}/resolve/${body.sha}/model.safetensors`, headers: auth(KEY) })
  t.equal(sha256(get.rawPayload), want.files['model.safetensors']!.sha256, 'the bytes save_pretrained wrote')
  t.equal(get.headers.etag, head.headers.etag, 'one ETag per file, whichever revision names it')
  const range = await app.inject({ url, headers: { ...auth(KEY), range: 'bytes=0-100000' } })
  t.equal(range.statusCode, 206, 'get_safetensors_metadata reads the first 100 kB with a Range')
  t.same(range.rawPayload, get.rawPayload.subarray(0, 100001))
  const config = await app.inject({ url: `/hub/${repo}/resolve/main/config.json`, headers: auth(KEY) })
  t.equal(config.body, want.json['config.json'])
  t.match(config.headers['content-type'], /^application\/json/)
})

t.test('each 404 carries the X-Error-Code huggingface_hub maps to its exceptions; keys decided on the matched route', async (t) => {
  const app = await build(t, { MATERIA_API_KEYS: `${KEY},${OTHER}` })
  const { sid, mat } = await setup(app)
  const missing = await app.inject({ url: `/hub/${sid}/${mat}/resolve/main/model.safetensors.index.json`, headers: auth(KEY) })
  assertErrorBody(t, missing, 404, 'MATERIA_ERR_TENSOR_NOT_FOUND')
  t.equal(missing.headers['x-error-code'], 'EntryNotFound', 'file_exists answers False')
  t.match(missing.headers['x-repo-commit'], /^[0-9a-f]{40}$/)
  const revision = await app.inject({ url: `/hub/api/models/${sid}/${mat}/revision/v1.0`, headers: auth(KEY) })
  assertErrorBody(t, revision, 404, 'MATERIA_ERR_REVISION_NOT_FOUND')
  t.equal(revision.headers['x-error-code'], 'RevisionNotFound')
  const unknown = await app.inject({ url: `/hub/api/models/${sid}/mat_nothing`, headers: auth(KEY) })
  assertErrorBody(t, unknown, 404, 'MATERIA_ERR_MATERIALIZATION_NOT_FOUND')
  t.equal(unknown.headers['x-error-code'], 'RepoNotFound')
  const other = await app.inject({ url: `/hub/${sid}/${mat}/resolve/main/config.json`, headers: auth(OTHER) })
  assertErrorBody(t, other, 404, 'MATERIA_ERR_SESSION_NOT_FOUND')
  t.equal(other.headers['x-error-code'], 'RepoNotFound', 'another tenant\'s repository does not exist for this key')
  assertErrorBody(t, await app.inject({ url: `/hub/${sid}/${mat}/resolve/main/config.json` }), 401, 'MATERIA_ERR_UNAUTHORIZED')
  // percent-escapes reach the same handler; the key is still required there
  assertErrorBody(t, await app.inject({ url: `/h%75b/api/models/${sid}/${mat}` }), 401, 'MATERIA_ERR_UNAUTHORIZED')
  const notHf = (await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules`, payload: { class: 'Linear', args: [2, 2] }, headers: auth(KEY) })).json<{ id: string }>().id
  const lin = (await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules/${notHf}/materializations`, payload: { init: 'ones' }, headers: auth(KEY) })).json<{ id: string }>().id
  assertErrorBody(t, await app.inject({ url: `/hub/api/models/${sid}/${lin}`, headers: auth(KEY) }), 501, 'MATERIA_ERR_PRETRAINED_UNAVAILABLE')
})

t.test('a lazy materialization serves its files without becoming resident, the same bytes as a resident one', async (t) => {
  const app = await build(t, { MATERIA_API_KEYS: KEY })
  const { sid, mod } = await setup(app)
  const make = async (lazy: boolean): Promise<string> => (await app.inject({
    method: 'POST', url: `/v1/sessions/${sid}/modules/${mod}/materializations`, payload: { init: { default: 'ones', overrides: { '*proj*': { fn: 'normal_' } } }, seed: 5, lazy }, headers: auth(KEY)
  })).json<{ id: string }>().id
  const lazy = await make(true)
  const resident = await make(false)
  const file = async (mat: string): Promise<Buffer> => (await app.inject({ url: `/hub/${sid}/${mat}/resolve/main/model.safetensors`, headers: auth(KEY) })).rawPayload
  const [a, b] = [await file(lazy), await file(resident)]
  t.equal(a.length, want.files['model.safetensors']!.size)
  t.ok(a.equals(b), 'lazy and resident bytes agree')
  t.notOk(a.equals(readFileSync(new URL(`${tied.id}.safetensors`, dir))), 'not the uploaded checkpoint\'s values')
  t.equal(app.materializations.get(sid, lazy)?.residentBytes, 0)
  const infos = await Promise.all([lazy, resident].map(async (m) => (await app.inject({ url: `/hub/api/models/${sid}/${m}`, headers: auth(KEY) })).json<{ sha: string }>().sha))
  t.equal(infos[0], infos[1], 'the same request is the same commit, lazy or not')
})

t.test('every handle makes a repository id huggingface_hub accepts', async (t) => {
  // huggingface_hub utils/_validators.py validate_repo_id: word characters at both ends of each part, no `--` or `..`
  const part = /^\b[\w\-.]{1,96}\b$/
  let bad = 0
  for (let i = 0; i < 5000; i++) {
    const id = `${newHandle('ses')}/${newHandle('mat')}`
    if (!id.split('/').every((p) => part.test(p)) || id.includes('--') || id.includes('..')) bad++
  }
  t.equal(bad, 0, 'with `-` in the alphabet, about 5% of ids would end with one or hold `--`')
})
