// This replica as the other replicas see it: an id drawn at each process start, kept alive in the
// session store by heartbeats. A materialization still filling names its replica (the record's
// `owner`); when that replica's heartbeats stop (a crash, kill -9, a lost network) the others
// declare the fill failed instead of waiting for it forever (docs/materialization-records.md).
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { randomBytes } from 'node:crypto'

declare module 'fastify' {
  interface FastifyInstance { replica: Replica }
}

export interface Replica {
  /** random per process start: a restarted replica is a new one, and the fills of the old one are over */
  readonly id: string
}

/** How often a replica says it is alive. */
export const HEARTBEAT_INTERVAL_MS = 2000
/** How long one heartbeat keeps it alive: a few intervals, so a late timer or one lost write is not a death. */
export const HEARTBEAT_TTL_MS = 4 * HEARTBEAT_INTERVAL_MS

async function replicaPlugin (app: FastifyInstance): Promise<void> {
  const replica: Replica = { id: `rep_${randomBytes(12).toString('base64url')}` }
  const beat = async (): Promise<void> => {
    try {
      await app.store.heartbeat(replica.id, HEARTBEAT_TTL_MS)
    } catch (err) {
      // the store may be down for a while: the next beat tries again; the replica keeps serving
      app.log.warn({ err, replica: replica.id }, 'heartbeat not written')
    }
  }
  // alive before its first materialization names it as owner
  await beat()
  const timer = setInterval(() => { void beat() }, HEARTBEAT_INTERVAL_MS)
  timer.unref()
  app.decorate('replica', replica)
  app.addHook('onClose', async () => { clearInterval(timer) })
}

export default fp(replicaPlugin, { name: 'replica', fastify: '5.x', dependencies: ['session-store'] })
