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
      const quota = tenant.maxModuleBytes
      throw materiaError('tenantModuleQuota', { bytes, bytesMiB: mib(bytes), held: own, quota, quotaMiB: mib(quota), free: Math.max(0, quota - own) })
    }
    if (this.held + bytes > this.budget) {
      throw materiaError('moduleBudget', { bytes, bytesMiB: mib(bytes), held: this.held, budget: this.budget, budgetMiB: mib(this.budget), free: Math.max(0, this.budget - this.held) })
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
