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
  memory: ArrayBuffer
  walk: Walk
}

export interface RangeResult { memory: ArrayBuffer, walk: Walk }

/** The buffers of a task or its result that are moved, not copied. */
export function movedBuffers (r: { memory: ArrayBuffer, walk: Walk }): ArrayBuffer[] {
  const kept = r.walk.trunc?.values.buffer
  return kept instanceof ArrayBuffer && kept !== r.memory ? [r.memory, kept] : [r.memory]
}

export function runRangeTask (task: RangeTask): RangeResult {
  const walk = { ...task.walk }
  // a task's memory is new (zero) memory: lazy-arena.ts allocates each chunk
  produceRange(task.fill, task.start, new Uint8Array(task.memory), { walk, zeroed: true })
  return { memory: task.memory, walk }
}

/** The result as a pool task returns it: its buffers moved back to the main thread. */
export function movedResult (r: RangeResult): RangeResult {
  return move({ [transferableSymbol]: movedBuffers(r), [valueSymbol]: r } as unknown as Parameters<typeof move>[0]) as unknown as RangeResult
}
