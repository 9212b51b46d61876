// Redis SessionStore: several replicas share sessions and modules. Each session is one JSON string
// key expiring at its expiresAt (PXAT), its modules a hash plus a list that keeps their order, both
// given the same expiry on every touch; a set per tenant lists its session ids and expires with the
// last of them (ids of expired sessions leave it when it is listed). Needs Redis 7 (PEXPIRETIME,
// PEXPIREAT NX/GT). A replica learns
// that a session ended (so it can free the memory it holds for it) from a pub/sub message when
// another replica deletes it, and from a sweep over the sessions it has seen when Redis expires it.
import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'
import { materiaError } from '../errors.js'
import { newHandle, type ExpiryListener, type ModuleRecord, type SessionRecord, type SessionStore } from './session-store.js'

/**
 * touchSession's script. KEYS: session, modules, module order, the caller's tenant set; ARGV: tenant,
 * now (ms). Returns 0 (no such session), 1 (another tenant's) or the session's JSON with the new expiry.
 * cjson writes numbers with 14 significant digits: ms timestamps keep all of theirs until the year 5138.
 */
const TOUCH = (() => {
  const lua = `local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local s = cjson.decode(v)
if s.tenant ~= ARGV[1] then return 1 end
local exp = tonumber(ARGV[2]) + s.ttlSeconds * 1000
s.expiresAt = exp
local out = cjson.encode(s)
redis.call('SET', KEYS[1], out, 'PXAT', exp)
redis.call('PEXPIREAT', KEYS[2], exp)
redis.call('PEXPIREAT', KEYS[3], exp)
redis.call('PEXPIREAT', KEYS[4], exp, 'GT')
return out`
  return { lua, sha: createHash('sha1').update(lua).digest('hex') }
})()

export interface RedisStoreOptions {
  /** key prefix, so that several deployments can share one Redis; default "materia:" */
  prefix?: string
  sweepIntervalMs?: number
}

export class RedisSessionStore implements SessionStore {
  readonly kind = 'redis'
  private readonly prefix: string
  private readonly listeners: ExpiryListener[] = []
  /** sessions this replica has seen alive, by id: checked by the sweep */
  private readonly seen = new Map<string, SessionRecord>()
  private readonly timer: NodeJS.Timeout
  private readonly subscriber: Redis

  /** Takes ownership of `client` (close() quits it) and opens a second connection for pub/sub. */
  constructor (private readonly client: Redis, opts: RedisStoreOptions = {}) {
    this.prefix = opts.prefix ?? 'materia:'
    this.subscriber = client.duplicate({ lazyConnect: false, enableOfflineQueue: true })
    this.subscriber.on('message', (_channel: string, message: string) => { this.ended(message) })
    this.subscriber.on('error', () => {}) // reconnects by itself; the main client's errors reach callers
    void this.subscriber.subscribe(this.channel).catch(() => {})
    this.timer = setInterval(() => { void this.sweep().catch(() => {}) }, opts.sweepIntervalMs ?? 1000)
    this.timer.unref()
  }

  private get channel (): string { return `${this.prefix}session-ended` }
  private sessionKey (id: string): string { return `${this.prefix}session:${id}` }
  private modulesKey (id: string): string { return `${this.prefix}modules:${id}` }
  private orderKey (id: string): string { return `${this.prefix}module-order:${id}` }
  private tenantKey (tenant: string): string { return `${this.prefix}tenant:${tenant}` }

  /** Runs a Redis call; a connection failure is the 503 of an unreachable store, never a 500. */
  private async redis<T> (what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (err) {
      throw materiaError('notReady', `Session store unavailable (Redis ${what}: ${(err as Error).message})`, { 'retry-after': '1' })
    }
  }

  async createSession (tenant: string, ttlSeconds: number): Promise<SessionRecord> {
    const now = Date.now()
    const session: SessionRecord = { id: newHandle('ses'), tenant, createdAt: now, ttlSeconds, expiresAt: now + ttlSeconds * 1000 }
    await this.redis('create', async () => {
      const tenantKey = this.tenantKey(tenant)
      await this.client.multi().set(this.sessionKey(session.id), JSON.stringify(session), 'PXAT', session.expiresAt)
        .sadd(tenantKey, session.id).pexpireat(tenantKey, session.expiresAt, 'NX').pexpireat(tenantKey, session.expiresAt, 'GT').exec()
    })
    this.seen.set(session.id, session)
    return { ...session }
  }

  async touchSession (tenant: string, id: string): Promise<SessionRecord | undefined> {
    // one round trip: read, check the tenant and slide every key's expiry in a script
    const r = await this.redis('touch', async () => await this.client.evalsha(TOUCH.sha, 4,
      this.sessionKey(id), this.modulesKey(id), this.orderKey(id), this.tenantKey(tenant), tenant, Date.now())
      .catch(async (err: Error) => {
        if (!err.message.startsWith('NOSCRIPT')) throw err
        return await this.client.eval(TOUCH.lua, 4, this.sessionKey(id), this.modulesKey(id), this.orderKey(id), this.tenantKey(tenant), tenant, Date.now())
      }))
    if (r === 0) {
      if (this.seen.has(id)) this.ended(JSON.stringify(this.seen.get(id)))
      return undefined
    }
    if (typeof r !== 'string') return undefined // another tenant's session
    const s = JSON.parse(r) as SessionRecord
    this.seen.set(id, s)
    return { ...s }
  }

