// Materializations as an app service: the registry with its budget and pool, freed with sessions
// and modules, counted in /metrics, closed on shutdown.
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { Counter, Gauge } from 'prom-client'
import { MaterializationRegistry } from '../../materialize/registry.js'

declare module 'fastify' {
  interface FastifyInstance { materializations: MaterializationRegistry }
}

async function materializationsPlugin (app: FastifyInstance): Promise<void> {
  const registry = new MaterializationRegistry(app.config.memoryBudget, app.pool, app.config.arenaCache)
  app.decorate('materializations', registry)
  // what a session's end or a deletion on any replica frees here, copies opened from records included
  app.store.onSessionEnd((s) => { registry.deleteOfSession(s.id) })
  app.store.onMaterializationEnd((m) => { registry.delete(m.sessionId, m.id) })
  const registers = [app.metrics.registry]
  void new Gauge({ name: 'materia_resident_bytes', help: 'Tensor bytes held by materializations.', registers, collect () { this.set(registry.residentBytes) } })
  void new Gauge({ name: 'materia_memory_budget_bytes', help: 'MATERIA_MEMORY_BUDGET.', registers, collect () { this.set(registry.budget.limit) } })
  void new Gauge({ name: 'materia_arena_cache_bytes', help: 'Freed arena memory held for reuse (MATERIA_ARENA_CACHE); counted in the budget.', registers, collect () { this.set(registry.cache.bytes) } })
  void new Counter({ name: 'materia_arena_cache_reuses_total', help: 'Materializations backed by recycled arena memory.', registers, collect () { this.reset(); this.inc(registry.cache.reused) } })
  void new Gauge({ name: 'materia_materializations', help: 'Materializations held by this process (its own, and copies it opened to serve other replicas\' materializations).', registers, collect () { this.set(registry.count) } })
  app.addHook('onClose', async () => { await registry.close() })
}

export default fp(materializationsPlugin, { name: 'materializations', fastify: '5.x', dependencies: ['session-store', 'worker-pool', 'metrics'] })
