// The SDK @hey-api/openapi-ts generates from openapi.yaml (types, one function per operation, its fetch
// client; committed in test/sdk/hey-api by `npm run openapi`) used against the service over real loopback
// HTTP: JSON routes typed end to end, the byte routes (tensor bytes equal to PyTorch's, the safetensors
// file, the sharded index and a shard), and the one error body.
import t from 'tap'
import { createHash } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateOpenApiYaml } from '../../src/openapi.js'
import { generateHeyApiSdk } from '../../scripts/write-openapi.js'
import { build, safetensorsTensors } from '../helper.js'
import { createClient } from './hey-api/client/index.js'
import {
  createMaterialization, createModule, createSession, deleteSession, estimateMemory, getModule, getSafetensors,
  getSafetensorsShard, getTensorBytes, type ModuleSpec
} from './hey-api/index.js'

const committed = fileURLToPath(new URL('hey-api/', import.meta.url))
const golden = JSON.parse(readFileSync(new URL('../fixtures/init-golden/init-golden.json', import.meta.url), 'utf8')) as {
  cases: Array<{ id: string, spec: ModuleSpec, results: Record<string, Array<{ name: string, sha256: string }>> }>
}

function files (dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(dir, join(prefix, e.name)) : [join(prefix, e.name)]).sort()
}

t.test('the committed SDK is what @hey-api/openapi-ts generates from openapi.yaml, without a warning', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'materia-hey-api-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const warnings = t.capture(console, 'warn')
  const errors = t.capture(console, 'error')
  await generateHeyApiSdk(await generateOpenApiYaml(), dir)
  t.same(warnings().map((c) => c.args), [], 'no warnings')
  t.same(errors().map((c) => c.args), [], 'no errors')
  t.same(files(dir), files(committed), 'the same files')
  for (const f of files(dir)) t.equal(readFileSync(join(committed, f), 'utf8'), readFileSync(join(dir, f), 'utf8'), `${f}: run \`npm run openapi\` after changing a route schema`)
})

t.test('the generated SDK drives the service, byte routes included', async (t) => {
  const app = await build(t)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const client = createClient({ baseUrl: `http://127.0.0.1:${(app.server.address() as { port: number }).port}` })
  const c = golden.cases.find((x) => x.id === 'lstm-proj-bidir') as (typeof golden.cases)[0]
  const want = c.results['12345'] ?? []

  const session = await createSession({ client, body: { ttlSeconds: 600 } })
  t.equal(session.response.status, 201)
  const sessionId = session.data?.id ?? ''
  const estimate = await estimateMemory({ client, body: c.spec })
  const mod = await createModule({ client, path: { sessionId }, body: c.spec })
  t.equal(mod.response.status, 201)
  const moduleId = mod.data?.id ?? ''
  t.same(mod.data?.tensors.map((x) => x.name), want.map((x) => x.name), 'state_dict names and order, typed')
  t.equal(estimate.data?.totals.nbytes, mod.data?.totals.nbytes, 'the estimate counts the bytes the module has')

  const mat = await createMaterialization({ client, path: { sessionId, moduleId }, body: { init: 'default', seed: 12345, device: 'worker', dtype: 'float32' } })
  t.equal(mat.data?.status, 'ready')
  const materializationId = mat.data?.id ?? ''
  for (const w of want) {
    const bytes = await getTensorBytes({ client, path: { sessionId, materializationId, name: w.name }, parseAs: 'arrayBuffer' })
    t.equal(bytes.response.headers.get('content-type'), 'application/octet-stream')
    t.equal(createHash('sha256').update(Buffer.from(bytes.data as unknown as ArrayBuffer)).digest('hex'), w.sha256, `${w.name}: PyTorch's bytes for seed 12345`)
  }

  const file = await getSafetensors({ client, path: { sessionId, materializationId }, parseAs: 'arrayBuffer' })
  t.equal(file.response.status, 200)
  const tensors = safetensorsTensors(Buffer.from(file.data as unknown as ArrayBuffer))
  t.same([...tensors.keys()].sort(), want.map((x) => x.name).sort(), 'the safetensors file holds every tensor')
  for (const w of want) t.equal(createHash('sha256').update(tensors.get(w.name) as Buffer).digest('hex'), w.sha256, `${w.name} in the file`)

  const maxShardBytes = 2000
  const index = await getSafetensorsShard({ client, path: { sessionId, materializationId, file: 'model.safetensors.index.json' }, query: { maxShardBytes } })
  t.match(index.response.headers.get('content-type'), /^application\/json/)
  // 200 is the index (JSON) or a shard (bytes), 206 bytes: the index is the one with a weight_map
  const weightMap = index.data !== undefined && 'weight_map' in index.data ? index.data.weight_map : {}
  const shards = [...new Set(Object.values(weightMap))].sort()
  t.ok(shards.length > 1, `${shards.length} shards of at most ${maxShardBytes} bytes`)
  const first = shards[0] as string
  const shard = await getSafetensorsShard({ client, path: { sessionId, materializationId, file: first }, query: { maxShardBytes }, parseAs: 'arrayBuffer' })
  t.equal(shard.response.headers.get('content-type'), 'application/octet-stream')
  const inShard = safetensorsTensors(Buffer.from(shard.data as unknown as ArrayBuffer))
  t.same([...inShard.keys()].sort(), Object.entries(weightMap).filter(([, f]) => f === first).map(([k]) => k).sort(), 'the shard holds what the index maps to it')
  for (const [name, bytes] of inShard) t.equal(Buffer.compare(bytes, tensors.get(name) as Buffer), 0, `${name}: the same bytes as in the single file`)

  const missing = await getModule({ client, path: { sessionId, moduleId: 'mod_nothing' } })
  t.equal(missing.response.status, 404)
  t.equal(missing.error?.code, 'MATERIA_ERR_MODULE_NOT_FOUND', 'the error body is typed')
  const missingBytes = await getTensorBytes({ client, path: { sessionId, materializationId, name: 'nothing' }, parseAs: 'arrayBuffer' })
  t.equal(missingBytes.response.status, 404)
  t.equal(missingBytes.response.headers.get('content-type'), 'application/json; charset=utf-8', 'errors of byte routes are JSON, as declared')
  t.equal((await deleteSession({ client, path: { sessionId } })).response.status, 204)
  t.equal(app.materializations.residentBytes, 0)
})
