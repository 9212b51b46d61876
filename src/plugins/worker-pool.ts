// The fill worker pool (piscina): threads that allocate-free fill SharedArrayBuffer arenas in place,
// so large fills never block the event loop. Checked by /readyz, closed on shutdown.
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { Piscina } from 'piscina'
import { Gauge } from 'prom-client'

declare module 'fastify' {
  interface FastifyInstance { pool: Piscina }
}

// under tsx (tests, dev) this module is .ts and so is the worker file; built, both are .js
const workerFile = new URL(`../materialize/fill-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url)

async function workerPoolPlugin (app: FastifyInstance): Promise<void> {
  const pool = new Piscina({
    filename: workerFile.href,
    minThreads: app.config.workers,
    maxThreads: app.config.workers,
    idleTimeout: 60_000,
    atomics: 'disabled'
  })
  app.decorate('pool', pool)
  app.readiness.add('workerPool', async () => {
    if (pool.threads.length === 0) throw new Error('no worker threads')
  })
  const queue = new Gauge({ name: 'materia_pool_queue_size', help: 'Fill tasks waiting for a worker thread.', registers: [app.metrics.registry], collect () { this.set(pool.queueSize) } })
  void queue
  app.addHook('onClose', async () => { await pool.destroy() })
}

export default fp(workerPoolPlugin, { name: 'worker-pool', fastify: '5.x', dependencies: ['health', 'metrics'] })
