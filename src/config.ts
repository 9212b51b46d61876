// Configuration from the environment: one table of variables, each with its default, parser and doc.
// Parsed once at boot; a bad value stops the process with a message naming the variable.
import { availableParallelism, totalmem } from 'node:os'
import { getHeapStatistics } from 'node:v8'
import { createHash } from 'node:crypto'
import { resolve } from 'node:path'
import { readTenantsFile, TenantsFileError, type TenantSpec } from './tenants/tenants.js'
import { isRedisUrl, parseRedisNodes, type RedisNode } from './store/redis-client.js'

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
export type StoreKind = 'memory' | 'redis'

export interface Config {
  host: string
  port: number
  logLevel: LogLevel
  store: StoreKind
  redisUrl: string
  /** seed nodes of a Redis Cluster (REDIS_CLUSTER_NODES); empty: REDIS_URL says which Redis */
  redisClusterNodes: RedisNode[]
  redisPrefix: string
  apiKeys: string[]
  memoryBudget: number
  arenaCache: number
  sessionTtl: number
  maxSessionTtl: number
  workers: number
  bodyLimit: number
  shutdownTimeout: number
  /** milliseconds a byte response may make no progress before its socket is closed (0: never) */
  sendTimeout: number
  /** milliseconds an upload body may send nothing before it is answered 408 (0: never) */
  receiveTimeout: number
  /** where uploaded checkpoints are persisted (docs/data-dir.md), resolved against the working directory */
  dataDir: string
  /** bytes the files of the data directory may take together, across every replica that shares it */
  dataBudget: number
  tenantsFile: string
  tenantMaxSessions: number
  tenantMaxResidentBytes: number
  sessionMaxModules: number
  moduleMaxTensors: number
  tenantMaxModuleBytes: number
  moduleBudget: number
  rateLimit: number
  maxEventLoopDelay: number
  maxHeapBytes: number
  maxRssBytes: number
  /** the tenants of MATERIA_TENANTS_FILE, validated (empty without one) */
  tenants: TenantSpec[]
}

export class ConfigError extends Error {
  constructor (readonly variable: string, value: string, expected: string) {
    super(`Invalid ${variable}=${JSON.stringify(value)}: expected ${expected}`)
    this.name = 'ConfigError'
  }
}

const sizeUnits: Record<string, number> = {
  '': 1, b: 1, k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, t: 1e12, tb: 1e12, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40
}

/** Parses "8589934592", "8GiB", "512 MB", "1.5g" into bytes. */
export function parseByteSize (text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text)
  if (m === null) return undefined
  const unit = sizeUnits[(m[2] ?? '').toLowerCase()]
  if (unit === undefined) return undefined
  const n = Math.floor(Number(m[1]) * unit)
  return Number.isSafeInteger(n) && n > 0 ? n : undefined
}

function parseIntIn (min: number, max: number) {
  return (text: string): number | undefined => {
    if (!/^\s*\d+\s*$/.test(text)) return undefined
    const n = Number(text)
    return n >= min && n <= max ? n : undefined
  }
}

const durationUnits: Record<string, number> = { '': 1, ms: 1, s: 1000, m: 60_000 }

/** Parses "30s", "200ms", "2m" or "30000" (milliseconds) into milliseconds within [0, max]. */
export function parseDuration (max: number) {
  return (text: string): number | undefined => {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/i.exec(text)
    if (m === null) return undefined
    const n = Math.round(Number(m[1]) * (durationUnits[(m[2] ?? '').toLowerCase()] ?? NaN))
    return Number.isSafeInteger(n) && n <= max ? n : undefined
  }
}

function oneOf<T extends string> (...values: T[]) {
  return (text: string): T | undefined => values.find((v) => v === text.trim().toLowerCase())
}

interface VarDef<K extends keyof Config> {
  key: K
  name: string
  expected: string
  doc: string
  default: (env: NodeJS.ProcessEnv) => string
  parse: (text: string) => Config[K] | undefined
}

function v<K extends keyof Config> (d: VarDef<K>): VarDef<K> { return d }

/** Every environment variable the service reads, in the order README and .env.example list them. */
/** Module records live on the V8 heap: a quarter of its limit leaves room for everything else. */
function defaultModuleBudget (): number {
  return Math.floor(getHeapStatistics().heap_size_limit / 4)
}

