// `redocly lint openapi.yaml` (its recommended rules, as `npm run lint:openapi` runs it) finds no error and
// no warning in the committed document: every component referenced, server URLs that are no placeholder,
// examples valid against their schemas.
import t from 'tap'
import { execFile } from 'node:child_process'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const cli = createRequire(import.meta.url).resolve('@redocly/cli/bin/cli.js')
const root = fileURLToPath(new URL('..', import.meta.url))

t.test('redocly lint: no errors, no warnings', async (t) => {
  const { stdout } = await promisify(execFile)(process.execPath, [cli, 'lint', 'openapi.yaml', '--format=json'], {
    cwd: root, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' }
  }).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }))
  const report = JSON.parse(stdout) as { totals: { errors: number, warnings: number }, problems: Array<{ ruleId: string, message: string }> }
  t.same(report.problems.map((p) => `${p.ruleId}: ${p.message}`), [], 'no problems')
  t.same(report.totals, { errors: 0, warnings: 0, ignored: 0 })
})
