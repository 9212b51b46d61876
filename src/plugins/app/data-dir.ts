// The data directory as an app service (docs/data-dir.md): created at start, its files deleted with
// their materialization or session whichever replica ends them, and swept of orphans (at start and
// every SWEEP_INTERVAL_MS, a bounded number of files each time) on every replica.
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { Gauge } from 'prom-client'
import { DataDir } from '../../materialize/data-dir.js'

declare module 'fastify' {
  interface FastifyInstance { dataDir: DataDir }
}

const SWEEP_INTERVAL_MS = 60_000

async function dataDirPlugin (app: FastifyInstance): Promise<void> {
  const dir = new DataDir(app.config.dataDir, app.config.dataBudget)
  await dir.init()
  app.decorate('dataDir', dir)
  const { store, materializations: registry } = app
  const removal = (what: string, ids: Record<string, string>) => (err: unknown): void => {
    app.log.error({ ...ids, err }, `could not remove the persisted checkpoint of a ${what}`)
  }
  store.onSessionEnd((s) => { void dir.removeSession(s.id).catch(removal('session', { sessionId: s.id })) })
  store.onMaterializationEnd(({ sessionId, id }) => { void dir.remove(sessionId, id).catch(removal('materialization', { sessionId, materializationId: id })) })

  // a file is kept while this replica holds its materialization or the store has its record (an
  // error reading the store keeps it: the sweep is only ever late, never wrong)
  const exists = async (sessionId: string, id: string): Promise<boolean> =>
    registry.get(sessionId, id) !== undefined || await store.getMaterialization(sessionId, id) !== undefined
  let sweeping: Promise<void> | undefined
  const sweep = (): void => {
    if (sweeping !== undefined) return
    sweeping = dir.sweep(exists).then((removed) => {
      if (removed.length > 0) app.log.info({ removed }, 'data directory: removed orphaned checkpoint files')
    }, (err: unknown) => { app.log.error({ err }, 'data directory: sweep failed') }).finally(() => { sweeping = undefined })
  }
  const timer = setInterval(sweep, SWEEP_INTERVAL_MS)
  timer.unref()
  app.addHook('onReady', async () => { sweep() })
  app.addHook('onClose', async () => {
    clearInterval(timer)
    await sweeping
  })
  void new Gauge({
    name: 'materia_data_budget_bytes',
    help: 'MATERIA_DATA_BUDGET: bytes the persisted checkpoints of every replica sharing MATERIA_DATA_DIR may take.',
    registers: [app.metrics.registry],
    collect () { this.set(dir.budget) }
  })
}

export default fp(dataDirPlugin, { name: 'data-dir', fastify: '5.x', dependencies: ['session-store', 'materializations', 'metrics'] })
