// In-memory SessionStore for a single replica. Expiry is checked on every access and by a sweeper
// timer (unref'd), so an idle process still ends sessions and frees their memory on time.
import { newHandle, type ExpiryListener, type ModuleRecord, type SessionRecord, type SessionStore } from './session-store.js'

interface Entry { session: SessionRecord, modules: Map<string, ModuleRecord> }

export interface MemoryStoreOptions {
  sweepIntervalMs?: number
  now?: () => number
}

export class MemorySessionStore implements SessionStore {
  readonly kind = 'memory'
  private readonly sessions = new Map<string, Entry>()
  private readonly listeners: ExpiryListener[] = []
  private readonly timer: NodeJS.Timeout
  private readonly now: () => number

  constructor (opts: MemoryStoreOptions = {}) {
    this.now = opts.now ?? Date.now
    this.timer = setInterval(() => { this.sweep() }, opts.sweepIntervalMs ?? 1000)
    this.timer.unref()
  }

  async createSession (tenant: string, ttlSeconds: number): Promise<SessionRecord> {
    const now = this.now()
    const session: SessionRecord = { id: newHandle('ses'), tenant, createdAt: now, ttlSeconds, expiresAt: now + ttlSeconds * 1000 }
    this.sessions.set(session.id, { session, modules: new Map() })
    return { ...session }
  }

  async touchSession (tenant: string, id: string): Promise<SessionRecord | undefined> {
    const e = this.live(id)
    if (e === undefined || e.session.tenant !== tenant) return undefined
    e.session.expiresAt = this.now() + e.session.ttlSeconds * 1000
    return { ...e.session }
  }

  async listSessions (tenant: string): Promise<SessionRecord[]> {
    this.sweep()
    return [...this.sessions.values()].filter((e) => e.session.tenant === tenant).map((e) => ({ ...e.session }))
  }

  async deleteSession (tenant: string, id: string): Promise<SessionRecord | undefined> {
    const e = this.live(id)
    if (e === undefined || e.session.tenant !== tenant) return undefined
    this.end(e)
    return { ...e.session }
  }

  async putModule (sessionId: string, module: ModuleRecord): Promise<void> {
    this.live(sessionId)?.modules.set(module.id, module)
  }

  async getModule (sessionId: string, moduleId: string): Promise<ModuleRecord | undefined> {
    return this.live(sessionId)?.modules.get(moduleId)
  }

  async listModules (sessionId: string): Promise<ModuleRecord[]> {
    return [...(this.live(sessionId)?.modules.values() ?? [])]
  }

  async countModules (sessionId: string): Promise<number> {
    return this.live(sessionId)?.modules.size ?? 0
  }

  async deleteModule (sessionId: string, moduleId: string): Promise<boolean> {
    return this.live(sessionId)?.modules.delete(moduleId) ?? false
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
    for (const l of this.listeners) l({ ...e.session })
  }
}
