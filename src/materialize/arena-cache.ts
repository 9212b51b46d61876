// Recycled arena memory. The first write to fresh memory costs a page fault per 4 KiB: on the
// machines we measured, filling a new 268 MB buffer took 100-150 ms against 19 ms for filling it
// again, and freeing a touched multi-GiB buffer costs a 100-300 ms munmap that stalls the next
// allocation. So freed arenas wait here, for a while, to back the next materialization of about
// their size. Cached bytes count against the memory budget, which sheds them on demand.

/** Arenas below this size are cheap to allocate: not worth holding. */
export const MIN_CACHED_BYTES = 1 << 20
/** A cached buffer backs an arena of `size` only if it wastes at most a quarter of `size`. */
const MAX_SLACK = 0.25
/** Idle memory goes back to the OS after this long. */
export const CACHE_IDLE_MS = 30_000

interface Idle { memory: SharedArrayBuffer, since: number }

export class ArenaCache {
  private readonly idle: Idle[] = []
  private held = 0
  private reusedCount = 0
  private readonly sweeper: NodeJS.Timeout | undefined

  /** `dropped` runs after memory leaves the cache for good (the registry collects garbage then). */
  constructor (readonly limit: number, private readonly dropped: () => void = () => {}, readonly idleMs = CACHE_IDLE_MS) {
    if (limit > 0) {
      this.sweeper = setInterval(() => { this.sweep(Date.now()) }, Math.max(100, Math.floor(idleMs / 3)))
      this.sweeper.unref()
    }
  }

  /** Bytes held. */
  get bytes (): number { return this.held }
  /** Arenas handed out again since start. */
  get reused (): number { return this.reusedCount }

  /** Whether take(size) could find a buffer (a cheap test before working out what reuse would cost). */
  mayServe (size: number): boolean {
    return size >= MIN_CACHED_BYTES && this.held >= size
  }

  /** The smallest cached buffer that can back `size` bytes, removed from the cache; undefined if none. */
  take (size: number): SharedArrayBuffer | undefined {
    if (!this.mayServe(size)) return undefined
    let best = -1
    this.idle.forEach((e, i) => {
      const n = e.memory.byteLength
      if (n >= size && n <= size * (1 + MAX_SLACK) && (best < 0 || n < (this.idle[best] as Idle).memory.byteLength)) best = i
    })
    if (best < 0) return undefined
    const [e] = this.idle.splice(best, 1) as [Idle]
    this.held -= e.memory.byteLength
    this.reusedCount++
    return e.memory
  }

  /** Keeps `memory` for reuse when it fits the limit (oldest buffers make room); false when not kept. */
  put (memory: SharedArrayBuffer): boolean {
    const n = memory.byteLength
    if (n < MIN_CACHED_BYTES || n > this.limit) return false
    if (this.held + n > this.limit) this.shed(this.held + n - this.limit)
    this.idle.push({ memory, since: Date.now() })
    this.held += n
    return true
  }

  /** Drops the oldest buffers until at least `bytes` are freed (or the cache is empty). */
  shed (bytes: number): void {
    let freed = 0
    while (freed < bytes && this.idle.length > 0) {
      const e = this.idle.shift() as Idle
      this.held -= e.memory.byteLength
      freed += e.memory.byteLength
    }
    if (freed > 0) this.dropped()
  }

  /** Drops buffers idle for longer than idleMs. */
  sweep (now: number): void {
    const before = this.idle.length
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const e = this.idle[i] as Idle
      if (now - e.since >= this.idleMs) {
        this.idle.splice(i, 1)
        this.held -= e.memory.byteLength
      }
    }
    if (this.idle.length < before) this.dropped()
  }

  close (): void {
    clearInterval(this.sweeper)
    this.shed(Infinity)
  }
}
