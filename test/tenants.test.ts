// Named tenants (MATERIA_TENANTS_FILE): the file is checked at boot, keys are matched by their
// SHA-256 digest, each tenant gets its own limits, and one tenant at its quota never affects another.
import t from 'tap'
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { assertErrorBody, build } from './helper.js'
import { ConfigError, loadConfig } from '../src/config.js'
import { errorDefs } from '../src/errors.js'

const sha = (k: string): string => createHash('sha256').update(k).digest('hex')
const dir = mkdtempSync(join(tmpdir(), 'materia-tenants-'))
let n = 0
function file (text: string, ext = 'yaml'): string {
  const p = join(dir, `tenants-${n++}.${ext}`)
  writeFileSync(p, text)
  return p
}

const yaml = `# two tenants
tenants:
  - name: acme
    keys: [${sha('acme-key-1')}, "sha256:${sha('acme-key-2').toUpperCase()}"]
    limits:
      maxSessions: 2
      maxResidentBytes: 64KiB
      rateLimit: 0
  - name: globex
    keys:
      - ${sha('globex-key')}
`

t.test('a YAML or JSON tenants file: limits merged over the env defaults', async (t) => {
  const c = loadConfig({ MATERIA_TENANTS_FILE: file(yaml), MATERIA_TENANT_MAX_SESSIONS: '7' })
  t.same(c.tenants.map((x) => x.name), ['acme', 'globex'])
  t.same(c.tenants[0]?.limits, { maxSessions: 2, maxResidentBytes: 65536, rateLimit: 0 })
  t.equal(c.tenants[0]?.keyDigests[1], sha('acme-key-2'), 'digests are kept in lowercase, sha256: prefix dropped')
  const json = loadConfig({ MATERIA_TENANTS_FILE: file(JSON.stringify({ tenants: [{ name: 'j', keys: [sha('j')], limits: { maxSessionModules: 3 } }] }), 'json') })
  t.same(json.tenants, [{ name: 'j', keyDigests: [sha('j')], limits: { maxSessionModules: 3 } }])

  const app = await build(t, { MATERIA_TENANTS_FILE: file(yaml), MATERIA_TENANT_MAX_SESSIONS: '7', MATERIA_API_KEYS: 'plain' })
  t.same(app.tenants.lookup('acme-key-2')?.limits, { maxSessions: 2, maxResidentBytes: 65536, maxSessionModules: 1000, maxModuleTensors: 50000, maxModuleBytes: app.config.moduleBudget, rateLimit: 0 })
  t.equal(app.tenants.lookup('globex-key')?.limits.maxSessions, 7, 'a tenant without limits has the defaults')
  t.equal(app.tenants.lookup('plain')?.id, sha('plain').slice(0, 16), 'a MATERIA_API_KEYS key keeps its tenant id')
  t.equal(app.tenants.lookup(sha('acme-key-1')), undefined, 'the digest itself is not a key')
  for (const [key, status] of [['acme-key-1', 201], ['globex-key', 201], ['plain', 201], ['nope', 401]] as const) {
    t.equal((await app.inject({ method: 'POST', url: '/v1/sessions', headers: { authorization: `Bearer ${key}` } })).statusCode, status, `${key} → ${status}`)
  }
  // two keys of one tenant see the same sessions; another tenant sees none of them
  const a1 = await app.inject({ url: '/v1/sessions', headers: { 'x-api-key': 'acme-key-1' } })
  const a2 = await app.inject({ url: '/v1/sessions', headers: { 'x-api-key': 'acme-key-2' } })
  t.equal(a1.json().sessions.length, 1)
  t.same(a2.json().sessions, a1.json().sessions)
  t.equal((await app.inject({ url: '/v1/sessions', headers: { 'x-api-key': 'globex-key' } })).json().sessions.length, 1)
})

