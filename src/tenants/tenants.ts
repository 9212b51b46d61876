// Who may call the API: named tenants from MATERIA_TENANTS_FILE (keys stored as SHA-256 digests,
// limits of their own) and the keys of MATERIA_API_KEYS (each one a tenant with the default limits).
// Format and examples: docs/tenants.md.
import { createHash, timingSafeEqual } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import { limitNames, mergeLimits, type TenantLimits } from './limits.js'
// config.ts reads the tenants file with readTenantsFile; parseByteSize is only called, never evaluated at import
import { parseByteSize } from '../config.js'

export interface TenantSpec {
  name: string
  /** SHA-256 digests of the tenant's keys, lowercase hex */
  keyDigests: string[]
  limits: Partial<TenantLimits>
}

export interface Tenant {
  /** what the store keys sessions by: the name, or for a MATERIA_API_KEYS key the first 8 bytes of its digest in hex */
  id: string
  name: string
  limits: TenantLimits
}

/** A tenants file that cannot be used; `message` says where and why. */
export class TenantsFileError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'TenantsFileError'
  }
}

const namePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
const hexDigest = /^(?:sha256:)?([0-9a-fA-F]{64})$/
// tenant ids of MATERIA_API_KEYS keys are 16 hex digits; a name must never be one of those (or the open API's)
const reservedName = /^(?:[0-9a-f]{16}|public)$/i
const maxTenants = 10_000
const maxKeysPerTenant = 100

// byte sizes may be written as in the environment ("8GiB"); other limits are plain integers
function byteSize (v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v > 0 ? v : undefined
  return typeof v === 'string' ? parseByteSize(v) : undefined
}

