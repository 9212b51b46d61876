// The materializations this process holds: their arenas, fills, status and progress. A lazy
// materialization holds no arena: its bytes are generated as they are read (lazy-arena.ts), and
// only each read's buffers are reserved, while the read lasts. Memory is
// reserved against the budget before allocation and returned when a materialization is deleted,
// its module or session is deleted, or its session expires. Freed arenas go to the arena cache once
// no fill writes them and no response reads them; a recycled arena has its unwritten bytes zeroed.
import type { Piscina } from 'piscina'
import { materiaError } from '../errors.js'
import type { DType } from '../tensor/dtype.js'
import { Arena } from './arena.js'
import { LazyArena } from './lazy-arena.js'
import { ArenaCache } from './arena-cache.js'
import { collectGarbage } from './collect-garbage.js'
import { gib, MemoryBudget } from './budget.js'
import type { StreamedSource } from './checkpoint.js'
import { uncoveredZeros } from './constant-fill.js'
import { fillBytes, writtenSpans, type Fill } from './fill.js'
import { runFill } from './fill-runner.js'
import { FillControl } from './fill-task.js'
import type { ArenaPlan } from './plan.js'
import type { Device, InitKind, MaterializationInit, MaterializationStatus, OverrideFn, Rng } from '../schemas/vocabulary.js'

export interface MaterializationOptions {
  sessionId: string
  moduleId: string
  device: Device
  init: MaterializationInit
  /** init overrides in the order applied, pattern → { fn, ...arguments } (defaults filled in) */
  overrides?: Record<string, { fn: OverrideFn } & Record<string, string | number>>
  seed: number | null
  rng: Rng | null
  dtype: DType | null
  /** for init 'checkpoint': what load_state_dict reported, and how missing keys were filled */
  checkpoint?: { strict: boolean, missingKeys: string[], unexpectedKeys: string[], missingInit: InitKind }
  /** whose bytes these are, and how many that tenant may hold on this replica (docs/tenants.md) */
  tenant?: { id: string, maxResidentBytes: number }
  /** what determines the bytes (identity.ts), for reproducible inits: their ETags derive from it */
  identity?: string
  /** for init 'checkpoint': the uploaded file as persisted in the data directory (set before its fill ends) */
  file?: { name: string, bytes: number, sha256: string }
}

export interface Materialization extends MaterializationOptions {
  id: string
  createdAt: number
  /** creation order on this replica, unique and increasing (list cursors; createdAt repeats within a millisecond) */
  seq: number
  status: MaterializationStatus
  error?: string
  plan: ArenaPlan
  /** the resident arena, or the lazy one whose bytes are generated as they are read */
  arena: Arena | LazyArena
  /** whether the bytes are generated as they are read (no resident arena) */
  lazy: boolean
  /** bytes of memory it holds on this replica: the arena's, 0 when lazy */
  residentBytes: number
  bytesTotal: number
  bytesDone: () => number
  /** settles when the fill ends (ready, failed or cancelled) */
  done: Promise<void>
}

interface Entry {
  m: Materialization
  abort: AbortController
  released: boolean
  /** bytes reserved: the arena's memory, which a recycled buffer may make larger than the plan */
  capacity: number
  /** bytes counted against the tenant's quota: the plan's arena size (a larger recycled buffer is the replica's choice, not the tenant's) */
  tenantBytes: number
}

/** A recycled arena is used only when at most this share of it must be zeroed (else fresh memory, zero for free). */
const MAX_ZEROED_SHARE = 1 / 8

export class MaterializationRegistry {
  private readonly entries = new Map<string, Entry>()
  /** session id → ids of its materializations, in start order: a session's list is O(its own), not O(all) */
  private readonly bySession = new Map<string, Set<string>>()
  /** tenant id → bytes its materializations hold on this replica */
  private readonly tenantBytes = new Map<string, number>()
  private gcTimer: NodeJS.Timeout | undefined
  private lastSeq = 0
  private closed = false
  readonly budget: MemoryBudget
  readonly cache: ArenaCache

  constructor (memoryBudget: number, private readonly pool: Piscina | undefined, cacheBytes = 0) {
    this.cache = new ArenaCache(cacheBytes, () => { this.scheduleGc() })
    this.budget = new MemoryBudget(memoryBudget, this.cache)
  }