t.test('a bad tenants file names the variable and the place', async (t) => {
  const cases: Array<[string, RegExp, string?]> = [
    ['tenants: [', /not valid YAML/],
    ['{"tenants": [', /not valid JSON/, 'json'],
    ['[]', /expected an object with a "tenants" list/],
    ['tenants: {}', /"tenants" must be a list/],
    ['tenants:\n  - name: a\n    keys: [acme-key-1]\n', /tenants\[0\]\.keys\[0\]: expected a SHA-256 digest/],
    [`tenants:\n  - name: a b\n    keys: [${sha('x')}]\n`, /tenants\[0\]\.name/],
    [`tenants:\n  - name: public\n    keys: [${sha('x')}]\n`, /reserved/],
    [`tenants:\n  - name: a\n    keys: [${sha('x')}]\n  - name: A\n    keys: [${sha('y')}]\n`, /names two tenants/],
    [`tenants:\n  - name: a\n    keys: [${sha('x')}]\n  - name: b\n    keys: [${sha('x')}]\n`, /tenants\[1\]\.keys\[0\]: the same key is also a key of 'a'/],
    [`tenants:\n  - name: a\n    keys: [${sha('x')}]\n    limits: { maxSession: 3 }\n`, /unknown field 'maxSession'/],
    [`tenants:\n  - name: a\n    keys: [${sha('x')}]\n    limits: { maxSessions: 0 }\n`, /limits\.maxSessions: expected an integer 1-1000000, got 0/],
    [`tenants:\n  - name: a\n    keys: [${sha('x')}]\n    limits: { maxResidentBytes: lots }\n`, /limits\.maxResidentBytes: expected a byte size/],
    ['tenants:\n  - name: a\n    keys: []\n', /non-empty list/],
    [`tenants:\n  - name: a\n    key: [${sha('x')}]\n`, /unknown field 'key'/]
  ]
  for (const [text, message, ext] of cases) {
    const path = file(text, ext)
    const err = (() => { try { loadConfig({ MATERIA_TENANTS_FILE: path }) } catch (e) { return e } })()
    t.ok(err instanceof ConfigError, `${text.slice(0, 40)} is rejected`)
    t.equal((err as ConfigError).variable, 'MATERIA_TENANTS_FILE')
    t.match((err as ConfigError).message, message)
  }
  t.throws(() => loadConfig({ MATERIA_TENANTS_FILE: join(dir, 'missing.yaml') }), /MATERIA_TENANTS_FILE.*cannot read it/)
  const both = (() => { try { loadConfig({ MATERIA_TENANTS_FILE: file(yaml), MATERIA_API_KEYS: 'x,globex-key' }) } catch (e) { return e as Error } })()
  t.match(both?.message, /MATERIA_API_KEYS.*not also keys of a tenant/)
  t.notMatch(both?.message, /globex-key/, 'the key is not echoed')
})

t.test('the server exits 2 with the message on a bad tenants file', async (t) => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: { ...process.env, MATERIA_TENANTS_FILE: file('tenants:\n  - name: a\n    keys: [not-a-digest]\n'), PORT: '0' },
    encoding: 'utf8',
    timeout: 30_000
  })
  t.equal(r.status, 2)
  t.match(r.stderr, /^materia: Invalid MATERIA_TENANTS_FILE=".*": expected a tenants file as docs\/tenants\.md describes: tenants\[0\]\.keys\[0\]/)
})

t.test('the open API: every request is the public tenant with the default limits', async (t) => {
  const app = await build(t, { MATERIA_TENANT_MAX_SESSIONS: '1' })
  t.equal((await app.inject({ method: 'POST', url: '/v1/sessions' })).statusCode, 201)
  t.equal(app.tenants.isOpen, true)
  t.equal(app.tenants.open.limits.maxSessions, 1)
  assertErrorBody(t, await app.inject({ url: '/v1/sessions?token=x' }), 400, errorDefs.credentialInQuery.code)
})

t.test('the examples in docs/tenants.md load, and their keys are what the page says', async (t) => {
  const page = readFileSync(new URL('../docs/tenants.md', import.meta.url), 'utf8')
  const [yamlBlock, jsonBlock] = [/```yaml\n([\s\S]*?)```/.exec(page)?.[1], /```json\n([\s\S]*?)```/.exec(page)?.[1]]
  const c = loadConfig({ MATERIA_TENANTS_FILE: file(yamlBlock ?? '') })
  t.same(c.tenants.map((x) => x.name), ['research', 'ci'])
  t.same(c.tenants[0]?.keyDigests, [sha('research-key-1'), sha('research-key-2')])
  t.same(c.tenants[1]?.keyDigests, [sha('foo')])
  t.same(loadConfig({ MATERIA_TENANTS_FILE: file(jsonBlock ?? '', 'json') }).tenants, [c.tenants[1]])
})
