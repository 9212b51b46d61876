// Redis SessionStore: several replicas share sessions and modules. Each session is one JSON string
// key expiring at its expiresAt (PXAT), its modules a hash plus a sorted set that keeps their order,
// both given the same expiry on every touch. Per tenant, two sorted sets of session ids expire with
// the last of its sessions: `tenant-sessions` scored by a creation sequence (listing, paged by
// score: ZRANGE BYSCORE LIMIT, so every command is bounded by the page size) and `tenant-expiry`
// scored by expiresAt (counting: ZCARD less the ZCOUNT of the expired, pruned a bounded batch at a
// time). A creation sequence is max(createdAt, last + 1): unique and increasing, so a new session
// lands after every existing one whatever the replicas' clocks (cursor pages never skip or repeat).
// Ids of expired sessions leave the sets when a listing or a count meets them. Needs Redis 7
// (PEXPIRETIME, PEXPIREAT NX/GT, ZRANGE BYSCORE). A replica learns
// that a session ended (so it can free the memory it holds for it) from a pub/sub message when
// another replica deletes it, and from a sweep over the sessions it has seen when Redis expires it.
import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'
import { decodeCursor, encodeCursor, pageLimit, type Page, type PageRequest } from './cursor.js'
import { allPages, newHandle, StoreUnavailableError, type ExpiryListener, type MaterializationEndListener, type MaterializationRecord, type MaterializationRecordStatus, type ModuleRecord, type SessionRecord, type SessionStore } from './session-store.js'

const script = (lua: string): { lua: string, sha: string } => ({ lua, sha: createHash('sha1').update(lua).digest('hex') })

/** The next creation sequence of sorted set KEYS[n]: max(now, its highest score + 1). */
const nextSeq = (n: number, now: string): string => `local seq = tonumber(${now})
local top = redis.call('ZRANGE', KEYS[${n}], -1, -1, 'WITHSCORES')
if top[2] and tonumber(top[2]) >= seq then seq = tonumber(top[2]) + 1 end`

/**
 * touchSession's script. KEYS: session, modules, module order, the caller's tenant sessions and
 * expiry sets; ARGV: tenant, now (ms), session id. Returns 0 (no such session), 1 (another tenant's)
 * or the session's JSON with the new expiry.
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
redis.call('ZADD', KEYS[4], 'NX', s.createdAt, ARGV[3])
redis.call('ZADD', KEYS[5], exp, ARGV[3])
redis.call('PEXPIREAT', KEYS[4], exp, 'GT')
redis.call('PEXPIREAT', KEYS[5], exp, 'GT')
return out`
  return script(lua)
})()

/** createSession. KEYS: session, tenant sessions, tenant expiry; ARGV: id, JSON, createdAt, expiresAt. */
const CREATE = script(`${nextSeq(2, 'ARGV[3]')}
redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[4])
redis.call('ZADD', KEYS[2], seq, ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
for i = 2, 3 do
  redis.call('PEXPIREAT', KEYS[i], ARGV[4], 'NX')
  redis.call('PEXPIREAT', KEYS[i], ARGV[4], 'GT')
end
return 1`)

/** putModule. KEYS: session, modules, module order; ARGV: id, JSON, createdAt. 0 when the session is gone. */
const PUT_MODULE = script(`local exp = redis.call('PEXPIRETIME', KEYS[1])
if exp <= 0 then return 0 end
${nextSeq(3, 'ARGV[3]')}
if redis.call('HSET', KEYS[2], ARGV[1], ARGV[2]) == 1 then redis.call('ZADD', KEYS[3], seq, ARGV[1]) end
redis.call('PEXPIREAT', KEYS[2], exp)
redis.call('PEXPIREAT', KEYS[3], exp)
return 1`)

/** Sessions expired by this many at most leave the sets per count; the count itself stays exact. */
const PRUNE_BATCH = 1000
/**
 * countSessions. KEYS: tenant sessions, tenant expiry; ARGV: now. Prunes at most PRUNE_BATCH expired
 * ids, then returns the ids whose expiry is still ahead: ZCARD − ZCOUNT(−inf, now), O(log n).
 */
