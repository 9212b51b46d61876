import t from 'tap'
import { readFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'
import { generateOpenApiYaml } from '../src/openapi.js'

const committedPath = fileURLToPath(new URL('../openapi.yaml', import.meta.url))

t.test('committed openapi.yaml equals what the code generates (run `npm run openapi`)', async (t) => {
  const generated = await generateOpenApiYaml()
  t.equal(readFileSync(committedPath, 'utf8'), generated)
})

t.test('info.version is package.json\'s; the one server is relative, so "Try it out" works on any host and port', async (t) => {
  const doc = parse(readFileSync(committedPath, 'utf8')) as { info: { version: string }, servers: Array<{ url: string }> }
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
  t.equal(doc.info.version, pkg.version)
  t.same(doc.servers.map((s) => s.url), ['/'])
})

t.test('every operation has an operationId, a tag, a summary and described responses', async (t) => {
  const doc = parse(readFileSync(committedPath, 'utf8')) as { paths: Record<string, Record<string, Record<string, unknown>>> }
  const ids = new Set<string>()
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const where = `${method.toUpperCase()} ${path}`
      t.type(op.operationId, 'string', `${where} operationId`)
      t.notOk(ids.has(op.operationId as string), `${where} operationId is unique`)
      ids.add(op.operationId as string)
      t.ok(Array.isArray(op.tags) && (op.tags as unknown[]).length > 0, `${where} tag`)
      t.type(op.summary, 'string', `${where} summary`)
      const responses = op.responses as Record<string, { description?: string }>
      t.ok(Object.keys(responses).length > 0, `${where} has responses`)
      for (const [status, r] of Object.entries(responses)) t.ok((r.description ?? '').length > 0, `${where} ${status} described`)
    }
  }
})

t.test('redocly lint finds no errors', async (t) => {
  const bin = fileURLToPath(new URL('../node_modules/.bin/redocly', import.meta.url))
  let out = ''
  try {
    out = execFileSync(bin, ['lint', committedPath, '--format=summary'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' } })
  } catch (err) {
    const e = err as { stdout?: string, stderr?: string }
    t.fail(`redocly lint failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`)
    return
  }
  t.notMatch(out, /^error/m)
})