  get residentBytes (): number { return this.budget.used }
  get count (): number { return this.entries.size }

  /**
   * Reserves memory, allocates (or recycles) the arena and starts writing `fill` into it
   * (fill-runner.ts), the copies' bytes read from `source` as it streams in.
   */
  start (id: string, opts: MaterializationOptions, plan: ArenaPlan, fill: Fill, source?: StreamedSource): Materialization {
    // what a recycled arena would need zeroed; only worked out when the cache may hold one (a sort over every tensor)
    const zeros = this.cache.mayServe(plan.arenaSize) ? uncoveredZeros(plan.arenaSize, writtenSpans(fill)) : undefined
    const zeroBytes = zeros?.reduce((n, r) => n + r.nbytes, 0) ?? Infinity
    const recycled = zeroBytes <= plan.arenaSize * MAX_ZEROED_SHARE ? this.cache.take(plan.arenaSize) : undefined
    const capacity = recycled?.byteLength ?? plan.arenaSize
    const tenantBytes = opts.tenant !== undefined ? plan.arenaSize : 0
    try {
      // the replica's budget first (with the default quota, the budget, a full replica keeps its
      // MATERIA_ERR_MEMORY_BUDGET); then the tenant's quota, below the budget when the operator set one
      this.budget.reserve(capacity)
      try {
        this.reserveTenant(opts.tenant, tenantBytes)
      } catch (err) {
        this.budget.release(capacity)
        throw err
      }
    } catch (err) {
      if (recycled !== undefined) this.cache.put(recycled)
      throw err
    }
    let arena: Arena
    try {
      arena = new Arena(plan.arenaSize, recycled)
    } catch (err) {
      this.budget.release(capacity)
      this.releaseTenant(opts.tenant?.id, tenantBytes)
      throw materiaError('arenaAllocation', { bytes: plan.arenaSize, reason: (err as Error).message })
    }
    // a recycled arena holds an earlier materialization's bytes: clear what this one will not write
    const clear = recycled !== undefined ? zeros ?? [] : []
    const abort = new AbortController()
    const control = new FillControl()
    const bytesTotal = fillBytes(fill, clear)
    const m: Materialization = {
      ...opts,
      id,
      createdAt: Date.now(),
      seq: ++this.lastSeq,
      status: 'pending',
      plan,
      arena,
      lazy: false,
      residentBytes: plan.arenaSize,
      bytesTotal,
      bytesDone: () => Math.min(control.bytes, bytesTotal),
      done: Promise.resolve()
    }
    const entry: Entry = { m, abort, released: false, capacity, tenantBytes }
    this.entries.set(id, entry)
    this.indexSession(opts.sessionId, id)
    m.done = runFill(fill, arena.memory, { device: opts.device, pool: this.pool }, control, abort.signal, { clear, source }).then(() => {
      m.status = 'ready'
    }, (err: unknown) => {
      m.status = 'failed'
      m.error = abort.signal.aborted ? 'cancelled' : (err as Error).message
      this.release(entry)
    })
    return m
  }

  /**
   * A lazy materialization: ready at once, no arena and no reservation; each read of its bytes
   * reserves the chunks it holds in flight, until its response closes (lazy-arena.ts).
   */
  startLazy (id: string, opts: MaterializationOptions, plan: ArenaPlan, fill: Fill): Materialization {
    const m: Materialization = {
      ...opts,
      id,
      createdAt: Date.now(),
      seq: ++this.lastSeq,
      status: 'ready',
      plan,
      arena: new LazyArena(plan.arenaSize, fill, this.pool, this.budget),
      lazy: true,
      residentBytes: 0,
      bytesTotal: 0,
      bytesDone: () => 0,
      done: Promise.resolve()
    }
    this.entries.set(id, { m, abort: new AbortController(), released: false, capacity: 0, tenantBytes: 0 })
    this.indexSession(opts.sessionId, id)
    return m
  }

  get (sessionId: string, id: string): Materialization | undefined {
    const e = this.entries.get(id)
    return e !== undefined && e.m.sessionId === sessionId ? e.m : undefined
  }

  /** The session's materializations, in the order they were started. */
  list (sessionId: string): Materialization[] {
    const out: Materialization[] = []
    for (const id of this.bySession.get(sessionId) ?? []) {
      const e = this.entries.get(id)
      if (e !== undefined) out.push(e.m)
    }
    return out
  }

