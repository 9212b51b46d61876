// The root plugin: configuration → infrastructure plugins (src/plugins/) → app services
// (src/plugins/app/, each declaring what it needs, so a wrong order fails at boot) → routes, in a fixed order.
// Tests build this; only src/server.ts listens.
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { randomUUID } from 'node:crypto'
import type { Config } from './config.js'
import type { SessionStore } from './store/session-store.js'
import errorHandler, { frameworkErrors } from './plugins/error-handler.js'
import swagger from './plugins/swagger.js'
import metrics from './plugins/metrics.js'
import health from './plugins/health.js'
import loadShedding from './plugins/load-shedding.js'
import auth, { logSerializers } from './plugins/auth.js'
import sessionStore from './plugins/session-store.js'
import rateLimit from './plugins/rate-limit.js'
import workerPool from './plugins/worker-pool.js'
import materializations from './plugins/app/materializations.js'
import dataDir from './plugins/app/data-dir.js'
import moduleRecords from './plugins/app/module-records.js'
import sessions from './plugins/app/sessions.js'
import replica from './plugins/app/replica.js'
import materializer from './plugins/app/materializer/materializer.js'
import catalogRoutes from '../routes/catalog.js'
import sessionRoutes from '../routes/sessions.js'
import moduleRoutes from '../routes/modules.js'
import materializationRoutes from '../routes/materializations.js'
import skipInitRoutes from '../routes/skip-init.js'
import pretrainedRoutes from '../routes/pretrained.js'
import hubRoutes from '../routes/hub.js'
import web from './plugins/web.js'
import { cachingSerializerFactory } from './http/serializer-cache.js'

export interface AppOptions {
  config: Config
  logger?: FastifyServerOptions['logger']
  /**
   * A session store built by the caller instead of the one MATERIA_STORE names; the caller closes
   * it. Several apps in one process given one store act as replicas sharing it.
   */
  store?: SessionStore
}

declare module 'fastify' {
  interface FastifyInstance { config: Config }
}

const requestIdPattern = /^[\w.:-]{1,128}$/

// every logger the app builds logs request URLs without their query strings (see logSerializers)
function withRedaction (logger: NonNullable<FastifyServerOptions['logger']>): FastifyServerOptions['logger'] {
  if (logger === false) return false
  const given = logger === true ? {} : logger
  return { ...given, serializers: { ...given.serializers, ...logSerializers } }
}

export async function buildApp (opts: AppOptions): Promise<FastifyInstance> {
  const { config } = opts
  const app = Fastify({
    logger: withRedaction(opts.logger ?? false),
    bodyLimit: config.bodyLimit,
    // our own 503 (one error body) replaces fastify's while closing
    return503OnClosing: false,
    frameworkErrors,
    requestIdHeader: false,
    // a caller's x-request-id is kept when it is sane, so logs join up across services
    genReqId: (req) => {
      const given = req.headers['x-request-id']
      return typeof given === 'string' && requestIdPattern.test(given) ? given : randomUUID()
    },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } },
    schemaController: { compilersFactory: { buildSerializer: cachingSerializerFactory } }
  }).withTypeProvider<TypeBoxTypeProvider>()

  app.decorate('config', config)
  app.addHook('onSend', async (request, reply) => { void reply.header('x-request-id', request.id) })

  await app.register(errorHandler)
  await app.register(swagger)
  await app.register(metrics)
  await app.register(health)
  // cheapest refusals first: shed load, then check the key, then count the tenant's rate
  await app.register(loadShedding)
  await app.register(auth)
  await app.register(sessionStore, { store: opts.store })
  // before the routes: it hooks every route registered after it
  await app.register(rateLimit)
  await app.register(workerPool)
  // app services: what the routes call
  await app.register(materializations)
  await app.register(dataDir)
  await app.register(moduleRecords)
  await app.register(sessions)
  await app.register(replica)
  await app.register(materializer)
  await app.register(catalogRoutes)
  await app.register(sessionRoutes)
  await app.register(moduleRoutes)
  await app.register(materializationRoutes)
  await app.register(skipInitRoutes)
  await app.register(pretrainedRoutes)
  await app.register(hubRoutes)
  // the explorer at `/`: static files, open like /docs
  await app.register(web)
  return app
}
