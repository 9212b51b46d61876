// No Docker engine runs here: the Dockerfile is linted, and checked for the properties we rely on.
// .ci/run runs the same install/build/start steps on a clean copy and hits /healthz.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { validate } from 'dockerfile-utils'

const dockerfile = readFileSync(new URL('../Dockerfile', import.meta.url), 'utf8')
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { engines: { node: string } }

t.test('dockerfile-utils reports no problems', async (t) => {
  const problems = validate(dockerfile)
  t.same(problems.map((p) => `${p.range.start.line + 1}: ${p.message}`), [])
})

t.test('multi-stage, Node 24, non-root, healthcheck, expose, exec-form CMD', async (t) => {
  const froms = [...dockerfile.matchAll(/^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/gim)]
  t.ok(froms.length >= 2, 'at least two stages')
  for (const f of froms) t.match(f[1], /^node:24[.\w-]*$/, 'every stage runs Node 24')
  t.match(pkg.engines.node, /^>=24(\.\d+){0,2}$/, 'engines: Node 24 on (Node 20 is past its end of life)')
  const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '))
  t.match(runtime, /^USER\s+(?!root)\S+/m, 'runtime stage drops root')
  const user = /^USER\s+(\S+)/m.exec(runtime)?.[1] ?? ''
  t.match(runtime, new RegExp(`mkdir -p /app/materia-data && chown ${user}:${user} /app/materia-data`),
    'the default MATERIA_DATA_DIR (materia-data under WORKDIR /app) is made writable for the user the service runs as')
  t.match(runtime, /--omit=dev|npm prune/, 'runtime has production dependencies only')
  t.match(runtime, /^HEALTHCHECK [\s\S]*?\/healthz/m)
  t.match(runtime, /^EXPOSE\s+8080/m)
  t.match(runtime, /^CMD\s+\[/m, 'exec-form CMD so signals reach node')
})

t.test('.dockerignore keeps build context small and secrets out', async (t) => {
  const ignore = readFileSync(new URL('../.dockerignore', import.meta.url), 'utf8').split('\n')
  for (const entry of ['node_modules', 'dist', '.git', '.env']) t.ok(ignore.includes(entry), `${entry} ignored`)
})
