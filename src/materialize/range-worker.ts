// Worker-pool task: one chunk of a lazily generated arena (range-task.ts).
import { movedResult, runRangeTask, type RangeResult, type RangeTask } from './range-task.js'

export default function rangeTask (task: RangeTask): RangeResult {
  return movedResult(runRangeTask(task))
}