const COUNT = script(`local gone = redis.call('ZRANGE', KEYS[2], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, ${PRUNE_BATCH})
if #gone > 0 then
  redis.call('ZREM', KEYS[1], unpack(gone))
  redis.call('ZREM', KEYS[2], unpack(gone))
end
return redis.call('ZCARD', KEYS[2]) - redis.call('ZCOUNT', KEYS[2], '-inf', ARGV[1])`)

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
  // new key names for the sorted sets (earlier versions kept a list and a set under module-order: and tenant:)
  private orderKey (id: string): string { return `${this.prefix}module-index:${id}` }
  private tenantKey (tenant: string): string { return `${this.prefix}tenant-sessions:${tenant}` }
  private expiryKey (tenant: string): string { return `${this.prefix}tenant-expiry:${tenant}` }

  /** Runs a script by its digest, loading it on NOSCRIPT. */
  private async run (s: { lua: string, sha: string }, keys: string[], args: Array<string | number>): Promise<unknown> {
    return await this.client.evalsha(s.sha, keys.length, ...keys, ...args).catch(async (err: Error) => {
      if (!err.message.startsWith('NOSCRIPT')) throw err
      return await this.client.eval(s.lua, keys.length, ...keys, ...args)
    })
  }

  /** Runs a Redis call; a connection failure is the store being unavailable, never an internal error. */
  private async redis<T> (what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (err) {
      throw new StoreUnavailableError(what, (err as Error).message)
    }
  }

  get knownSessions (): number { return this.seen.size }

  async createSession (tenant: string, ttlSeconds: number): Promise<SessionRecord> {
    const now = Date.now()
    const session: SessionRecord = { id: newHandle('ses'), tenant, createdAt: now, ttlSeconds, expiresAt: now + ttlSeconds * 1000 }
    await this.redis('create', async () => {
      await this.run(CREATE, [this.sessionKey(session.id), this.tenantKey(tenant), this.expiryKey(tenant)],
        [session.id, JSON.stringify(session), session.createdAt, session.expiresAt])
    })
    this.seen.set(session.id, session)
    return { ...session }
  }

  async touchSession (tenant: string, id: string): Promise<SessionRecord | undefined> {
    // one round trip: read, check the tenant and slide every key's expiry in a script
    const r = await this.redis('touch', async () => await this.run(TOUCH,
      [this.sessionKey(id), this.modulesKey(id), this.orderKey(id), this.tenantKey(tenant), this.expiryKey(tenant)], [tenant, Date.now(), id]))
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
    return await allPages(async (req) => await this.pageSessions(tenant, req))
  }

  async pageSessions (tenant: string, req: PageRequest): Promise<Page<SessionRecord>> {
    const limit = pageLimit(req)
    let after = req.cursor !== undefined ? decodeCursor(req.cursor, ['int'])[0] as number : -1
    return await this.redis('list', async () => {
      const items: Array<{ s: SessionRecord, seq: number }> = []
      // rounds of at most limit + 1 ids; ids of expired sessions met on the way leave the sets, so a
      // further round only happens when the first one met some
      for (;;) {
        const want = limit + 1 - items.length
        const r = await this.client.zrange(this.tenantKey(tenant), `(${after}`, '+inf', 'BYSCORE', 'LIMIT', 0, want, 'WITHSCORES')
        const ids = r.filter((_, i) => i % 2 === 0)
        if (ids.length === 0) break
        const values = await this.client.mget(ids.map((id) => this.sessionKey(id)))
        const gone = ids.filter((_, i) => values[i] === null)
        if (gone.length > 0) await this.client.multi().zrem(this.tenantKey(tenant), ...gone).zrem(this.expiryKey(tenant), ...gone).exec()
        values.forEach((v, i) => {
          const s = v !== null ? JSON.parse(v) as SessionRecord : undefined
          if (s?.tenant === tenant) items.push({ s, seq: Number(r[2 * i + 1]) })
        })
        after = Number(r[r.length - 1])
        if (ids.length < want || items.length > limit) break
      }
      const more = items.length > limit
      const page = items.slice(0, limit)
      return { items: page.map((i) => i.s), nextCursor: more ? encodeCursor([page[page.length - 1]?.seq ?? 0]) : null }
    })
  }

  async countSessions (tenant: string): Promise<number> {
    return await this.redis('count', async () => Number(await this.run(COUNT, [this.tenantKey(tenant), this.expiryKey(tenant)], [Date.now()])))
  }

  async deleteSession (tenant: string, id: string): Promise<SessionRecord | undefined> {
    const s = await this.read(id)
    if (s === undefined || s.tenant !== tenant) return undefined
    const deleted = await this.redis('delete', async () => {
      const [del] = await this.client.multi().del(this.sessionKey(id)).del(this.modulesKey(id), this.orderKey(id))
        .zrem(this.tenantKey(tenant), id).zrem(this.expiryKey(tenant), id).exec() ?? []
      if (del?.[1] === 1) await this.client.publish(this.channel, JSON.stringify(s))
      return del?.[1] === 1
    })
    if (!deleted) return undefined // another replica deleted it first
    this.ended(JSON.stringify(s))
    return s
  }

  async putModule (sessionId: string, module: ModuleRecord): Promise<void> {
    // a session that is gone keeps nothing, as the memory store ignores it; a module put again keeps its place
    await this.redis('put module', async () => {
      await this.run(PUT_MODULE, [this.sessionKey(sessionId), this.modulesKey(sessionId), this.orderKey(sessionId)], [module.id, JSON.stringify(module), module.createdAt])
    })
  }

  async getModule (sessionId: string, moduleId: string): Promise<ModuleRecord | undefined> {
    const v = await this.redis('get module', async () => await this.client.hget(this.modulesKey(sessionId), moduleId))
    return v === null ? undefined : JSON.parse(v) as ModuleRecord
  }

  async listModules (sessionId: string): Promise<ModuleRecord[]> {
    return await allPages(async (req) => await this.pageModules(sessionId, req))
  }

  async pageModules (sessionId: string, req: PageRequest): Promise<Page<ModuleRecord>> {
    const limit = pageLimit(req)
    const after = req.cursor !== undefined ? decodeCursor(req.cursor, ['int'])[0] as number : -1
    return await this.redis('list modules', async () => {
      const r = await this.client.zrange(this.orderKey(sessionId), `(${after}`, '+inf', 'BYSCORE', 'LIMIT', 0, limit + 1, 'WITHSCORES')
      const ids = r.filter((_, i) => i % 2 === 0)
      if (ids.length === 0) return { items: [], nextCursor: null }
      const more = ids.length > limit
      const page = ids.slice(0, limit)
      // the hash and the set change together (one script, one MULTI), so every id has its record
      const values = await this.client.hmget(this.modulesKey(sessionId), ...page)
      return {
        items: values.filter((v): v is string => v !== null).map((v) => JSON.parse(v) as ModuleRecord),
        nextCursor: more ? encodeCursor([Number(r[2 * limit - 1])]) : null
      }
    })
  }

  async countModules (sessionId: string): Promise<number> {
    return await this.redis('count modules', async () => await this.client.hlen(this.modulesKey(sessionId)))
  }

  async deleteModule (sessionId: string, moduleId: string): Promise<boolean> {
    return await this.redis('delete module', async () => {
      const [del] = await this.client.multi().hdel(this.modulesKey(sessionId), moduleId).zrem(this.orderKey(sessionId), moduleId).exec() ?? []
      return del?.[1] === 1
    })
  }

  onSessionEnd (listener: ExpiryListener): void { this.listeners.push(listener) }

  async ping (): Promise<void> {
    await this.redis('ping', async () => { await this.client.ping() })
  }

  // materialization records: the Redis implementation follows (these throw until it lands)
  async putMaterialization (_record: MaterializationRecord): Promise<boolean> { throw new Error('putMaterialization: not implemented for Redis yet') }
  async getMaterialization (_sessionId: string, _id: string): Promise<MaterializationRecord | undefined> { throw new Error('not implemented for Redis yet') }
  async pageMaterializations (_sessionId: string, _req: PageRequest): Promise<Page<MaterializationRecord>> { throw new Error('not implemented for Redis yet') }
  async countMaterializations (_sessionId: string): Promise<number> { throw new Error('not implemented for Redis yet') }
  async setMaterializationStatus (_sessionId: string, _id: string, _from: MaterializationRecordStatus, _next: { status: MaterializationRecordStatus, error?: string }): Promise<{ record: MaterializationRecord, changed: boolean } | undefined> { throw new Error('not implemented for Redis yet') }
  async deleteMaterialization (_sessionId: string, _id: string): Promise<MaterializationRecord | undefined> { throw new Error('not implemented for Redis yet') }
  onMaterializationEnd (_listener: MaterializationEndListener): void {}
  async heartbeat (_replica: string, _ttlMs: number): Promise<void> { throw new Error('not implemented for Redis yet') }
  async isReplicaAlive (_replica: string): Promise<boolean> { throw new Error('not implemented for Redis yet') }

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