  async listSessions (tenant: string): Promise<SessionRecord[]> {
    return await this.redis('list', async () => {
      const ids = await this.client.smembers(this.tenantKey(tenant))
      if (ids.length === 0) return []
      const values = await this.client.mget(ids.map((id) => this.sessionKey(id)))
      const gone = ids.filter((_, i) => values[i] === null)
      if (gone.length > 0) await this.client.srem(this.tenantKey(tenant), ...gone)
      return values.filter((v): v is string => v !== null).map((v) => JSON.parse(v) as SessionRecord)
        .filter((s) => s.tenant === tenant).sort((a, b) => a.createdAt - b.createdAt)
    })
  }

  async deleteSession (tenant: string, id: string): Promise<SessionRecord | undefined> {
    const s = await this.read(id)
    if (s === undefined || s.tenant !== tenant) return undefined
    const deleted = await this.redis('delete', async () => {
      const [del] = await this.client.multi().del(this.sessionKey(id)).del(this.modulesKey(id), this.orderKey(id))
        .srem(this.tenantKey(tenant), id).exec() ?? []
      if (del?.[1] === 1) await this.client.publish(this.channel, JSON.stringify(s))
      return del?.[1] === 1
    })
    if (!deleted) return undefined // another replica deleted it first
    this.ended(JSON.stringify(s))
    return s
  }

  async putModule (sessionId: string, module: ModuleRecord): Promise<void> {
    await this.redis('put module', async () => {
      const expiresAt = Number(await this.client.call('PEXPIRETIME', this.sessionKey(sessionId)))
      if (!(expiresAt > 0)) return // the session is gone, as the memory store ignores it
      await this.client.multi().hset(this.modulesKey(sessionId), module.id, JSON.stringify(module)).rpush(this.orderKey(sessionId), module.id)
        .pexpireat(this.modulesKey(sessionId), expiresAt).pexpireat(this.orderKey(sessionId), expiresAt).exec()
    })
  }

  async getModule (sessionId: string, moduleId: string): Promise<ModuleRecord | undefined> {
    const v = await this.redis('get module', async () => await this.client.hget(this.modulesKey(sessionId), moduleId))
    return v === null ? undefined : JSON.parse(v) as ModuleRecord
  }

  async listModules (sessionId: string): Promise<ModuleRecord[]> {
    return await this.redis('list modules', async () => {
      const ids = await this.client.lrange(this.orderKey(sessionId), 0, -1)
      if (ids.length === 0) return []
      const values = await this.client.hmget(this.modulesKey(sessionId), ...ids)
      return values.filter((v): v is string => v !== null).map((v) => JSON.parse(v) as ModuleRecord)
    })
  }

  async countModules (sessionId: string): Promise<number> {
    return await this.redis('count modules', async () => await this.client.hlen(this.modulesKey(sessionId)))
  }

  async deleteModule (sessionId: string, moduleId: string): Promise<boolean> {
    return await this.redis('delete module', async () => {
      const [del] = await this.client.multi().hdel(this.modulesKey(sessionId), moduleId).lrem(this.orderKey(sessionId), 0, moduleId).exec() ?? []
      return del?.[1] === 1
    })
  }

  onSessionEnd (listener: ExpiryListener): void { this.listeners.push(listener) }

  async ping (): Promise<void> {
    await this.redis('ping', async () => { await this.client.ping() })
  }

  async close (): Promise<void> {
    clearInterval(this.timer)
    // the sessions stay in Redis for the other replicas (this replica's memory is freed by its own close)
    this.seen.clear()
    // QUIT while connected; a connection that is down (and reconnecting) is dropped, or close would wait for Redis
    await Promise.allSettled([this.subscriber, this.client].map(async (c) => {
      if (c.status === 'ready') await c.quit()
      else c.disconnect()
    }))
  }

  private async read (id: string): Promise<SessionRecord | undefined> {
    const v = await this.redis('read', async () => await this.client.get(this.sessionKey(id)))
    if (v === null) {
      if (this.seen.has(id)) this.ended(JSON.stringify(this.seen.get(id)))
      return undefined
    }
    return JSON.parse(v) as SessionRecord
  }

  /** Sessions this replica has seen that Redis no longer has: expired (or deleted while a message was lost). */
  private async sweep (): Promise<void> {
    if (this.seen.size === 0) return
    const ids = [...this.seen.keys()]
    const pipeline = this.client.pipeline()
    for (const id of ids) pipeline.exists(this.sessionKey(id))
    const results = await pipeline.exec() ?? []
    ids.forEach((id, i) => { if (results[i]?.[0] === null && results[i]?.[1] === 0) this.ended(JSON.stringify(this.seen.get(id))) })
  }

  /** Fires the listeners once per session this replica has seen. */
  private ended (message: string): void {
    let s: SessionRecord
    try { s = JSON.parse(message) as SessionRecord } catch { return }
    if (typeof s?.id !== 'string' || !this.seen.delete(s.id)) return
    for (const l of this.listeners) l({ ...s })
  }
}
