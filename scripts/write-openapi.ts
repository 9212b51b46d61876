// Writes openapi.yaml from the route schemas (npm run openapi). The app is built with the embedded
// defaults, never the caller's environment, so the file depends on the code alone.
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { generateOpenApiYaml } from '../src/openapi.js'

const target = fileURLToPath(new URL('../openapi.yaml', import.meta.url))
writeFileSync(target, await generateOpenApiYaml())
process.stdout.write(`wrote ${target}\n`)
