// npm run build, second half: the web explorer. tsc compiles web/src into dist/web as ES modules
// the browser loads as they are (no bundler, nothing fetched at run time), beside web/public's
// page, stylesheet and icon. src/plugins/web.ts serves the result. Files are overwritten in place,
// never removed first: a service booting meanwhile (the test suite builds while other tests run)
// must not list a file that is gone when it reads it.
import { execFileSync } from 'node:child_process'
import { cpSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')

execFileSync(process.execPath, [tsc, '-p', 'web/tsconfig.json'], { cwd: root, stdio: 'inherit' })
cpSync(fileURLToPath(new URL('../web/public', import.meta.url)), fileURLToPath(new URL('../dist/web', import.meta.url)), { recursive: true })
