// Worker-pool task: one chunk of a lazily generated arena (range-task.ts).
import { collectGarbage } from './collect-garbage.js'
import { movedResult, runRangeTask, type RangeResult, type RangeTask } from './range-task.js'

/** A thread idle this long collects: a shared chunk buffer a read dropped stays mapped while this heap refers to it. */
const IDLE_GC_MS = 100
let idleGc: NodeJS.Timeout | undefined

export default function rangeTask (task: RangeTask): RangeResult {
  clearTimeout(idleGc)
  const result = movedResult(runRangeTask(task))
  if (collectGarbage !== undefined) idleGc = setTimeout(collectGarbage, IDLE_GC_MS)
  return result
}