export const configVars = [
  v({ key: 'host', name: 'HOST', expected: 'an address to bind', doc: 'Address to listen on.', default: () => '0.0.0.0', parse: (t) => t.trim() === '' ? undefined : t.trim() }),
  v({ key: 'port', name: 'PORT', expected: 'an integer 0-65535', doc: 'TCP port to listen on.', default: () => '8080', parse: parseIntIn(0, 65535) }),
  v({ key: 'logLevel', name: 'LOG_LEVEL', expected: 'one of fatal, error, warn, info, debug, trace, silent', doc: 'pino log level. Logs are JSON lines; pretty-printed only when stdout is a terminal.', default: () => 'info', parse: oneOf<LogLevel>('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent') }),
  v({ key: 'store', name: 'MATERIA_STORE', expected: 'memory or redis', doc: 'Session store: `memory` (one replica) or `redis` (several replicas share sessions).', default: () => 'memory', parse: oneOf<StoreKind>('memory', 'redis') }),
  v({ key: 'redisUrl', name: 'REDIS_URL', expected: 'a redis:// or rediss:// URL, or redis+cluster://host:port,host:port', doc: 'Redis server used when MATERIA_STORE=redis; a Redis Cluster as redis+cluster://[user:password@]host:port,host:port (rediss+cluster:// for TLS), its seed nodes.', default: () => 'redis://127.0.0.1:6379', parse: (t) => isRedisUrl(t.trim()) ? t.trim() : undefined }),
  v({ key: 'redisClusterNodes', name: 'REDIS_CLUSTER_NODES', expected: 'comma-separated host:port seed nodes', doc: 'Seed nodes of a Redis Cluster for MATERIA_STORE=redis (host:port,host:port); the store then uses the cluster, with the user, password and TLS of REDIS_URL. Unset: REDIS_URL.', default: () => '', parse: parseRedisNodes }),
  // an empty hash tag ({}) would make Redis hash whole key names, and scatter one session's keys over the slots (docs/redis-store.md)
  v({ key: 'redisPrefix', name: 'MATERIA_REDIS_PREFIX', expected: 'a key prefix of 1-64 characters without spaces or "{}"', doc: 'Prefix of every Redis key and channel the store uses, so several deployments can share one Redis.', default: () => 'materia:', parse: (t) => /^\S{1,64}$/.test(t) && !t.includes('{}') ? t : undefined }),
  v({ key: 'apiKeys', name: 'MATERIA_API_KEYS', expected: 'comma-separated keys', doc: 'Comma-separated API keys accepted as `Authorization: Bearer <key>` or `x-api-key`. Unset: the API is open (a warning is logged).', default: () => '', parse: (t) => t.split(',').map((k) => k.trim()).filter((k) => k.length > 0) }),
  v({ key: 'memoryBudget', name: 'MATERIA_MEMORY_BUDGET', expected: 'a byte size such as 8589934592, 8GiB or 512MB', doc: 'Bytes of tensor memory all materializations may hold together (default: half of RAM).', default: () => String(Math.floor(totalmem() / 2)), parse: parseByteSize }),
  v({ key: 'arenaCache', name: 'MATERIA_ARENA_CACHE', expected: 'a byte size such as 2GiB, or 0 to disable', doc: 'Freed arena memory kept for up to 30 s to back the next materialization of about its size (its pages are already mapped: no first-touch page faults). Counted in the memory budget and given back when a reservation needs it.', default: () => '2GiB', parse: (t) => t.trim() === '0' ? 0 : parseByteSize(t) }),
  v({ key: 'sessionTtl', name: 'MATERIA_SESSION_TTL', expected: 'an integer number of seconds, 1-604800', doc: 'Default sliding session TTL in seconds; any use of a session extends it.', default: () => '3600', parse: parseIntIn(1, 604800) }),
  v({ key: 'maxSessionTtl', name: 'MATERIA_MAX_SESSION_TTL', expected: 'an integer number of seconds, 1-2592000', doc: 'Largest ttlSeconds a client may ask for.', default: () => '86400', parse: parseIntIn(1, 2592000) }),
  v({ key: 'workers', name: 'MATERIA_WORKERS', expected: 'an integer 1-256', doc: 'Worker threads in the fill pool (default: number of cores).', default: () => String(availableParallelism()), parse: parseIntIn(1, 256) }),
  v({ key: 'bodyLimit', name: 'MATERIA_BODY_LIMIT', expected: 'a byte size', doc: 'Largest JSON request body in bytes.', default: () => '1MiB', parse: parseByteSize }),
  v({ key: 'shutdownTimeout', name: 'MATERIA_SHUTDOWN_TIMEOUT', expected: 'an integer number of milliseconds, 0-600000', doc: 'How long a SIGTERM waits for in-flight requests before closing them.', default: () => '10000', parse: parseIntIn(0, 600000) }),
  v({ key: 'sendTimeout', name: 'MATERIA_SEND_TIMEOUT', expected: 'a duration such as 30s, 500ms or 30000 (milliseconds), at most 1h; 0: off', doc: 'How long a byte response (tensor, safetensors file, shard) may make no progress, the client reading nothing, before its connection is closed and the memory it pins is released.', default: () => '30s', parse: parseDuration(3_600_000) }),
  v({ key: 'receiveTimeout', name: 'MATERIA_RECEIVE_TIMEOUT', expected: 'a duration such as 30s, 500ms or 30000 (milliseconds), at most 1h; 0: off', doc: 'How long a checkpoint upload may send no byte before it is answered 408 MATERIA_ERR_REQUEST_TIMEOUT and its memory reservation is released.', default: () => '30s', parse: parseDuration(3_600_000) }),
  // persisted checkpoints (docs/data-dir.md)
  v({ key: 'dataDir', name: 'MATERIA_DATA_DIR', expected: 'a directory path', doc: 'Directory where uploaded checkpoints are persisted as safetensors files, created at start if missing (default: materia-data under the working directory). With several replicas, a volume every replica mounts read-write (Kubernetes ReadWriteMany, NFS, EFS): any replica then serves any checkpoint, and they survive restarts.', default: () => 'materia-data', parse: (t) => t.trim() === '' ? undefined : resolve(t.trim()) }),
  v({ key: 'dataBudget', name: 'MATERIA_DATA_BUDGET', expected: 'a byte size such as 107374182400, 100GiB or 500GB', doc: 'Bytes the persisted checkpoints may take together in MATERIA_DATA_DIR, counted across every replica sharing it; an upload that would pass it is a 507 MATERIA_ERR_DATA_BUDGET.', default: () => '100GiB', parse: parseByteSize }),
  // tenants and their limits (docs/tenants.md); a tenants-file entry overrides each default
  v({ key: 'tenantsFile', name: 'MATERIA_TENANTS_FILE', expected: 'a path to a JSON or YAML file', doc: 'Named tenants, each with SHA-256 digests of its keys and its own limits (format: docs/tenants.md). Checked at boot. Keys of MATERIA_API_KEYS are tenants too, with the default limits.', default: () => '', parse: (t) => t.trim() }),
  v({ key: 'tenantMaxSessions', name: 'MATERIA_TENANT_MAX_SESSIONS', expected: 'an integer 1-1000000', doc: 'Live sessions one tenant may hold; one more is a 429 MATERIA_ERR_TENANT_SESSION_QUOTA.', default: () => '1000', parse: parseIntIn(1, 1_000_000) }),
  v({ key: 'tenantMaxResidentBytes', name: 'MATERIA_TENANT_MAX_RESIDENT_BYTES', expected: 'a byte size such as 4GiB', doc: 'Bytes the materializations of one tenant may hold together on a replica (default: MATERIA_MEMORY_BUDGET, so one tenant may use it all); more is a 507 MATERIA_ERR_TENANT_MEMORY_QUOTA.', default: (env) => env.MATERIA_MEMORY_BUDGET !== undefined && env.MATERIA_MEMORY_BUDGET !== '' ? env.MATERIA_MEMORY_BUDGET : String(Math.floor(totalmem() / 2)), parse: parseByteSize }),
  v({ key: 'sessionMaxModules', name: 'MATERIA_SESSION_MAX_MODULES', expected: 'an integer 1-1000000', doc: 'Modules one session may hold.', default: () => '1000', parse: parseIntIn(1, 1_000_000) }),
  v({ key: 'moduleMaxTensors', name: 'MATERIA_MODULE_MAX_TENSORS', expected: 'an integer 1-1000000', doc: 'Tensors (parameters and buffers) one module may have; the largest public checkpoints have a few thousand.', default: () => '50000', parse: parseIntIn(1, 1_000_000) }),
  v({ key: 'moduleBudget', name: 'MATERIA_MODULE_BUDGET', expected: 'a byte size such as 1GiB', doc: 'Heap bytes the module records of all tenants may hold together on a replica (default: a quarter of the V8 heap limit); more is a 507 MATERIA_ERR_MODULE_BUDGET.', default: () => String(defaultModuleBudget()), parse: parseByteSize }),
  v({ key: 'tenantMaxModuleBytes', name: 'MATERIA_TENANT_MAX_MODULE_BYTES', expected: 'a byte size such as 256MiB', doc: 'Heap bytes the module records of one tenant may hold together on a replica (default: MATERIA_MODULE_BUDGET); more is a 507 MATERIA_ERR_TENANT_MODULE_QUOTA.', default: (env) => env.MATERIA_MODULE_BUDGET !== undefined && env.MATERIA_MODULE_BUDGET !== '' ? env.MATERIA_MODULE_BUDGET : String(defaultModuleBudget()), parse: parseByteSize }),
  v({ key: 'rateLimit', name: 'MATERIA_RATE_LIMIT', expected: 'an integer 0-1000000 (0: off)', doc: 'Requests per minute one tenant may send to /v1 routes (per client address when the API is open); shared by replicas when MATERIA_STORE=redis. More is a 429 MATERIA_ERR_RATE_LIMITED with Retry-After and RateLimit-* headers. 0 turns it off.', default: () => '1200', parse: parseIntIn(0, 1_000_000) }),
  // load shedding (503 MATERIA_ERR_OVERLOADED); 0 turns a threshold off
  v({ key: 'maxEventLoopDelay', name: 'MATERIA_MAX_EVENT_LOOP_DELAY', expected: 'an integer number of milliseconds, 0-60000 (0: off)', doc: 'Event-loop delay above which new /v1 requests are shed with 503 MATERIA_ERR_OVERLOADED.', default: () => '1000', parse: parseIntIn(0, 60_000) }),
  v({ key: 'maxHeapBytes', name: 'MATERIA_MAX_HEAP_BYTES', expected: 'a byte size, or 0 for off', doc: 'V8 heap used above which new /v1 requests are shed (default: 85% of the V8 heap limit, which --max-old-space-size sets).', default: () => String(Math.floor(getHeapStatistics().heap_size_limit * 0.85)), parse: (t) => t.trim() === '0' ? 0 : parseByteSize(t) }),
  v({ key: 'maxRssBytes', name: 'MATERIA_MAX_RSS_BYTES', expected: 'a byte size, or 0 for off', doc: 'Resident set size above which new /v1 requests are shed (default: 90% of RAM; tensor arenas count in RSS, so keep it above MATERIA_MEMORY_BUDGET plus the heap).', default: () => String(Math.floor(totalmem() * 0.9)), parse: (t) => t.trim() === '0' ? 0 : parseByteSize(t) })
] as const

