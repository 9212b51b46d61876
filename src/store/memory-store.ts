// In-memory SessionStore for a single replica. Expiry is checked on every access and by a sweeper
// timer (unref'd), so an idle process still ends sessions and frees their memory on time.
// Listings are paged: each session and module carries a store-wide sequence number, and per-tenant
// maps kept in insertion (so sequence) order let a page start after its cursor's number.
import { decodeCursor, encodeCursor, pageLimit, type Page, type PageRequest } from './cursor.js'
import {
  allPages, newHandle, type ExpiryListener, type MaterializationEndListener, type MaterializationRecord, type MaterializationRecordStatus,
  type ModuleRecord, type SessionRecord, type SessionStore
} from './session-store.js'

interface StoredModule { module: ModuleRecord, seq: number }
interface StoredMaterialization { record: MaterializationRecord, seq: number }
interface Entry { session: SessionRecord, seq: number, modules: Map<string, StoredModule>, materializations: Map<string, StoredMaterialization> }

/** Records are copied in and out, as a store that serializes them would: a caller's later edits never reach the store. */
const copy = (r: MaterializationRecord): MaterializationRecord => structuredClone(r)

export interface MemoryStoreOptions {
  sweepIntervalMs?: number
  now?: () => number
}

/** Items of `entries` (in sequence order) after sequence `after`, at most `limit`, and the next cursor. */
function pageAfter<E extends { seq: number }, T> (entries: Iterable<E>, req: PageRequest, keep: (e: E) => T | undefined): Page<T> {
  const limit = pageLimit(req)
  const after = req.cursor !== undefined ? decodeCursor(req.cursor, ['int'])[0] as number : -1
  const items: T[] = []
  let last = -1
  for (const e of entries) {
    if (e.seq <= after) continue
    const item = keep(e)
    if (item === undefined) continue
    if (items.length === limit) return { items, nextCursor: encodeCursor([last]) }
    items.push(item)
    last = e.seq
  }
  return { items, nextCursor: null }
}

export class MemorySessionStore implements SessionStore {
  readonly kind = 'memory'
  private readonly sessions = new Map<string, Entry>()
  /** tenant → its sessions by id, in creation order */
  private readonly byTenant = new Map<string, Map<string, Entry>>()
  private seq = 0
  private readonly listeners: ExpiryListener[] = []
  private readonly materializationListeners: MaterializationEndListener[] = []
  /** replica → when its last heartbeat runs out (ms) */
  private readonly heartbeats = new Map<string, number>()
  private readonly timer: NodeJS.Timeout
  private readonly now: () => number

  constructor (opts: MemoryStoreOptions = {}) {
    this.now = opts.now ?? Date.now
    this.timer = setInterval(() => { this.sweep() }, opts.sweepIntervalMs ?? 1000)
    this.timer.unref()
  }

  get knownSessions (): number { return this.sessions.size }

  async createSession (tenant: string, ttlSeconds: number): Promise<SessionRecord> {
    const now = this.now()
    const session: SessionRecord = { id: newHandle('ses'), tenant, createdAt: now, ttlSeconds, expiresAt: now + ttlSeconds * 1000 }
    const e: Entry = { session, seq: ++this.seq, modules: new Map(), materializations: new Map() }
    this.sessions.set(session.id, e)
    const own = this.byTenant.get(tenant)
    if (own !== undefined) own.set(session.id, e)
    else this.byTenant.set(tenant, new Map([[session.id, e]]))
    return { ...session }
  }

  async touchSession (tenant: string, id: string): Promise<SessionRecord | undefined> {
    const e = this.live(id)
    if (e === undefined || e.session.tenant !== tenant) return undefined
    e.session.expiresAt = this.now() + e.session.ttlSeconds * 1000
    return { ...e.session }
  }

  async listSessions (tenant: string): Promise<SessionRecord[]> {
    return await allPages(async (req) => await this.pageSessions(tenant, req))
  }

  async pageSessions (tenant: string, req: PageRequest): Promise<Page<SessionRecord>> {
    const now = this.now()
    // an expired session met on the way is ended here (the map tolerates deletion while iterating)
    return pageAfter(this.byTenant.get(tenant)?.values() ?? [], req, (e) => {
      if (e.session.expiresAt > now) return { ...e.session }
      this.end(e)
      return undefined
    })
  }

  /** O(1); a session past its expiry leaves the count at the next access or sweep (sweepIntervalMs). */
  async countSessions (tenant: string): Promise<number> {
    return this.byTenant.get(tenant)?.size ?? 0
  }

