// Heap bytes held by module records on this replica, by tenant and by session, against the
// tenant's maxModuleBytes and the replica's MATERIA_MODULE_BUDGET (docs/tenants.md). A module's
// bytes are held from before its tensor table is built until the module or its session ends.
import { materiaError } from '../errors.js'

interface Held { tenant: string, sessionId: string, bytes: number }

const mib = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MiB`

export class ModuleLedger {
  private readonly modules = new Map<string, Held>()
  private readonly bySession = new Map<string, Set<string>>()
  private readonly byTenant = new Map<string, number>()
  private held = 0

  constructor (readonly budget: number) {}

  /** Bytes the module records of every tenant hold on this replica. */
  get bytes (): number { return this.held }

  bytesOfTenant (tenant: string): number { return this.byTenant.get(tenant) ?? 0 }

  /** Holds `bytes` for module `id`, or throws 507 with the figures when the tenant or the replica is full. */
  reserve (id: string, sessionId: string, tenant: { id: string, maxModuleBytes: number }, bytes: number): void {
    const own = this.bytesOfTenant(tenant.id)
    if (own + bytes > tenant.maxModuleBytes) {
      throw materiaError('tenantModuleQuota', `The module's record needs ${bytes} bytes (${mib(bytes)}); this tenant's modules hold ${own} bytes ` +
        `of its ${tenant.maxModuleBytes}-byte quota (${mib(tenant.maxModuleBytes)}) on this replica, ${Math.max(0, tenant.maxModuleBytes - own)} free ` +
        '(MATERIA_TENANT_MAX_MODULE_BYTES or the tenant\'s maxModuleBytes); delete modules or sessions to make room')
    }
    if (this.held + bytes > this.budget) {
      throw materiaError('moduleBudget', `The module's record needs ${bytes} bytes (${mib(bytes)}); module records hold ${this.held} bytes ` +
        `of this replica's ${this.budget}-byte budget (${mib(this.budget)}), ${Math.max(0, this.budget - this.held)} free (MATERIA_MODULE_BUDGET)`)
    }
    this.modules.set(id, { tenant: tenant.id, sessionId, bytes })
    let ids = this.bySession.get(sessionId)
    if (ids === undefined) this.bySession.set(sessionId, ids = new Set())
    ids.add(id)
    this.byTenant.set(tenant.id, own + bytes)
    this.held += bytes
  }

  release (id: string): void {
    const h = this.modules.get(id)
    if (h === undefined) return
    this.modules.delete(id)
    const ids = this.bySession.get(h.sessionId)
    ids?.delete(id)
    if (ids?.size === 0) this.bySession.delete(h.sessionId)
    const left = (this.byTenant.get(h.tenant) ?? 0) - h.bytes
    if (left > 0) this.byTenant.set(h.tenant, left); else this.byTenant.delete(h.tenant)
    this.held -= h.bytes
  }

  releaseSession (sessionId: string): void {
    for (const id of [...this.bySession.get(sessionId) ?? []]) this.release(id)
  }
}
