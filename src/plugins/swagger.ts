// OpenAPI 3 from the route schemas. Component names come from each schema's $id, so they are stable.
import fp from 'fastify-plugin'
import { errorResponses } from '../schemas/common.js'
import { readFileSync } from 'node:fs'
import type { FastifyInstance } from 'fastify'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { allSchemas } from '../schemas/index.js'
import { typeSpecArguments } from '../schemas/module-classes.js'

// the API's version is the package's: package.json two levels up from src/plugins, three from dist/src/plugins
const packageJson = new URL(import.meta.url.endsWith('.ts') ? '../../package.json' : '../../../package.json', import.meta.url)

export const apiInfo = {
  title: 'materia',
  version: (JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string }).version,
  description: 'Model materialization as a service: torch.nn modules built on the meta device (shapes only), ' +
    'given real memory on request, served as raw tensor bytes and safetensors files. PyTorch is the reference ' +
    'for every name, shape, dtype, default and error text.',
  license: { name: 'Apache-2.0', url: 'https://www.apache.org/licenses/LICENSE-2.0' }
}

export const apiTags = [
  { name: 'operations', description: 'Health, readiness, metrics and the API description.' },
  { name: 'catalog', description: 'The torch.nn classes materia can build, and memory estimates.' },
  { name: 'sessions', description: 'Sessions hold modules and materializations, with a sliding TTL.' },
  { name: 'modules', description: 'Modules built on the meta device: shapes and dtypes only.' },
  { name: 'materializations', description: 'Modules given real memory, and their bytes: raw tensors, safetensors files, sharded exports, save_pretrained files.' },
  { name: 'hub', description: 'Materializations of transformers models as Hugging Face model repositories: endpoint `/hub`, repository id `SESSION_ID/MATERIALIZATION_ID`, HF_TOKEN = the API key (docs/hub.md).' }
]

async function swaggerPlugin (app: FastifyInstance): Promise<void> {
  for (const s of allSchemas) app.addSchema(s)
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: apiInfo,
      // relative: Swagger UI's "Try it out" and generated clients address the host and port the document was read from
      servers: [{ url: '/', description: 'The service that serves this document' }],
      tags: apiTags,
      // /v1 routes take an API key when MATERIA_API_KEYS is set; operations routes say `security: []`
      security: [{ bearerAuth: [] }, { apiKeyHeader: [] }],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API key from MATERIA_API_KEYS (when set).' },
          apiKeyHeader: { type: 'apiKey', in: 'header', name: 'x-api-key', description: 'The same key in a header.' }
        }
      }
    },
    // the document's types of constructor arguments (see typeSpecArguments); validation is unchanged
    transformObject: (doc) => {
      const spec = 'openapiObject' in doc ? doc.openapiObject : doc.swaggerObject
      const schemas = (spec as { components?: { schemas?: Parameters<typeof typeSpecArguments>[0] } }).components?.schemas
      if (schemas !== undefined) typeSpecArguments(schemas)
      return spec
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}`
    }
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })

  app.get('/openapi.json', {
    schema: {
      operationId: 'getOpenApiJson',
      tags: ['operations'],
      security: [],
      summary: 'OpenAPI description (JSON)',
      description: 'This API described as OpenAPI 3, generated from the route schemas.',
      response: { 200: { description: 'The OpenAPI document.', type: 'object', additionalProperties: true }, ...errorResponses() }
    }
  }, async () => app.swagger())

  app.get('/openapi.yaml', {
    schema: {
      operationId: 'getOpenApiYaml',
      tags: ['operations'],
      security: [],
      summary: 'OpenAPI description (YAML)',
      description: 'The same document as /openapi.json, as YAML; equal to the committed openapi.yaml.',
      produces: ['application/yaml'],
      response: { 200: { description: 'The OpenAPI document.', type: 'string' }, ...errorResponses() }
    }
  }, async (_request, reply) => reply.type('application/yaml; charset=utf-8').send(app.swagger({ yaml: true })))
  // the document is built on first use (~100 ms of schema walking) and cached: build it at boot, not in a request
  app.addHook('onReady', async () => { app.swagger(); app.swagger({ yaml: true }) })
}

export default fp(swaggerPlugin, { name: 'swagger', fastify: '5.x' })
