// Prometheus metrics: one registry per app instance (tests build many apps), request-duration
// histograms by route, and gauges that other plugins register through `app.metrics`.
import fp from 'fastify-plugin'
import { errorResponses } from '../schemas/common.js'
import type { FastifyInstance } from 'fastify'
import { Histogram, Registry, collectDefaultMetrics } from 'prom-client'

declare module 'fastify' {
  interface FastifyInstance { metrics: { registry: Registry } }
}

async function metricsPlugin (app: FastifyInstance): Promise<void> {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'materia_process_' })
  const duration = new Histogram({
    name: 'materia_http_request_duration_seconds',
    help: 'HTTP request duration in seconds, by method, route pattern and status code.',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry]
  })
  app.decorate('metrics', { registry })

  app.addHook('onResponse', async (request, reply) => {
    // route patterns, not raw URLs, keep label cardinality bounded
    const route = request.routeOptions.url ?? 'unmatched'
    duration.observe({ method: request.method, route, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000)
  })

  app.get('/metrics', {
    schema: {
      operationId: 'getMetrics',
      tags: ['operations'],
      security: [],
      summary: 'Prometheus metrics',
      description: 'Prometheus text exposition: request latency histograms, resident tensor bytes, sessions, materializations, worker pool queue, process metrics.',
      produces: ['text/plain'],
      response: { 200: { description: 'Prometheus text format 0.0.4.', type: 'string' }, ...errorResponses() }
    }
  }, async (_request, reply) => {
    const text = await registry.metrics()
    return reply.type(registry.contentType).send(text)
  })
}

export default fp(metricsPlugin, { name: 'metrics', fastify: '5.x' })
