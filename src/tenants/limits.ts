// What one tenant may hold and send. Every tenant has all six figures: its entry in
// MATERIA_TENANTS_FILE overrides the defaults from the environment (MATERIA_TENANT_MAX_SESSIONS,
// MATERIA_TENANT_MAX_RESIDENT_BYTES, MATERIA_SESSION_MAX_MODULES, MATERIA_MODULE_MAX_TENSORS,
// MATERIA_TENANT_MAX_MODULE_BYTES, MATERIA_RATE_LIMIT). Requests carry theirs as `request.limits` (src/plugins/auth.ts).

export interface TenantLimits {
  /** Live sessions the tenant may hold at once (on the shared store: across replicas). */
  maxSessions: number
  /** Bytes of materialized tensors the tenant's materializations may hold together on one replica. */
  maxResidentBytes: number
  /** Modules one session of the tenant may hold. */
  maxSessionModules: number
  /** Tensors (parameters and buffers) one module of the tenant may have. */
  maxModuleTensors: number
  /** Heap bytes the records of the tenant's modules may hold together on one replica. */
  maxModuleBytes: number
  /** Requests per minute to /v1 routes; 0 = not limited. */
  rateLimit: number
}

import type { Config } from '../config.js'

/** The limits of a tenant the tenants file says nothing about, from the environment. */
export function defaultLimits (config: Pick<Config, 'tenantMaxSessions' | 'tenantMaxResidentBytes' | 'sessionMaxModules' | 'moduleMaxTensors' | 'tenantMaxModuleBytes' | 'rateLimit'>): TenantLimits {
  return {
    maxSessions: config.tenantMaxSessions,
    maxResidentBytes: config.tenantMaxResidentBytes,
    maxSessionModules: config.sessionMaxModules,
    maxModuleTensors: config.moduleMaxTensors,
    maxModuleBytes: config.tenantMaxModuleBytes,
    rateLimit: config.rateLimit
  }
}

export const limitNames = ['maxSessions', 'maxResidentBytes', 'maxSessionModules', 'maxModuleTensors', 'maxModuleBytes', 'rateLimit'] as const satisfies ReadonlyArray<keyof TenantLimits>

/** `defaults` with the figures a tenant's entry gives replaced. */
export function mergeLimits (defaults: TenantLimits, given: Partial<TenantLimits> | undefined): TenantLimits {
  const out = { ...defaults }
  for (const n of limitNames) {
    const v = given?.[n]
    if (v !== undefined) out[n] = v
  }
  return out
}