const limitParsers: Record<keyof TenantLimits, { expected: string, parse: (v: unknown) => number | undefined }> = {
  maxSessions: { expected: 'an integer 1-1000000', parse: (v) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 1_000_000 ? v as number : undefined },
  maxResidentBytes: { expected: 'a byte size such as 8589934592 or "8GiB"', parse: byteSize },
  maxSessionModules: { expected: 'an integer 1-1000000', parse: (v) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 1_000_000 ? v as number : undefined },
  maxModuleTensors: { expected: 'an integer 1-1000000', parse: (v) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 1_000_000 ? v as number : undefined },
  maxModuleBytes: { expected: 'a byte size such as 268435456 or "256MiB"', parse: byteSize },
  rateLimit: { expected: 'an integer 0-1000000 (requests per minute, 0: not limited)', parse: (v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 1_000_000 ? v as number : undefined }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

function unknownKeys (v: Record<string, unknown>, allowed: readonly string[], where: string): void {
  const extra = Object.keys(v).filter((k) => !allowed.includes(k))
  if (extra.length > 0) throw new TenantsFileError(`${where}: unknown field '${extra[0] ?? ''}' (expected ${allowed.join(', ')})`)
}

/** Validates a parsed tenants document: `{ tenants: [{ name, keys: [sha256 hex], limits? }] }`. */
export function tenantSpecs (doc: unknown): TenantSpec[] {
  if (!isRecord(doc)) throw new TenantsFileError('expected an object with a "tenants" list')
  unknownKeys(doc, ['tenants'], 'the file')
  const list = doc.tenants
  if (!Array.isArray(list)) throw new TenantsFileError('"tenants" must be a list')
  if (list.length > maxTenants) throw new TenantsFileError(`"tenants" lists ${list.length} tenants (at most ${maxTenants})`)
  const names = new Set<string>()
  const digests = new Map<string, string>()
  return list.map((t: unknown, i): TenantSpec => {
    const where = `tenants[${i}]`
    if (!isRecord(t)) throw new TenantsFileError(`${where}: expected an object with name, keys and limits`)
    unknownKeys(t, ['name', 'keys', 'limits'], where)
    const name = t.name
    if (typeof name !== 'string' || !namePattern.test(name)) throw new TenantsFileError(`${where}.name: expected 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`)
    if (reservedName.test(name)) throw new TenantsFileError(`${where}.name: '${name}' is reserved (16 hex digits name MATERIA_API_KEYS tenants; "public" is the open API)`)
    if (names.has(name.toLowerCase())) throw new TenantsFileError(`${where}.name: '${name}' names two tenants`)
    names.add(name.toLowerCase())
    const keys = t.keys
    if (!Array.isArray(keys) || keys.length === 0) throw new TenantsFileError(`${where}.keys: expected a non-empty list of SHA-256 hex digests`)
    if (keys.length > maxKeysPerTenant) throw new TenantsFileError(`${where}.keys: ${keys.length} keys (at most ${maxKeysPerTenant})`)
    const keyDigests = keys.map((k: unknown, j) => {
      const m = typeof k === 'string' ? hexDigest.exec(k.trim()) : null
      if (m?.[1] === undefined) throw new TenantsFileError(`${where}.keys[${j}]: expected a SHA-256 digest of the key, 64 hex digits (not the key itself: see docs/tenants.md)`)
      const d = m[1].toLowerCase()
      const other = digests.get(d)
      if (other !== undefined) throw new TenantsFileError(`${where}.keys[${j}]: the same key is also a key of '${other}'`)
      digests.set(d, name)
      return d
    })
    const limits: Partial<TenantLimits> = {}
    if (t.limits !== undefined) {
      if (!isRecord(t.limits)) throw new TenantsFileError(`${where}.limits: expected an object`)
      unknownKeys(t.limits, limitNames, `${where}.limits`)
      for (const n of limitNames) {
        const raw = t.limits[n]
        if (raw === undefined) continue
        const v = limitParsers[n].parse(raw)
        if (v === undefined) throw new TenantsFileError(`${where}.limits.${n}: expected ${limitParsers[n].expected}, got ${JSON.stringify(raw)}`)
        limits[n] = v
      }
    }
    return { name, keyDigests, limits }
  })
}

/** Reads and validates a tenants file, YAML or JSON (JSON is YAML; a .json file is parsed as JSON). */
export function readTenantsFile (path: string): TenantSpec[] {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new TenantsFileError(`cannot read it: ${(err as Error).message}`)
  }
  let doc: unknown
  try {
    doc = /\.json$/i.test(path) ? JSON.parse(text) : parseYaml(text, { maxAliasCount: 100 })
  } catch (err) {
    throw new TenantsFileError(`not valid ${/\.json$/i.test(path) ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0] ?? ''}`)
  }
  return tenantSpecs(doc)
}

export const sha256 = (key: string): Buffer => createHash('sha256').update(key).digest()

/** Every tenant and key the service accepts; `lookup` compares a presented key against all of them. */
export class TenantDirectory {
  private readonly keys: Array<{ digest: Buffer, tenant: Tenant }> = []
  readonly tenants: Tenant[] = []
  /** the tenant of every request when no key is configured */
  readonly open: Tenant

  constructor (apiKeys: readonly string[], specs: readonly TenantSpec[], readonly defaults: TenantLimits) {
    this.open = { id: 'public', name: 'public', limits: defaults }
    for (const spec of specs) {
      const tenant: Tenant = { id: spec.name, name: spec.name, limits: mergeLimits(defaults, spec.limits) }
      this.tenants.push(tenant)
      for (const d of spec.keyDigests) this.keys.push({ digest: Buffer.from(d, 'hex'), tenant })
    }
    for (const key of apiKeys) {
      const digest = sha256(key)
      if (this.keys.some((k) => k.digest.equals(digest))) throw new TenantsFileError('a key of MATERIA_API_KEYS is also a key of a tenant in the file')
      const id = digest.subarray(0, 8).toString('hex')
      const tenant: Tenant = { id, name: id, limits: defaults }
      this.tenants.push(tenant)
      this.keys.push({ digest, tenant })
    }
  }

  /** Whether the API is open (no key configured anywhere). */
  get isOpen (): boolean { return this.keys.length === 0 }

  /** The tenant of `key`, comparing against every digest in constant time, so timing says nothing about which one is close. */
  lookup (key: string): Tenant | undefined {
    const d = sha256(key)
    let found: Tenant | undefined
    for (const k of this.keys) if (timingSafeEqual(k.digest, d)) found = k.tenant
    return found
  }
}
