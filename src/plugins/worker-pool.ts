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
  // Tasks in flight (submitted, not settled), counted here: piscina's queueSize subtracts the
  // capacity of threads still starting (after an abort replaced a thread it reads 0 with tasks waiting).
  // Every fill task is short (docs/trunc-normal.md), so close refuses new ones and waits for these.
  let inFlight = 0
  let closing = false
  let drained: (() => void) | undefined
  const run = pool.run.bind(pool)
  pool.run = async (task, options) => {
    if (closing) throw new Error('worker pool is closing')
    inFlight++
    try {
      return await run(task, options)
    } finally {
      if (--inFlight === 0) drained?.()
    }
  }
  app.decorate('pool', pool)
  app.readiness.add('workerPool', async () => {
    if (pool.threads.length === 0) throw new Error('no worker threads')
  })
  // one task per thread at a time (concurrentTasksPerWorker 1): the rest of those in flight wait
  const queue = new Gauge({ name: 'materia_pool_queue_size', help: 'Fill tasks waiting for a worker thread.', registers: [app.metrics.registry], collect () { this.set(Math.max(pool.queueSize, inFlight - pool.threads.length)) } })
  void queue
  app.addHook('onClose', async () => {
    closing = true
    // a result posted while destroy() terminates its thread is an 'Unexpected message' error event
    if (inFlight > 0) {
      await new Promise<void>((resolve) => {
        drained = resolve
        setTimeout(resolve, 5000).unref()
      })
    }
    await pool.destroy()
  })
}

export default fp(workerPoolPlugin, { name: 'worker-pool', fastify: '5.x', dependencies: ['health', 'metrics'] })
