// The memory budget: bytes are reserved before any arena is allocated, returned when it is freed.
// Memory held for reuse (the arena cache) counts too, and is shed when a reservation needs it.
import { materiaError } from '../errors.js'

/** Bytes as GiB with two decimals, for the figures in 507 messages. */
export const gib = (n: number): string => `${(n / 2 ** 30).toFixed(2)} GiB`

/** Memory the process holds that it can give back on demand. */
export interface SpareMemory {
  readonly bytes: number
  shed: (bytes: number) => void
}

export class MemoryBudget {
  private usedBytes = 0
  constructor (readonly limit: number, private readonly spare?: SpareMemory) {}

  /** Bytes reserved by materializations. */
  get used (): number { return this.usedBytes }

  /** Reserves `bytes` or throws a 507 with the figures; the service stays up either way. */
  reserve (bytes: number): void {
    const short = this.usedBytes + (this.spare?.bytes ?? 0) + bytes - this.limit
    if (short > 0) this.spare?.shed(short)
    if (this.usedBytes + (this.spare?.bytes ?? 0) + bytes > this.limit) {
      throw materiaError('memoryBudget', {
        bytes, bytesGiB: gib(bytes), limit: this.limit, limitGiB: gib(this.limit), used: this.usedBytes, free: this.limit - this.usedBytes
      })
    }
    this.usedBytes += bytes
  }

  /** Reserves `bytes` (or throws the 507) and returns the function that gives them back, once however often it is called. */
  hold (bytes: number): () => void {
    this.reserve(bytes)
    let done = false
    return () => {
      if (done) return
      done = true
      this.release(bytes)
    }
  }

  release (bytes: number): void {
    this.usedBytes = Math.max(0, this.usedBytes - bytes)
  }
}
