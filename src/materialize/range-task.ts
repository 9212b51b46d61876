// One chunk of a lazily generated arena (lazy-arena.ts) as a pool task: arena bytes [start, start +
// memory.byteLength) of a fill, written into a SharedArrayBuffer the main thread then sends, with
// the walk (fill-range.ts) its lane carries from one chunk to the next.
import type { Fill } from './fill.js'
import { produceRange, type Walk } from './fill-range.js'

export interface RangeTask {
  fill: Fill
  start: number
  memory: SharedArrayBuffer
  walk: Walk
}

export interface RangeResult { walk: Walk }

export function runRangeTask (task: RangeTask): RangeResult {
  const walk = { ...task.walk }
  produceRange(task.fill, task.start, new Uint8Array(task.memory), undefined, walk)
  return { walk }
}
