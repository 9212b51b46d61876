// The session store contract. The in-memory store implements it now; a Redis store (several
// replicas) implements the same interface. Records are plain JSON so any store can hold them.
import { randomBytes } from 'node:crypto'

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
  createSession (tenant: string, ttlSeconds: number): Promise<SessionRecord>
  /** Returns the live session and extends its TTL (sliding), or undefined (unknown, expired, other tenant). */
  touchSession (tenant: string, id: string): Promise<SessionRecord | undefined>
  listSessions (tenant: string): Promise<SessionRecord[]>
  deleteSession (tenant: string, id: string): Promise<SessionRecord | undefined>
  putModule (sessionId: string, module: ModuleRecord): Promise<void>
  getModule (sessionId: string, moduleId: string): Promise<ModuleRecord | undefined>
  listModules (sessionId: string): Promise<ModuleRecord[]>
  countModules (sessionId: string): Promise<number>
  deleteModule (sessionId: string, moduleId: string): Promise<boolean>
  /** Called once for each session that expires or is deleted, so owners of its memory free it. */
  onSessionEnd (listener: ExpiryListener): void
  ping (): Promise<void>
  close (): Promise<void>
}

/** Opaque, unguessable handle with a type prefix: 144 random bits, base64url. */
export function newHandle (prefix: 'ses' | 'mod' | 'mat'): string {
  return `${prefix}_${randomBytes(18).toString('base64url')}`
}