/** Reads and validates the configuration; throws ConfigError naming the first bad variable. */
export function loadConfig (env: NodeJS.ProcessEnv = process.env): Config {
  const out: Partial<Record<keyof Config, unknown>> = {}
  for (const d of configVars) {
    const raw = env[d.name]
    const text = raw === undefined || raw === '' ? d.default(env) : raw
    const value = (d.parse as (t: string) => unknown)(text)
    if (value === undefined) throw new ConfigError(d.name, text, d.expected)
    out[d.key] = value
  }
  const config = out as Config
  config.tenants = []
  if (config.tenantsFile !== '') {
    try {
      config.tenants = readTenantsFile(config.tenantsFile)
    } catch (err) {
      if (err instanceof TenantsFileError) throw new ConfigError('MATERIA_TENANTS_FILE', config.tenantsFile, `a tenants file as docs/tenants.md describes: ${err.message}`)
      throw err
    }
    const digests = new Set(config.tenants.flatMap((t) => t.keyDigests))
    if (config.apiKeys.some((k) => digests.has(createHash('sha256').update(k).digest('hex')))) {
      // the value is a secret: never echoed
      throw new ConfigError('MATERIA_API_KEYS', '<redacted>', 'keys that are not also keys of a tenant in MATERIA_TENANTS_FILE')
    }
  }
  if (config.sessionTtl > config.maxSessionTtl) {
    throw new ConfigError('MATERIA_SESSION_TTL', String(config.sessionTtl), `at most MATERIA_MAX_SESSION_TTL (${config.maxSessionTtl})`)
  }
  return config
}
