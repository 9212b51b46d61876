// Opaque list cursors: base64url of a small JSON array holding the sort key of the last item a
// page returned. Callers treat them as opaque strings; anything that does not decode to the
// expected key shape is a 400 MATERIA_ERR_INVALID_CURSOR, never a 500 or a silently restarted walk.
import { materiaError } from '../errors.js'

export const DEFAULT_PAGE_LIMIT = 100
export const MAX_PAGE_LIMIT = 1000
/** Cursors we issue are well under 200 characters; longer input is refused before decoding. */
const MAX_CURSOR_LENGTH = 512

export interface PageRequest {
  /** items per page, 1..MAX_PAGE_LIMIT (default DEFAULT_PAGE_LIMIT) */
  limit?: number | undefined
  /** nextCursor of the previous page; absent for the first page */
  cursor?: string | undefined
}

export interface Page<T> {
  items: T[]
  /** null when this page is the last one */
  nextCursor: string | null
}

type KeyPart = 'int' | 'string'

export function encodeCursor (key: ReadonlyArray<number | string>): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url')
}

const bad = (reason: string): never => { throw materiaError('invalidCursor', { reason }) }

/** Decodes a cursor into a key of the given shape (non-negative safe integers and strings). */
export function decodeCursor (cursor: string, shape: readonly KeyPart[]): Array<number | string> {
  if (cursor.length === 0 || cursor.length > MAX_CURSOR_LENGTH) bad(`length ${cursor.length} (1 to ${MAX_CURSOR_LENGTH} characters)`)
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) bad('not base64url')
  let key: unknown
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    bad('not one this service issued')
  }
  if (!Array.isArray(key) || key.length !== shape.length) bad('not one this service issued')
  const parts = key as unknown[]
  shape.forEach((kind, i) => {
    const v = parts[i]
    const ok = kind === 'int' ? Number.isSafeInteger(v) && (v as number) >= 0 : typeof v === 'string' && v.length > 0 && v.length <= 128
    if (!ok) bad('not one this service issued')
  })
  return parts as Array<number | string>
}

/** The page size to use: the route's schema bounds it, the store clamps it again for direct callers. */
export function pageLimit (req: PageRequest): number {
  const n = req.limit ?? DEFAULT_PAGE_LIMIT
  return Math.min(MAX_PAGE_LIMIT, Math.max(1, Math.floor(n)))
}

/**
 * A page of an in-memory list kept in creation order (the registry's materializations of a
 * session). The cursor holds the last item's [seq, id], seq being a unique, increasing creation
 * number: the walk resumes after that item, or, when it was deleted meanwhile, at the first item
 * created after it (a timestamp would skip the items made in the same millisecond).
 */
export function pageInOrder<T> (items: readonly T[], req: PageRequest, key: (item: T) => { seq: number, id: string }): Page<T> {
  const limit = pageLimit(req)
  let start = 0
  if (req.cursor !== undefined) {
    const [seq, id] = decodeCursor(req.cursor, ['int', 'string']) as [number, string]
    const at = items.findIndex((item) => key(item).id === id)
    start = at >= 0 ? at + 1 : items.findIndex((item) => key(item).seq > seq)
    if (start < 0) start = items.length
  }
  const page = items.slice(start, start + limit)
  const last = page[page.length - 1]
  const more = start + limit < items.length && last !== undefined
  return { items: page, nextCursor: more ? encodeCursor([key(last).seq, key(last).id]) : null }
}
