// One chunk of a lazily generated arena (lazy-arena.ts) as a pool task: arena bytes [start, start +
// memory.byteLength) of a fill, written into an ArrayBuffer moved to the worker and back (a shared
// buffer would stay mapped until the worker's heap collects it, which a small heap rarely does),
// with the walk (fill-range.ts) its lane carries from one chunk to the next, moved the same way.
import { move, transferableSymbol, valueSymbol } from 'piscina'
import type { Fill } from './fill.js'
import { produceRange, type Walk } from './fill-range.js'

export interface RangeTask {
  fill: Fill
  start: number
  /** a new ArrayBuffer (zero, moved), or a shared buffer used again (its first `bytes` bytes are the chunk) */
  memory: ArrayBuffer | SharedArrayBuffer
  bytes?: number
  walk: Walk
}

export interface RangeResult { memory: ArrayBuffer | SharedArrayBuffer, walk: Walk }

/** The buffers of a task or its result that are moved, not copied (a shared buffer is shared as it is). */
export function movedBuffers (r: { memory: ArrayBuffer | SharedArrayBuffer, walk: Walk }): ArrayBuffer[] {
  const out = r.memory instanceof ArrayBuffer ? [r.memory] : []
  const kept = r.walk.trunc?.values.buffer
  if (kept instanceof ArrayBuffer && kept !== r.memory) out.push(kept)
  return out
}

export function runRangeTask (task: RangeTask): RangeResult {
  const walk = { ...task.walk }
  const fresh = task.memory instanceof ArrayBuffer
  // a new ArrayBuffer is zero; a shared buffer used again holds an earlier chunk
  produceRange(task.fill, task.start, new Uint8Array(task.memory, 0, task.bytes ?? task.memory.byteLength), { walk, zeroed: fresh })
  return { memory: task.memory, walk }
}

/** The result as a pool task returns it: its buffers moved back to the main thread. */
export function movedResult (r: RangeResult): RangeResult {
  return move({ [transferableSymbol]: movedBuffers(r), [valueSymbol]: r } as unknown as Parameters<typeof move>[0]) as unknown as RangeResult
}
