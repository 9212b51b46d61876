// Redis SessionStore: several replicas share sessions, modules and materialization records, on one
// Redis or on a Redis Cluster (docs/redis-store.md has the key layout). Needs Redis 7 (PEXPIRETIME,
// PEXPIREAT NX/GT, ZADD GT, ZRANGE BYSCORE).
//
// Slots. Every key of one session carries the hash tag `{<session id>}`: the session (one JSON string
// expiring at its expiresAt, PXAT), its modules and its materialization records (each a hash plus a
// sorted set that keeps their order, all given the session's expiry on every touch). So every call
// naming a session is one script on one slot, atomic on a cluster as on a single Redis, and a
// tenant's sessions spread over the masters. Tagging by tenant instead would have kept the tenant
// indexes atomic with the sessions, but would put all of a busy tenant's traffic on one master, and
// the module and materialization calls, which name only a session, could not find their slot. The
// price: the two per-tenant sorted sets (tag `{tenant:<name>}`) change in a second command, so the
// write order below keeps them right without a transaction across slots:
// - `tenant-sessions`, scored by a creation sequence (listing, paged by score: ZRANGE BYSCORE
//   LIMIT, so every command is bounded by the page size), and `tenant-expiry`, scored by expiresAt
//   (counting: ZCARD less the ZCOUNT of the expired, pruned a bounded batch at a time); both
//   expire with the last of the tenant's sessions. A creation sequence is max(createdAt, last + 1):
//   unique and increasing, so a new session lands after every existing one whatever the replicas'
//   clocks (cursor pages never skip or repeat).
// - create writes the session, then its index entries: a listing never meets an id before its
//   session exists (it drops ids whose session is gone). A replica dying between the two leaves a
//   session that no client was given and that expires unlisted.
// - delete removes the session, then its index entries; touch moves an entry's expiry only if the
//   entry is there (ZADD XX GT), so a touch racing a delete cannot bring the entry back.
// - ids of sessions gone without a delete leave the sets when a listing or a count meets them.
// When only the second command fails (the call answers 503), the index lags until the next touch or
// listing mends it: a deleted session's entry counts until its expiry score passes or a listing
// meets it; a touched session whose entry kept its old expiry leaves the count and the listing at
// that expiry if nothing touches it again, up to one TTL before the session itself.
// A replica learns that a session ended (so it can free the memory it holds for it) from a pub/sub
// message published by the script that deleted it, and from a sweep over the sessions it has seen
// when Redis expires it; a deleted materialization record is announced the same way. PUBLISH reaches
// every node's subscribers on a cluster (Redis 7 classic pub/sub is cluster-wide).
import { createHash, randomBytes } from 'node:crypto'
import { Cluster, type Redis } from 'ioredis'
import { decodeCursor, encodeCursor, pageLimit, type Page, type PageRequest } from './cursor.js'
import {
  allPages, newHandle, StoreUnavailableError, type ExpiryListener, type MaterializationEndListener, type MaterializationRecord,
  type MaterializationRecordStatus, type ModuleRecord, type SessionRecord, type SessionStore
} from './session-store.js'

const script = (lua: string): { lua: string, sha: string } => ({ lua, sha: createHash('sha1').update(lua).digest('hex') })

/** The next creation sequence of sorted set KEYS[n]: max(now, its highest score + 1). */
const nextSeq = (n: number, now: string): string => `local seq = tonumber(${now})
local top = redis.call('ZRANGE', KEYS[${n}], -1, -1, 'WITHSCORES')
if top[2] and tonumber(top[2]) >= seq then seq = tonumber(top[2]) + 1 end`

/**
 * touchSession's script. KEYS: session, then the keys that live as long as it (modules, module
 * order, materializations, materialization order); ARGV: tenant, now (ms). Returns 0 (no such
 * session), 1 (another tenant's) or the session's JSON with the new expiry.
 * cjson writes numbers with 14 significant digits: ms timestamps keep all of theirs until the year 5138.
 */
const TOUCH = script(`local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local s = cjson.decode(v)
if s.tenant ~= ARGV[1] then return 1 end
local exp = tonumber(ARGV[2]) + s.ttlSeconds * 1000
s.expiresAt = exp
local out = cjson.encode(s)
redis.call('SET', KEYS[1], out, 'PXAT', exp)
for i = 2, #KEYS do redis.call('PEXPIREAT', KEYS[i], exp) end
return out`)

/** A touch's tenant side. KEYS: tenant sessions, tenant expiry; ARGV: id, expiresAt. Only moves an entry that is there. */
const TENANT_TOUCH = script(`redis.call('ZADD', KEYS[2], 'XX', 'GT', ARGV[2], ARGV[1])
for i = 1, 2 do redis.call('PEXPIREAT', KEYS[i], ARGV[2], 'GT') end
return 1`)

