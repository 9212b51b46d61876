// The session store contract, implemented by MemorySessionStore (one replica) and RedisSessionStore
// (replicas share sessions through Redis). Records are plain JSON so any store can hold them.
import { randomBytes } from 'node:crypto'
import { errorMessages, formatMessage, MateriaError } from '../errors.js'
import type { Page, PageRequest } from './cursor.js'

export type { Page, PageRequest } from './cursor.js'

export interface SessionRecord {
  id: string
  tenant: string
  createdAt: number          // ms since epoch
  ttlSeconds: number
  expiresAt: number          // ms since epoch; slides forward on every use
}

export interface ModuleRecord {
  id: string
  sessionId: string
  createdAt: number
  /** the module as the API returns it (spec as given, tensor table, totals) */
  body: Record<string, unknown> & { class: string }
}

/** The status of a materialization, as every replica sees it (schemas/vocabulary.ts MaterializationStatus). */
export type MaterializationRecordStatus = 'pending' | 'ready' | 'failed'

/**
 * A materialization as the store keeps it, so that any replica can answer for it: what determines
 * its bytes, its status and its ETag. The bytes themselves stay with the replica that holds them
 * (`owner`); another replica serves reproducible ones lazily from `options`, and persisted
 * checkpoints from `file` in the shared data directory.
 */
export interface MaterializationRecord {
  id: string
  sessionId: string
  moduleId: string
  createdAt: number
  /** the replica that fills (or filled) it: while it is pending, that replica's liveness decides whether it still can finish */
  owner: string
  status: MaterializationRecordStatus
  error?: string
  /** the options it was started with, as JSON (device, init, overrides, seed, rng, dtype, checkpoint, identity) */
  options: Record<string, unknown>
  /** what its ETags derive from: its identity when its bytes are reproducible, else its id */
  etag: string
  lazy: boolean
  nbytes: number
  /** a checkpoint persisted in the data directory: file name, size and sha256 */
  file?: { name: string, bytes: number, sha256: string }
}

export type ExpiryListener = (session: SessionRecord) => void
/** Called on every replica once for each materialization deleted by any replica (not for those that end with their session). */
export type MaterializationEndListener = (m: { sessionId: string, id: string }) => void

export interface SessionStore {
  readonly kind: string
  /**
   * Live sessions this replica knows of, without a store call: every one (memory), or those it has
   * created or used and not seen end (Redis; the others belong to other replicas' counts).
   */
  readonly knownSessions: number
  createSession (tenant: string, ttlSeconds: number): Promise<SessionRecord>
  /** Returns the live session and extends its TTL (sliding), or undefined (unknown, expired, other tenant). */
  touchSession (tenant: string, id: string): Promise<SessionRecord | undefined>
  /** Every live session of the tenant, oldest first (walks the pages; prefer pageSessions). */
  listSessions (tenant: string): Promise<SessionRecord[]>
  /**
   * One page of the tenant's live sessions in creation order. The cursor is opaque and stable: a
   * session created during a walk lands after every existing one, so a walk returns each session
   * that lives throughout exactly once. A malformed cursor throws MATERIA_ERR_INVALID_CURSOR.
   */
  pageSessions (tenant: string, page: PageRequest): Promise<Page<SessionRecord>>
  /** Live sessions of the tenant, without listing them: O(1) (memory) or O(log n) (Redis), for quotas. */
  countSessions (tenant: string): Promise<number>
  deleteSession (tenant: string, id: string): Promise<SessionRecord | undefined>
  putModule (sessionId: string, module: ModuleRecord): Promise<void>
  getModule (sessionId: string, moduleId: string): Promise<ModuleRecord | undefined>
  /** Every module of the session in the order they were put (walks the pages; prefer pageModules). */
  listModules (sessionId: string): Promise<ModuleRecord[]>
  /** One page of the session's modules in the order they were put; cursor as for pageSessions. */
  pageModules (sessionId: string, page: PageRequest): Promise<Page<ModuleRecord>>
  countModules (sessionId: string): Promise<number>
  deleteModule (sessionId: string, moduleId: string): Promise<boolean>
  /**
   * Stores (or replaces) a materialization record; it lives as long as its session. Returns false
   * when the session is gone.
   */
  putMaterialization (record: MaterializationRecord): Promise<boolean>
  getMaterialization (sessionId: string, id: string): Promise<MaterializationRecord | undefined>
  /** One page of the session's materializations in the order they were first put; cursor as for pageSessions. */
  pageMaterializations (sessionId: string, page: PageRequest): Promise<Page<MaterializationRecord>>
  countMaterializations (sessionId: string): Promise<number>
  /**
   * Compare-and-set of the status: applies `next` (status and error; error removed when absent)
   * only when the stored status is `from`. Returns the record as stored afterwards and whether it
   * changed, or undefined when there is no such record.
   */
  setMaterializationStatus (sessionId: string, id: string, from: MaterializationRecordStatus,
    next: { status: MaterializationRecordStatus, error?: string }): Promise<{ record: MaterializationRecord, changed: boolean } | undefined>
  /** Deletes the record and tells every replica (onMaterializationEnd); the record as it was, or undefined. */
  deleteMaterialization (sessionId: string, id: string): Promise<MaterializationRecord | undefined>
  onMaterializationEnd (listener: MaterializationEndListener): void
  /** Marks `replica` alive for `ttlMs` (each replica calls it periodically). */
  heartbeat (replica: string, ttlMs: number): Promise<void>
  /** Whether `replica` has sent a heartbeat that has not run out. */
  isReplicaAlive (replica: string): Promise<boolean>
  /** Called once for each session that expires or is deleted, so owners of its memory free it. */
  onSessionEnd (listener: ExpiryListener): void
  ping (): Promise<void>
  close (): Promise<void>
}

/**
 * A store call that failed because the store's backend cannot be reached (MATERIA_ERR_NOT_READY):
 * nothing is wrong with the request, and the same call may succeed in a moment.
 */
export class StoreUnavailableError extends MateriaError {
  constructor (operation: string, reason: string) {
    const { error, template } = errorMessages.storeUnavailable
    super(error, formatMessage(template, { operation, reason }))
    this.name = 'StoreUnavailableError'
  }
}

/** Walks every page of a paged listing (each page a bounded call). */
export async function allPages<T> (page: (req: PageRequest) => Promise<Page<T>>): Promise<T[]> {
  const out: T[] = []
  let cursor: string | undefined
  for (;;) {
    const p = await page({ limit: 1000, cursor })
    out.push(...p.items)
    if (p.nextCursor === null) return out
    cursor = p.nextCursor
  }
}

/**
 * Opaque, unguessable handle with a type prefix: 24 characters of base64url from 144 random bits, with
 * `-` written as `_` (over 143 bits left), so `SESSION_ID/MATERIALIZATION_ID` is a repository id
 * huggingface_hub accepts: its validate_repo_id refuses a part that ends with `-` or holds `--` (docs/hub.md).
 */
export function newHandle (prefix: 'ses' | 'mod' | 'mat'): string {
  return `${prefix}_${randomBytes(18).toString('base64url').replaceAll('-', '_')}`
}
