// The session store as an app service: built from config, checked by /readyz, closed on shutdown.
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { materiaError } from '../errors.js'
import { Cluster, Redis } from 'ioredis'
import { Gauge } from 'prom-client'
import type { Config } from '../config.js'
import { MemorySessionStore } from '../store/memory-store.js'
import { clusterTarget } from '../store/redis-client.js'
import { RedisSessionStore, type RedisClient } from '../store/redis-store.js'
import { StoreUnavailableError, type SessionRecord, type SessionStore } from '../store/session-store.js'

declare module 'fastify' {
  interface FastifyInstance {
    store: SessionStore
    /** The store's Redis (or Redis Cluster) client when MATERIA_STORE=redis (rate-limit counters share it), else undefined. */
    redis: RedisClient | undefined
    /** The caller's live session (TTL extended), or a 404 in the one error body. */
    requireSession: (request: FastifyRequest, sessionId: string) => Promise<SessionRecord>
  }
}

/** The URL without its password, for messages. */
const redacted = (url: string): string => url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@')

/** Seconds a client is told to wait (Retry-After) when the store's backend cannot be reached. */
const STORE_RETRY_AFTER_S = 1

async function connectRedis (config: Config): Promise<{ store: SessionStore, client: RedisClient }> {
  // no offline queue: while Redis is down, calls fail at once (503) instead of hanging the request
  const options = { maxRetriesPerRequest: 1, connectTimeout: 5000 }
  const cluster = clusterTarget(config.redisUrl, config.redisClusterNodes)
  const client = cluster !== undefined
    ? new Cluster(cluster.nodes, {
      lazyConnect: true,
      enableOfflineQueue: false,
      redisOptions: { ...options, username: cluster.username, password: cluster.password, ...(cluster.tls ? { tls: {} } : {}) }
    })
    : new Redis(config.redisUrl, { ...options, lazyConnect: true, enableOfflineQueue: false })
  const where = cluster !== undefined ? `the Redis Cluster at ${cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',')}` : `Redis at ${redacted(config.redisUrl)}`
  let cause: Error | undefined
  client.on('error', (err: Error) => { cause = err }) // ioredis reconnects by itself; failed calls reach their callers as 503s
  try {
    await client.connect()
    await client.ping()
  } catch (err) {
    client.disconnect()
    throw new Error(`MATERIA_STORE=redis: cannot reach ${where} (${(cause ?? err as Error).message})`)
  }
  const store = new RedisSessionStore(client, { prefix: config.redisPrefix })
  // serve only once other replicas' deletions are heard: pub/sub does not replay what came before
  let timer: NodeJS.Timeout | undefined
  const listening = await Promise.race([store.listening, new Promise<false>((resolve) => { timer = setTimeout(() => { resolve(false) }, options.connectTimeout) })])
  clearTimeout(timer)
  if (!listening) {
    await store.close()
    throw new Error(`MATERIA_STORE=redis: cannot subscribe to announcements on ${where}`)
  }
  return { store, client }
}

/** `store`: one the caller made and closes (buildApp's `store`), instead of the one the config names. */
export interface SessionStorePluginOptions { store?: SessionStore | undefined }

async function sessionStorePlugin (app: FastifyInstance, opts: SessionStorePluginOptions): Promise<void> {
  const given = opts.store
  const redis = given === undefined && app.config.store === 'redis' ? await connectRedis(app.config) : undefined
  const store: SessionStore = given ?? redis?.store ?? new MemorySessionStore()
  app.decorate('store', store)
  app.decorate<RedisClient | undefined>('redis', redis?.client)
  app.decorate('requireSession', async (request: FastifyRequest, sessionId: string) => {
    const s = await store.touchSession(request.tenant, sessionId)
    if (s === undefined) throw materiaError('sessionNotFound', { id: sessionId })
    return s
  })
  // onError runs before the error handler writes the body: the 503 of an unreachable store says when to retry
  app.addHook('onError', async (_request, reply, err) => {
    if (err instanceof StoreUnavailableError) void reply.header('retry-after', String(STORE_RETRY_AFTER_S))
  })
  void new Gauge({
    name: 'materia_sessions',
    help: 'Live sessions on this replica: all of them with the memory store; with Redis, those this replica created or used that have not ended.',
    registers: [app.metrics.registry],
    collect () { this.set(store.knownSessions) }
  })
  app.readiness.add('store', async () => { await store.ping() })
  store.onSessionEnd((s) => { app.log.info({ sessionId: s.id }, 'session ended') })
  // a store the caller gave is the caller's to close
  if (given === undefined) app.addHook('onClose', async () => { await store.close() })
}

export default fp(sessionStorePlugin, { name: 'session-store', fastify: '5.x', dependencies: ['health', 'auth', 'metrics'] })