/** A new session's index entries. KEYS: tenant sessions, tenant expiry; ARGV: id, createdAt, expiresAt. */
const TENANT_ADD = script(`${nextSeq(1, 'ARGV[2]')}
redis.call('ZADD', KEYS[1], seq, ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
for i = 1, 2 do
  redis.call('PEXPIREAT', KEYS[i], ARGV[3], 'NX')
  redis.call('PEXPIREAT', KEYS[i], ARGV[3], 'GT')
end
return 1`)

/**
 * deleteSession. KEYS: the session's keys (as TOUCH); ARGV: tenant, channel. Deletes them and
 * announces the session on the channel; returns 0 (none), 1 (another tenant's) or its JSON.
 */
const DELETE_SESSION = script(`local v = redis.call('GET', KEYS[1])
if not v then return 0 end
if cjson.decode(v).tenant ~= ARGV[1] then return 1 end
redis.call('DEL', unpack(KEYS))
redis.call('PUBLISH', ARGV[2], v)
return v`)

/** The session's expiry into `exp`, or return 0 when it is gone. KEYS[1]: session. */
const SESSION_EXPIRY = `local exp = redis.call('PEXPIRETIME', KEYS[1])
if exp <= 0 then return 0 end`

/** putModule. KEYS: session, modules, module order; ARGV: id, JSON, createdAt. 0 when the session is gone. */
const PUT_MODULE = script(`${SESSION_EXPIRY}
${nextSeq(3, 'ARGV[3]')}
if redis.call('HSET', KEYS[2], ARGV[1], ARGV[2]) == 1 then redis.call('ZADD', KEYS[3], seq, ARGV[1]) end
redis.call('PEXPIREAT', KEYS[2], exp)
redis.call('PEXPIREAT', KEYS[3], exp)
return 1`)

// A materialization record is three fields of the session's materializations hash: r:<id> its JSON
// as put, s:<id> its status and e:<id> its error. The status compare-and-set then changes two plain
// strings in Lua, and never decodes the record: cjson would round its numbers to 14 digits (options
// hold doubles) and turn empty arrays into objects.

/**
 * putMaterialization. KEYS: session, materializations, their order; ARGV: id, createdAt, JSON,
 * status[, error]. A record put again keeps its place; 0 when the session is gone.
 */
const PUT_MATERIALIZATION = script(`${SESSION_EXPIRY}
${nextSeq(3, 'ARGV[2]')}
redis.call('ZADD', KEYS[3], 'NX', seq, ARGV[1])
redis.call('HSET', KEYS[2], 'r:' .. ARGV[1], ARGV[3], 's:' .. ARGV[1], ARGV[4])
if ARGV[5] then redis.call('HSET', KEYS[2], 'e:' .. ARGV[1], ARGV[5]) else redis.call('HDEL', KEYS[2], 'e:' .. ARGV[1]) end
redis.call('PEXPIREAT', KEYS[2], exp)
redis.call('PEXPIREAT', KEYS[3], exp)
return 1`)

/**
 * setMaterializationStatus. KEYS: materializations; ARGV: id, from, next status[, error]. Returns 0
 * (no such record) or {changed (0/1), JSON, status, error}.
 */
const SET_STATUS = script(`local s = redis.call('HGET', KEYS[1], 's:' .. ARGV[1])
if not s then return 0 end
local changed = 0
if s == ARGV[2] then
  changed = 1
  redis.call('HSET', KEYS[1], 's:' .. ARGV[1], ARGV[3])
  if ARGV[4] then redis.call('HSET', KEYS[1], 'e:' .. ARGV[1], ARGV[4]) else redis.call('HDEL', KEYS[1], 'e:' .. ARGV[1]) end
end
local v = redis.call('HMGET', KEYS[1], 'r:' .. ARGV[1], 's:' .. ARGV[1], 'e:' .. ARGV[1])
return {changed, v[1], v[2], v[3]}`)

/**
 * deleteMaterialization. KEYS: materializations, their order; ARGV: id, channel, message. Deletes the
 * record and announces it; returns 0 (none) or {JSON, status, error}.
 */
const DELETE_MATERIALIZATION = script(`local v = redis.call('HMGET', KEYS[1], 'r:' .. ARGV[1], 's:' .. ARGV[1], 'e:' .. ARGV[1])
if not v[1] then return 0 end
redis.call('HDEL', KEYS[1], 'r:' .. ARGV[1], 's:' .. ARGV[1], 'e:' .. ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return v`)

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

