// A persisted checkpoint (docs/data-dir.md): the materialization's own safetensors file, whose data
// section is its arena's bytes [0, layout.dataSize). Written once its fill is complete; read by any
// replica through FileArena, which serves arena bytes from the file in bounded chunks and makes the
// non-persistent buffers after the data section (not in the file) from their constructor values.
import { createHash } from 'node:crypto'
import { open, type FileHandle } from 'node:fs/promises'
import { materiaError } from '../errors.js'
import type { Arena, ArenaBytes } from './arena.js'
import type { MemoryBudget } from './budget.js'
import { constantFills, type ArenaPlan } from './plan.js'
import { produceRange } from './fill-range.js'
import type { Fill } from './fill.js'
import { FILE_CHUNK_BYTES, type PersistedFile } from './data-dir.js'

/** Bytes a FileArena read holds at once: one chunk being read, one in the stream's buffer, one in the socket's queue. */
const READ_CHUNK_BYTES = 1 << 20
const READ_HELD_BYTES = 3 * READ_CHUNK_BYTES

/** The bytes of a materialization's persisted file: its header, then its arena's data section, in views of at most FILE_CHUNK_BYTES. */
export function * persistedPieces (plan: ArenaPlan, arena: Arena): Generator<Uint8Array> {
  yield plan.layout.header
  yield * arena.views(0, plan.layout.dataSize, FILE_CHUNK_BYTES)
}

/** The fill of the arena bytes a persisted file leaves out: the non-persistent buffers' constructor values. */
function tailFill (plan: ArenaPlan): Fill {
  return { constants: constantFills(plan, 'empty').filter((f) => f.offset >= plan.layout.dataSize) }
}

/**
 * Checks a persisted file against its record before it is served: its size, its header (exactly
 * the one the module's plan gives) and its sha256, read in chunks of FILE_CHUNK_BYTES. A missing
 * file or one that differs is a 500 MATERIA_ERR_CHECKPOINT_FILE naming what differs.
 */
export async function verifyPersisted (path: string, plan: ArenaPlan, file: PersistedFile): Promise<void> {
  let fh: FileHandle
  try {
    fh = await open(path, 'r')
  } catch (err) {
    throw materiaError('checkpointFileMissing', { name: file.name, reason: (err as NodeJS.ErrnoException).code ?? (err as Error).message })
  }
  try {
    const mismatch = (what: string): Error => materiaError('checkpointFileMismatch', { name: file.name, what })
    const { size } = await fh.stat()
    if (size !== file.bytes || size !== plan.layout.totalSize) throw mismatch(`it is ${size} bytes long, its record says ${file.bytes} and the module's file is ${plan.layout.totalSize}`)
    const hash = createHash('sha256')
    const chunk = Buffer.allocUnsafe(Math.min(FILE_CHUNK_BYTES, Math.max(1, size)))
    for (let at = 0; at < size;) {
      const { bytesRead } = await fh.read(chunk, 0, Math.min(chunk.length, size - at), at)
      if (bytesRead === 0) throw mismatch(`it ended after ${at} bytes`)
      const piece = chunk.subarray(0, bytesRead)
      if (at < plan.layout.dataOffset) {
        const end = Math.min(plan.layout.dataOffset, at + bytesRead)
        if (!piece.subarray(0, end - at).equals(plan.layout.header.subarray(at, end))) throw mismatch('its header is not the module\'s')
      }
      hash.update(piece)
      at += bytesRead
    }
    const sha256 = hash.digest('hex')
    if (sha256 !== file.sha256) throw mismatch(`its sha256 is ${sha256}, its record says ${file.sha256}`)
  } finally {
    await fh.close().catch(() => {})
  }
}

/** An arena whose bytes are read from a persisted file as they are served; it holds no memory between reads. */
export class FileArena implements ArenaBytes {
  readonly size: number
  private readonly tail: Fill

  constructor (readonly path: string, private readonly plan: ArenaPlan, private readonly budget: MemoryBudget) {
    this.size = plan.arenaSize
    this.tail = tailFill(plan)
  }

  /** Reserves one read's chunks against the budget (a 507 when they do not fit), until the response closes. */
  pin (): () => void {
    return this.budget.hold(READ_HELD_BYTES)
  }

  /** Arena bytes [start, end) in chunks of at most 1 MiB, each read from the file when the reader asks for it. */
  async * read (start: number, end: number): AsyncGenerator<Buffer> {
    const { dataSize, dataOffset } = this.plan.layout
    let fh: FileHandle | undefined
    try {
      for (let at = start; at < end;) {
        const n = Math.min(READ_CHUNK_BYTES, end - at, at < dataSize ? dataSize - at : Infinity)
        const chunk = Buffer.allocUnsafe(n)
        if (at < dataSize) {
          if (fh === undefined) {
            try {
              fh = await open(this.path, 'r')
            } catch (err) {
              throw materiaError('checkpointFileMissing', { name: this.path, reason: (err as NodeJS.ErrnoException).code ?? (err as Error).message })
            }
          }
          let got = 0
          while (got < n) {
            const { bytesRead } = await fh.read(chunk, got, n - got, dataOffset + at + got)
            if (bytesRead === 0) throw materiaError('checkpointFileMismatch', { name: this.path, what: `it ended before byte ${dataOffset + at + got}` })
            got += bytesRead
          }
        } else {
          produceRange(this.tail, at, chunk)
        }
        yield chunk
        at += n
      }
    } finally {
      await fh?.close().catch(() => {})
    }
  }
}