  private indexSession (sessionId: string, id: string): void {
    const ids = this.bySession.get(sessionId)
    if (ids !== undefined) ids.add(id)
    else this.bySession.set(sessionId, new Set([id]))
  }

  private unindexSession (sessionId: string, id: string): void {
    const ids = this.bySession.get(sessionId)
    if (ids?.delete(id) === true && ids.size === 0) this.bySession.delete(sessionId)
  }

  /** Cancels a running fill and frees the memory. Returns false when there is no such materialization. */
  delete (sessionId: string, id: string): boolean {
    const e = this.entries.get(id)
    if (e === undefined || e.m.sessionId !== sessionId) return false
    e.abort.abort()
    this.release(e)
    this.entries.delete(id)
    this.unindexSession(sessionId, id)
    return true
  }

  /** Deletes a session's materializations (those of one module when `moduleId` is given): O(own), by the session index. */
  deleteOfSession (sessionId: string, moduleId?: string): number {
    let n = 0
    for (const m of this.list(sessionId)) if ((moduleId === undefined || m.moduleId === moduleId) && this.delete(sessionId, m.id)) n++
    return n
  }

  deleteWhere (pred: (m: Materialization) => boolean): number {
    let n = 0
    for (const e of [...this.entries.values()]) if (pred(e.m) && this.delete(e.m.sessionId, e.m.id)) n++
    return n
  }

  /** Bytes the materializations of `tenant` hold on this replica. */
  residentBytesOfTenant (tenant: string): number {
    return this.tenantBytes.get(tenant) ?? 0
  }

  private reserveTenant (tenant: MaterializationOptions['tenant'], bytes: number): void {
    if (tenant === undefined) return
    const held = this.tenantBytes.get(tenant.id) ?? 0
    if (held + bytes > tenant.maxResidentBytes) {
      throw materiaError('tenantMemoryQuota', {
        bytes, bytesGiB: gib(bytes), held, max: tenant.maxResidentBytes, maxGiB: gib(tenant.maxResidentBytes), free: Math.max(0, tenant.maxResidentBytes - held)
      })
    }
    this.tenantBytes.set(tenant.id, held + bytes)
  }

  private releaseTenant (tenant: string | undefined, bytes: number): void {
    if (tenant === undefined || bytes === 0) return
    const left = (this.tenantBytes.get(tenant) ?? 0) - bytes
    if (left > 0) this.tenantBytes.set(tenant, left)
    else this.tenantBytes.delete(tenant)
  }

  residentBytesOf (sessionId: string): number {
    let n = 0
    for (const m of this.list(sessionId)) n += m.residentBytes
    return n
  }

  async close (): Promise<void> {
    this.closed = true
    this.deleteWhere(() => true)
    this.cache.close()
  }

  private release (e: Entry): void {
    if (e.released) return
    e.released = true
    const arena = e.m.arena
    ;(e.m as { arena: Arena | LazyArena | undefined }).arena = undefined
    // a lazy arena holds nothing of its own: each read gave back its reservation when its response closed
    if (!(arena instanceof Arena)) return
    // A response still reading the arena keeps its memory alive (views in a socket's queue): the
    // bytes stay counted, in the budget and the tenant's quota, until the last reader lets go.
    const giveBack = (): void => {
      this.budget.release(e.capacity)
      this.releaseTenant(e.m.tenant?.id, e.tenantBytes)
    }
    if (arena.pinned) void arena.whenUnpinned().then(giveBack)
    else giveBack()
    // Recycle only a completed fill's arena, once no response still reads it. A cancelled or failed
    // worker fill settles while pool threads may still finish a step in the memory: never reused.
    void e.m.done.then(async () => {
      if (e.m.status === 'ready') await arena.whenUnpinned()
    }).then(() => {
      if (e.m.status === 'ready' && !this.closed && this.cache.put(arena.memory)) return
      if (arena.size >= 1 << 20) this.scheduleGc()
    })
  }

  /** Lets V8 return dropped arena memory soon (debounced). */
  private scheduleGc (): void {
    if (collectGarbage === undefined || this.gcTimer !== undefined) return
    this.gcTimer = setTimeout(() => { this.gcTimer = undefined; collectGarbage?.() }, 50)
    this.gcTimer.unref()
  }
}