/** A materialization record from its three fields (r:, s:, e:), the status and error being the ones stored last. */
function materialization (json: string, status: string, error: string | null): MaterializationRecord {
  const r = JSON.parse(json) as MaterializationRecord
  r.status = status as MaterializationRecordStatus
  if (error !== null) r.error = error
  else delete r.error
  return r
}

/** The fields HMGET reads of each record (materialization above). */
const recordFields = (id: string): string[] => [`r:${id}`, `s:${id}`, `e:${id}`]

/** A client of one Redis or of a Redis Cluster: the store issues the same commands to either. */
export type RedisClient = Redis | Cluster

export interface RedisStoreOptions {
  /** key prefix, so that several deployments can share one Redis; default "materia:" */
  prefix?: string
  sweepIntervalMs?: number
}

export class RedisSessionStore implements SessionStore {
  readonly kind = 'redis'
  private readonly prefix: string
  private readonly listeners: ExpiryListener[] = []
  private readonly materializationListeners: MaterializationEndListener[] = []
  /** sessions this replica has seen alive, by id: checked by the sweep */
  private readonly seen = new Map<string, SessionRecord>()
  private readonly timer: NodeJS.Timeout
  private readonly subscriber: RedisClient
  /**
   * Settles once the first subscription is live (false if it failed; the subscriber resubscribes
   * when it reconnects): an announcement published before then is not heard by this store.
   */
  readonly listening: Promise<boolean>
  /** marks this store's own announcements, whose listeners already ran when the delete returned */
  private readonly self = randomBytes(9).toString('base64url')

