// A TypeScript SDK generated from openapi.yaml (openapi-typescript types + openapi-fetch, as a user
// would generate one) used against the service over real loopback HTTP: the README flow typed end
// to end, tensor bytes compared with PyTorch's (init-golden), and the one error body typed. The
// committed types (test/sdk/materia-api.ts, from `npm run openapi`) must match what the spec gives.
import t from 'tap'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import createClient from 'openapi-fetch'
import { generateOpenApiYaml } from '../../src/openapi.js'
import { generateSdkTypes } from '../../scripts/write-openapi.js'
import { build } from '../helper.js'
import type { components, paths } from './materia-api.js'

const golden = JSON.parse(readFileSync(new URL('../fixtures/init-golden/init-golden.json', import.meta.url), 'utf8')) as {
  cases: Array<{ id: string, spec: components['schemas']['ModuleSpec'], results: Record<string, Array<{ name: string, sha256: string }>> }>
}

t.test('the committed SDK types are what openapi-typescript makes of openapi.yaml', async (t) => {
  const committed = readFileSync(new URL('materia-api.ts', import.meta.url), 'utf8')
  t.equal(committed.slice(committed.indexOf('\n') + 1), await generateSdkTypes(await generateOpenApiYaml()), 'run `npm run openapi` after changing a route schema')
})

t.test('the generated SDK drives the service: session, module, seeded materialization, bytes equal PyTorch\'s', async (t) => {
  const app = await build(t)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const client = createClient<paths>({ baseUrl: `http://127.0.0.1:${(app.server.address() as { port: number }).port}` })
  const c = golden.cases.find((x) => x.id === 'lstm-proj-bidir') as (typeof golden.cases)[0]

  const session = await client.POST('/v1/sessions', { body: { ttlSeconds: 600 } })
  t.equal(session.response.status, 201)
  const sessionId = session.data?.id ?? ''
  t.match(sessionId, /^ses_/)
  const mod = await client.POST('/v1/sessions/{sessionId}/modules', { params: { path: { sessionId } }, body: c.spec })
  t.equal(mod.response.status, 201)
  const moduleId = mod.data?.id ?? ''
  t.same(mod.data?.tensors.map((x) => x.name), c.results['12345']?.map((x) => x.name), 'state_dict names and order, typed')

  const mat = await client.POST('/v1/sessions/{sessionId}/modules/{moduleId}/materializations', {
    params: { path: { sessionId, moduleId } }, body: { init: 'default', seed: 12345, device: 'worker' }
  })
  t.equal(mat.response.status, 201)
  t.equal(mat.data?.status, 'ready')
  const materializationId = mat.data?.id ?? ''
  for (const want of c.results['12345'] ?? []) {
    const bytes = await client.GET('/v1/sessions/{sessionId}/materializations/{materializationId}/tensors/{name}', {
      params: { path: { sessionId, materializationId, name: want.name } }, parseAs: 'arrayBuffer'
    })
    t.equal(bytes.response.headers.get('content-type'), 'application/octet-stream')
    t.equal(createHash('sha256').update(Buffer.from(bytes.data as ArrayBuffer)).digest('hex'), want.sha256, `${want.name}: PyTorch's bytes for seed 12345`)
  }
  const part = await client.GET('/v1/sessions/{sessionId}/materializations/{materializationId}/safetensors', {
    params: { path: { sessionId, materializationId } }, headers: { range: 'bytes=0-7' }, parseAs: 'arrayBuffer'
  })
  t.equal(part.response.status, 206)
  t.equal((part.data as ArrayBuffer).byteLength, 8, 'the header length of the file, by Range')

  const missing = await client.GET('/v1/sessions/{sessionId}/modules/{moduleId}', { params: { path: { sessionId, moduleId: 'mod_nothing' } } })
  t.equal(missing.response.status, 404)
  t.equal(missing.error?.code, 'MATERIA_ERR_MODULE_NOT_FOUND', 'the error body is typed')
  const deleted = await client.DELETE('/v1/sessions/{sessionId}', { params: { path: { sessionId } } })
  t.equal(deleted.response.status, 204)
  t.equal(app.materializations.residentBytes, 0)
})
