// The data directory (MATERIA_DATA_DIR): persisted checkpoints as safetensors files, shared by every
// replica that mounts it (docs/data-dir.md). One directory per session, one file per materialization:
//
//   <dir>/<sessionId>/<materializationId>.<bytes>.safetensors   a persisted checkpoint
//   <dir>/<sessionId>/<materializationId>.<bytes>.tmp           one being written (its reservation)
//
// Sizes are in the names, so the disk budget (MATERIA_DATA_BUDGET) is summed from directory listings
// alone, and a session's or materialization's files are found from its ids. A reservation is its
// temporary file, created before any byte is written and counted by every replica from then on.
import { constants } from 'node:fs'
import { mkdir, open, readdir, rename, rm, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { createHash } from 'node:crypto'
import { materiaError } from '../errors.js'
import { gib } from './budget.js'

/** A session or materialization handle as a path component (session-store.ts newHandle): never `.`, `/` or `..`. */
const HANDLE = /^[A-Za-z0-9_-]{1,100}$/
const FILE = /^([A-Za-z0-9_-]{1,100})\.(\d{1,16})\.(safetensors|tmp)$/

/** The persisted file of a materialization, as its record keeps it. */
export interface PersistedFile {
  /** its name in the session's directory */
  name: string
  bytes: number
  /** hex */
  sha256: string
}

export interface DataDirOptions {
  /** a temporary file untouched this long was left by a replica that died mid-upload */
  staleTempMs?: number
  /** a final file younger than this is never taken for an orphan (its record may be on its way) */
  graceMs?: number
  /** files examined by one sweep at most */
  sweepBatch?: number
  /** how often a writer marks its temporary file as alive */
  touchMs?: number
}

interface ParsedName { id: string, bytes: number, temp: boolean }

function parseName (name: string): ParsedName | undefined {
  const m = FILE.exec(name)
  if (m === null) return undefined
  return { id: m[1] as string, bytes: Number(m[2]), temp: m[3] === 'tmp' }
}

function checkHandle (h: string): string {
  if (!HANDLE.test(h)) throw new Error(`internal: ${JSON.stringify(h)} is not a handle`)
  return h
}

const missing = (err: unknown): boolean => (err as NodeJS.ErrnoException).code === 'ENOENT'

/** Bytes written per write call and hashed per update: bounded memory, few syscalls. */
export const FILE_CHUNK_BYTES = 4 << 20

export class DataDir {
  readonly root: string
  readonly staleTempMs: number
  readonly graceMs: number
  readonly sweepBatch: number
  private readonly touchMs: number
  /** temporary files this process is writing: never swept from under it */
  private readonly writing = new Set<string>()
  /** where the last sweep stopped (a session directory name), so successive sweeps cover all */
  private sweepAfter = ''

  constructor (dir: string, readonly budget: number, opts: DataDirOptions = {}) {
    this.root = resolve(dir)
    this.staleTempMs = opts.staleTempMs ?? 10 * 60_000
    this.graceMs = opts.graceMs ?? 5 * 60_000
    this.sweepBatch = opts.sweepBatch ?? 1000
    this.touchMs = opts.touchMs ?? Math.max(1000, Math.floor(this.staleTempMs / 4))
  }

  /** Creates the directory (and its parents) when it does not exist. */
  async init (): Promise<void> {
    await mkdir(this.root, { recursive: true })
  }

  sessionDir (sessionId: string): string { return join(this.root, checkHandle(sessionId)) }

  /** The path of a persisted file, from its record. */
  path (sessionId: string, name: string): string {
    if (parseName(name)?.temp !== false) throw new Error(`internal: ${JSON.stringify(name)} is not a persisted file name`)
    return join(this.sessionDir(sessionId), name)
  }

  /** Bytes every file of the directory holds or has reserved: one listing per session directory, no stat. */
  async used (): Promise<number> {
    let n = 0
    for (const s of await readdir(this.root)) {
      if (!HANDLE.test(s)) continue
      let names: string[]
      try { names = await readdir(join(this.root, s)) } catch { continue }
      for (const f of names) n += parseName(f)?.bytes ?? 0
    }
    return n
  }

  /**
   * Reserves `bytes` of the budget for materialization `id`: its temporary file is created first,
   * then the directory is summed, so of two replicas reserving at once neither can miss the other
   * (both may refuse; neither passes the budget). Full: a 507 with the figures, nothing left behind.
   */
  async reserve (sessionId: string, id: string, bytes: number): Promise<Reservation> {
    const dir = this.sessionDir(sessionId)
    if (bytes > this.budget) throw this.full(bytes, await this.used())
    await mkdir(dir, { recursive: true })
    const temp = join(dir, `${checkHandle(id)}.${bytes}.tmp`)
    const fh = await open(temp, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o644)
    this.writing.add(temp)
    const r = new Reservation(this, sessionId, id, bytes, temp, fh, this.touchMs, () => this.writing.delete(temp))
    try {
      const used = await this.used()
      if (used > this.budget) throw this.full(bytes, used - bytes)
    } catch (err) {
      await r.abandon()
      throw err
    }
    return r
  }

  private full (bytes: number, used: number): Error {
    return materiaError('dataBudget', { bytes, bytesGiB: gib(bytes), limit: this.budget, limitGiB: gib(this.budget), used, free: Math.max(0, this.budget - used) })
  }

  /** Removes the persisted file (and any temporary one) of a materialization; idempotent. */
  async remove (sessionId: string, id: string): Promise<void> {
    if (!HANDLE.test(sessionId) || !HANDLE.test(id)) return
    let names: string[]
    try { names = await readdir(this.sessionDir(sessionId)) } catch (err) { if (missing(err)) return; throw err }
    for (const f of names) {
      if (parseName(f)?.id !== id) continue
      await unlink(join(this.sessionDir(sessionId), f)).catch((err: unknown) => { if (!missing(err)) throw err })
    }
  }

  /** Removes every file of a session, with its directory; idempotent. */
  async removeSession (sessionId: string): Promise<void> {
    if (!HANDLE.test(sessionId)) return
    await rm(this.sessionDir(sessionId), { recursive: true, force: true })
  }

  /**
   * One bounded sweep: looks at up to `sweepBatch` files, in the session directories after where
   * the last sweep stopped, and removes temporary files untouched for `staleTempMs` (a replica died
   * mid-upload) and persisted files older than `graceMs` whose materialization `exists` no longer
   * knows (a deletion that no replica heard, a store that lost the session). Returns what it removed.
   */
  async sweep (exists: (sessionId: string, id: string) => Promise<boolean>, now = Date.now()): Promise<string[]> {
    const removed: string[] = []
    const sessions = (await readdir(this.root)).filter((s) => HANDLE.test(s)).sort()
    const start = sessions.findIndex((s) => s > this.sweepAfter)
    const order = start < 0 ? sessions : [...sessions.slice(start), ...sessions.slice(0, start)]
    let budget = this.sweepBatch
    for (const s of order) {
      if (budget <= 0) break
      this.sweepAfter = s
      const dir = join(this.root, s)
      let names: string[]
      try { names = await readdir(dir) } catch { continue }
      for (const f of names) {
        if (budget-- <= 0) break
        const parsed = parseName(f)
        const path = join(dir, f)
        if (parsed === undefined || this.writing.has(path)) continue
        let mtime: number
        try { mtime = (await stat(path)).mtimeMs } catch { continue }
        const orphan = parsed.temp
          ? now - mtime > this.staleTempMs
          : now - mtime > this.graceMs && !await exists(s, parsed.id).catch(() => true)
        if (!orphan) continue
        await unlink(path).then(() => { removed.push(`${s}/${f}`) }, () => {})
      }
      if (names.length === 0) {
        // an empty session directory is left by deletions and failed uploads (rmdir refuses one that
        // is no longer empty; one removed under a reserve() is made again by its next one)
        const { mtimeMs } = await stat(dir).catch(() => ({ mtimeMs: now }))
        if (now - mtimeMs > this.graceMs) await rmdir(dir).then(() => { removed.push(`${s}/`) }, () => {})
      }
    }
    if (budget > 0) this.sweepAfter = '' // went round: the next sweep starts from the first
    return removed
  }
}

/**
 * A reservation in the data directory: its temporary file, kept fresh while the upload lasts (so no
 * other replica's sweeper takes it for a crash's leftover), written and renamed by commit(), or
 * removed by abandon(). Either happens once.
 */
export class Reservation {
  private readonly touch: NodeJS.Timeout
  private settled = false

  constructor (private readonly dir: DataDir, readonly sessionId: string, readonly id: string, readonly bytes: number,
    private readonly temp: string, private readonly fh: FileHandle, touchMs: number, private readonly done: () => void) {
    this.touch = setInterval(() => {
      const now = new Date()
      void this.fh.utimes(now, now).catch(() => {})
    }, touchMs)
    this.touch.unref()
  }

  /**
   * Writes `pieces` (exactly `bytes` in all) to the temporary file while hashing them, fsyncs it,
   * renames it to its final name and fsyncs the directory: once this resolves, the file is complete
   * on disk under a name no reader could have seen half-written.
   */
  async commit (pieces: Iterable<Uint8Array>, signal: AbortSignal): Promise<PersistedFile> {
    if (this.settled) throw new Error('internal: reservation already settled')
    try {
      const hash = createHash('sha256')
      let at = 0
      for (const p of pieces) {
        if (signal.aborted) throw new Error('cancelled')
        hash.update(p)
        let off = 0
        while (off < p.length) {
          const { bytesWritten } = await this.fh.write(p, off, p.length - off, at)
          off += bytesWritten
          at += bytesWritten
        }
      }
      if (at !== this.bytes) throw new Error(`internal: wrote ${at} bytes of a ${this.bytes}-byte file`)
      await this.fh.sync()
      await this.close()
      const name = `${this.id}.${this.bytes}.safetensors`
      const dirPath = this.dir.sessionDir(this.sessionId)
      await rename(this.temp, join(dirPath, name))
      this.settled = true
      this.done()
      await syncDir(dirPath)
      return { name, bytes: this.bytes, sha256: hash.digest('hex') }
    } catch (err) {
      await this.abandon()
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC') throw materiaError('dataDirFull', { bytes: this.bytes, dir: this.dir.root })
      throw err
    }
  }

  /** Gives the reservation back: the temporary file is removed. Idempotent. */
  async abandon (): Promise<void> {
    if (this.settled) return
    this.settled = true
    await this.close()
    await unlink(this.temp).catch(() => {})
    this.done()
  }

  private closed = false
  private async close (): Promise<void> {
    clearInterval(this.touch)
    if (this.closed) return
    this.closed = true
    await this.fh.close().catch(() => {})
  }
}

/** fsync of a directory, so a rename in it survives a power cut (a no-op where directories cannot be opened for it). */
async function syncDir (path: string): Promise<void> {
  let fh: FileHandle | undefined
  try {
    fh = await open(path, constants.O_RDONLY)
    await fh.sync()
  } catch {
    // some filesystems (and platforms) refuse fsync on a directory: the rename stands either way
  } finally {
    await fh?.close().catch(() => {})
  }
}
