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

export type ExpiryListener = (session: SessionRecord) => void

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