  /** Takes ownership of `client` (close() quits it) and opens a second connection for pub/sub. */
  constructor (private readonly client: RedisClient, opts: RedisStoreOptions = {}) {
    this.prefix = opts.prefix ?? 'materia:'
    const sub = { lazyConnect: false, enableOfflineQueue: true }
    this.subscriber = client instanceof Cluster ? client.duplicate(undefined, sub) : client.duplicate(sub)
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.sessionChannel) this.ended(message)
      else this.materializationEnded(message)
    })
    this.subscriber.on('error', () => {}) // reconnects (and resubscribes) by itself; the main client's errors reach callers
    this.listening = this.subscriber.subscribe(this.sessionChannel, this.materializationChannel).then(() => true, () => false)
    this.timer = setInterval(() => { void this.sweep().catch(() => {}) }, opts.sweepIntervalMs ?? 1000)
    this.timer.unref()
  }

  private get sessionChannel (): string { return `${this.prefix}session-ended` }
  private get materializationChannel (): string { return `${this.prefix}materialization-ended` }
  // every key of a session shares its hash tag (one slot); key names changed with the tags (docs/redis-store.md)
  private sessionKey (id: string): string { return `${this.prefix}{${id}}:session` }
  private modulesKey (id: string): string { return `${this.prefix}{${id}}:modules` }
  private orderKey (id: string): string { return `${this.prefix}{${id}}:module-index` }
  private materializationsKey (id: string): string { return `${this.prefix}{${id}}:materializations` }
  private materializationOrderKey (id: string): string { return `${this.prefix}{${id}}:materialization-index` }
  /** the session key first, then every key that lives and dies with it */
  private sessionKeys (id: string): string[] {
    return [this.sessionKey(id), this.modulesKey(id), this.orderKey(id), this.materializationsKey(id), this.materializationOrderKey(id)]
  }

  /** the tenant's two indexes, in their own slot */
  private tenantKeys (tenant: string): [sessions: string, expiry: string] {
    return [`${this.prefix}{tenant:${tenant}}:sessions`, `${this.prefix}{tenant:${tenant}}:expiry`]
  }

  private replicaKey (replica: string): string { return `${this.prefix}replica:${replica}` }

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
      // the session before its index entries (header comment)
      await this.client.set(this.sessionKey(session.id), JSON.stringify(session), 'PXAT', session.expiresAt)
      await this.run(TENANT_ADD, this.tenantKeys(tenant), [session.id, session.createdAt, session.expiresAt])
    })
    this.seen.set(session.id, session)
    return { ...session }
  }

  async touchSession (tenant: string, id: string): Promise<SessionRecord | undefined> {
    const now = Date.now()
    const touch = async (): Promise<unknown> => await this.run(TOUCH, this.sessionKeys(id), [tenant, now])
    const indexed = async (expiresAt: number): Promise<void> => { await this.run(TENANT_TOUCH, this.tenantKeys(tenant), [id, expiresAt]) }
    // A session this replica knows has a known TTL, so both slots are written at once (one round
    // trip); an entry moved for a session that turns out gone is removed again below.
    const known = this.seen.get(id)
    const r = await this.redis('touch', async () => {
      if (known?.tenant === tenant) return (await Promise.all([touch(), indexed(now + known.ttlSeconds * 1000)]))[0]
      const r = await touch()
      if (typeof r === 'string') await indexed((JSON.parse(r) as SessionRecord).expiresAt)
      return r
    })
    if (r === 0) {
      if (known !== undefined) {
        this.ended(JSON.stringify(known))
        await this.unindex(tenant, [id]).catch(() => {}) // else a listing or a count drops it later
      }
      return undefined
    }
    if (typeof r !== 'string') return undefined // another tenant's session
    const s = JSON.parse(r) as SessionRecord
    this.seen.set(id, s)
    return { ...s }
  }

  /** Removes ids from a tenant's indexes. */
  private async unindex (tenant: string, ids: string[]): Promise<void> {
    const [sessions, expiry] = this.tenantKeys(tenant)
    await this.client.multi().zrem(sessions, ...ids).zrem(expiry, ...ids).exec()
  }

  async listSessions (tenant: string): Promise<SessionRecord[]> {
    return await allPages(async (req) => await this.pageSessions(tenant, req))
  }

  async pageSessions (tenant: string, req: PageRequest): Promise<Page<SessionRecord>> {
    const limit = pageLimit(req)
    let after = req.cursor !== undefined ? decodeCursor(req.cursor, ['int'])[0] as number : -1
    const [index] = this.tenantKeys(tenant)
    return await this.redis('list', async () => {
      const items: Array<{ s: SessionRecord, seq: number }> = []
      // rounds of at most limit + 1 ids; ids of expired sessions met on the way leave the sets, so a
      // further round only happens when the first one met some
      for (;;) {
        const want = limit + 1 - items.length
        const r = await this.client.zrange(index, `(${after}`, '+inf', 'BYSCORE', 'LIMIT', 0, want, 'WITHSCORES')
        const ids = r.filter((_, i) => i % 2 === 0)
        if (ids.length === 0) break
        // one GET per session (each in its own slot on a cluster), sent together
        const values = await Promise.all(ids.map(async (id) => await this.client.get(this.sessionKey(id))))
        const gone = ids.filter((_, i) => values[i] === null)
        if (gone.length > 0) await this.unindex(tenant, gone)
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
    return await this.redis('count', async () => Number(await this.run(COUNT, this.tenantKeys(tenant), [Date.now()])))
  }

  async deleteSession (tenant: string, id: string): Promise<SessionRecord | undefined> {
    const r = await this.redis('delete', async () => {
      const r = await this.run(DELETE_SESSION, this.sessionKeys(id), [tenant, this.sessionChannel])
      // the session before its index entries (header comment)
      if (typeof r === 'string') await this.unindex(tenant, [id])
      return r
    })
    if (r === 0 && this.seen.has(id)) this.ended(JSON.stringify(this.seen.get(id)))
    if (typeof r !== 'string') return undefined // gone (another replica deleted it first) or another tenant's
    this.ended(r)
    return JSON.parse(r) as SessionRecord
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

  /**
   * One page of a session's ordered records: ids from the order set after the cursor's score, their
   * fields from the hash. The hash and the set change together (one script, one slot), so every id
   * has its record.
   */
  private async pageRecords<T> (what: string, order: string, req: PageRequest, read: (ids: string[]) => Promise<T[]>): Promise<Page<T>> {
    const limit = pageLimit(req)
    const after = req.cursor !== undefined ? decodeCursor(req.cursor, ['int'])[0] as number : -1
    return await this.redis(what, async () => {
      const r = await this.client.zrange(order, `(${after}`, '+inf', 'BYSCORE', 'LIMIT', 0, limit + 1, 'WITHSCORES')
      const ids = r.filter((_, i) => i % 2 === 0)
      if (ids.length === 0) return { items: [], nextCursor: null }
      const more = ids.length > limit
      return { items: await read(ids.slice(0, limit)), nextCursor: more ? encodeCursor([Number(r[2 * limit - 1])]) : null }
    })
  }

  async pageModules (sessionId: string, req: PageRequest): Promise<Page<ModuleRecord>> {
    return await this.pageRecords('list modules', this.orderKey(sessionId), req, async (ids) => {
      const values = await this.client.hmget(this.modulesKey(sessionId), ...ids)
      return values.filter((v): v is string => v !== null).map((v) => JSON.parse(v) as ModuleRecord)
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

  async putMaterialization (record: MaterializationRecord): Promise<boolean> {
    const id = record.sessionId
    const args = [record.id, record.createdAt, JSON.stringify(record), record.status, ...(record.error !== undefined ? [record.error] : [])]
    return await this.redis('put materialization', async () =>
      await this.run(PUT_MATERIALIZATION, [this.sessionKey(id), this.materializationsKey(id), this.materializationOrderKey(id)], args) === 1)
  }

  async getMaterialization (sessionId: string, id: string): Promise<MaterializationRecord | undefined> {
    const [r, s, e] = await this.redis('get materialization', async () => await this.client.hmget(this.materializationsKey(sessionId), ...recordFields(id)))
    return r != null && s != null ? materialization(r, s, e ?? null) : undefined
  }

  async pageMaterializations (sessionId: string, req: PageRequest): Promise<Page<MaterializationRecord>> {
    return await this.pageRecords('list materializations', this.materializationOrderKey(sessionId), req, async (ids) => {
      const v = await this.client.hmget(this.materializationsKey(sessionId), ...ids.flatMap(recordFields))
      const out: MaterializationRecord[] = []
      for (let i = 0; i < v.length; i += 3) {
        const [r, s, e] = [v[i], v[i + 1], v[i + 2]]
        if (r != null && s != null) out.push(materialization(r, s, e ?? null))
      }
      return out
    })
  }

  async countMaterializations (sessionId: string): Promise<number> {
    return await this.redis('count materializations', async () => await this.client.zcard(this.materializationOrderKey(sessionId)))
  }

  async setMaterializationStatus (sessionId: string, id: string, from: MaterializationRecordStatus,
    next: { status: MaterializationRecordStatus, error?: string }): Promise<{ record: MaterializationRecord, changed: boolean } | undefined> {
    const args = [id, from, next.status, ...(next.error !== undefined ? [next.error] : [])]
    const r = await this.redis('set materialization status', async () => await this.run(SET_STATUS, [this.materializationsKey(sessionId)], args))
    if (!Array.isArray(r)) return undefined
    const [changed, json, status, error] = r as [number, string, string, string | null]
    return { record: materialization(json, status, error), changed: changed === 1 }
  }

  async deleteMaterialization (sessionId: string, id: string): Promise<MaterializationRecord | undefined> {
    const message = JSON.stringify({ sessionId, id, from: this.self })
    const r = await this.redis('delete materialization', async () => await this.run(DELETE_MATERIALIZATION,
      [this.materializationsKey(sessionId), this.materializationOrderKey(sessionId)], [id, this.materializationChannel, message]))
    if (!Array.isArray(r)) return undefined
    const [json, status, error] = r as [string, string, string | null]
    // this replica's listeners run now; its own message, when it comes back, is skipped
    for (const l of this.materializationListeners) l({ sessionId, id })
    return materialization(json, status, error)
  }

  onMaterializationEnd (listener: MaterializationEndListener): void { this.materializationListeners.push(listener) }

  async heartbeat (replica: string, ttlMs: number): Promise<void> {
    await this.redis('heartbeat', async () => { await this.client.set(this.replicaKey(replica), '1', 'PX', ttlMs) })
  }

  async isReplicaAlive (replica: string): Promise<boolean> {
    return await this.redis('replica liveness', async () => await this.client.exists(this.replicaKey(replica)) === 1)
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

  /** Sessions this replica has seen that Redis no longer has: expired (or deleted while a message was lost). */
  private async sweep (): Promise<void> {
    if (this.seen.size === 0) return
    const ids = [...this.seen.keys()]
    // one EXISTS per session (each in its own slot on a cluster), sent together
    const results = await Promise.allSettled(ids.map(async (id) => await this.client.exists(this.sessionKey(id))))
    ids.forEach((id, i) => {
      const r = results[i]
      if (r?.status === 'fulfilled' && r.value === 0) this.ended(JSON.stringify(this.seen.get(id)))
    })
  }

  /** Fires the listeners once per session this replica has seen. */
  private ended (message: string): void {
    let s: SessionRecord
    try { s = JSON.parse(message) as SessionRecord } catch { return }
    if (typeof s?.id !== 'string' || !this.seen.delete(s.id)) return
    for (const l of this.listeners) l({ ...s })
  }

  /** Fires the listeners for a materialization another replica deleted. */
  private materializationEnded (message: string): void {
    let m: { sessionId?: unknown, id?: unknown, from?: unknown }
    try { m = JSON.parse(message) as typeof m } catch { return }
    if (typeof m?.sessionId !== 'string' || typeof m.id !== 'string' || m.from === this.self) return
    for (const l of this.materializationListeners) l({ sessionId: m.sessionId, id: m.id })
  }
}
