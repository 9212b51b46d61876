// npm run build, second half: the web explorer. tsc compiles web/src into dist/web/ui as ES modules
// the browser loads as they are (no bundler, nothing fetched at run time), beside web/public's
// page, stylesheet and icon. src/plugins/web.ts serves the result.
import { execFileSync } from 'node:child_process'
import { cpSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const out = fileURLToPath(new URL('../dist/web', import.meta.url))
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')

rmSync(out, { recursive: true, force: true })
execFileSync(process.execPath, [tsc, '-p', 'web/tsconfig.json'], { cwd: root, stdio: 'inherit' })
cpSync(fileURLToPath(new URL('../web/public', import.meta.url)), out, { recursive: true })