  async deleteSession (tenant: string, id: string): Promise<SessionRecord | undefined> {
    const e = this.live(id)
    if (e === undefined || e.session.tenant !== tenant) return undefined
    this.end(e)
    return { ...e.session }
  }

  async putModule (sessionId: string, module: ModuleRecord): Promise<void> {
    const e = this.live(sessionId)
    if (e === undefined) return
    // a module put again keeps its place
    e.modules.set(module.id, { module, seq: e.modules.get(module.id)?.seq ?? ++this.seq })
  }

  async getModule (sessionId: string, moduleId: string): Promise<ModuleRecord | undefined> {
    return this.live(sessionId)?.modules.get(moduleId)?.module
  }

  async listModules (sessionId: string): Promise<ModuleRecord[]> {
    return await allPages(async (req) => await this.pageModules(sessionId, req))
  }

  async pageModules (sessionId: string, req: PageRequest): Promise<Page<ModuleRecord>> {
    return pageAfter(this.live(sessionId)?.modules.values() ?? [], req, (m) => m.module)
  }

  async countModules (sessionId: string): Promise<number> {
    return this.live(sessionId)?.modules.size ?? 0
  }

  async deleteModule (sessionId: string, moduleId: string): Promise<boolean> {
    return this.live(sessionId)?.modules.delete(moduleId) ?? false
  }

  async putMaterialization (record: MaterializationRecord): Promise<boolean> {
    const e = this.live(record.sessionId)
    if (e === undefined) return false
    e.materializations.set(record.id, { record: copy(record), seq: e.materializations.get(record.id)?.seq ?? ++this.seq })
    return true
  }

  async getMaterialization (sessionId: string, id: string): Promise<MaterializationRecord | undefined> {
    const r = this.live(sessionId)?.materializations.get(id)?.record
    return r !== undefined ? copy(r) : undefined
  }

  async pageMaterializations (sessionId: string, req: PageRequest): Promise<Page<MaterializationRecord>> {
    return pageAfter(this.live(sessionId)?.materializations.values() ?? [], req, (m) => copy(m.record))
  }

  async countMaterializations (sessionId: string): Promise<number> {
    return this.live(sessionId)?.materializations.size ?? 0
  }

  async setMaterializationStatus (sessionId: string, id: string, from: MaterializationRecordStatus,
    next: { status: MaterializationRecordStatus, error?: string }): Promise<{ record: MaterializationRecord, changed: boolean } | undefined> {
    const stored = this.live(sessionId)?.materializations.get(id)
    if (stored === undefined) return undefined
    const changed = stored.record.status === from
    if (changed) {
      const { error: _old, ...rest } = stored.record
      stored.record = { ...rest, status: next.status, ...(next.error !== undefined ? { error: next.error } : {}) }
    }
    return { record: copy(stored.record), changed }
  }

  async deleteMaterialization (sessionId: string, id: string): Promise<MaterializationRecord | undefined> {
    const e = this.live(sessionId)
    const stored = e?.materializations.get(id)
    if (e === undefined || stored === undefined) return undefined
    e.materializations.delete(id)
    for (const l of this.materializationListeners) l({ sessionId, id })
    return copy(stored.record)
  }

  onMaterializationEnd (listener: MaterializationEndListener): void { this.materializationListeners.push(listener) }

  async heartbeat (replica: string, ttlMs: number): Promise<void> {
    this.heartbeats.set(replica, this.now() + ttlMs)
  }

  async isReplicaAlive (replica: string): Promise<boolean> {
    return (this.heartbeats.get(replica) ?? 0) > this.now()
  }

  onSessionEnd (listener: ExpiryListener): void { this.listeners.push(listener) }

  async ping (): Promise<void> {}

  async close (): Promise<void> {
    clearInterval(this.timer)
    for (const e of [...this.sessions.values()]) this.end(e)
  }

  private live (id: string): Entry | undefined {
    const e = this.sessions.get(id)
    if (e === undefined) return undefined
    if (e.session.expiresAt <= this.now()) {
      this.end(e)
      return undefined
    }
    return e
  }

  private sweep (): void {
    const now = this.now()
    for (const e of [...this.sessions.values()]) if (e.session.expiresAt <= now) this.end(e)
  }

  private end (e: Entry): void {
    if (!this.sessions.delete(e.session.id)) return
    const own = this.byTenant.get(e.session.tenant)
    if (own?.delete(e.session.id) === true && own.size === 0) this.byTenant.delete(e.session.tenant)
    for (const l of this.listeners) l({ ...e.session })
  }
}
