// The OpenAPI document as the code generates it; scripts/write-openapi.ts commits it as openapi.yaml.
import { buildApp } from './app.js'
import { loadConfig } from './config.js'

export async function generateOpenApiYaml (): Promise<string> {
  const app = await buildApp({ config: loadConfig({}) })
  try {
    await app.ready()
    return app.swagger({ yaml: true })
  } finally {
    await app.close()
  }
}
