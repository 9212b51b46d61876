// Worker-pool task: a stretch of one piece of a fill (fill-task.ts), written in place into the
// SharedArrayBuffer arena, about TASK_MS long; it returns where it stopped and the main thread
// queues the next task from there.
import { collectGarbage } from './collect-garbage.js'
import { runTask, type FillTask, type TaskResult } from './fill-task.js'

/** Work per task: long enough to amortise the hand-over, short enough that other fills get a thread soon. */
export const TASK_MS = 50

/** A thread idle this long after a task collects: another thread may have ended the chain, and an arena deleted since stays mapped while any thread's heap still refers to it. */
const IDLE_GC_MS = 50
let idleGc: NodeJS.Timeout | undefined

export default function fillTask (task: FillTask): TaskResult {
  clearTimeout(idleGc)
  const result = runTask(task, TASK_MS)
  if (collectGarbage !== undefined) {
    // the last task of a chain: a finished chain must not keep a deleted arena alive in this thread's heap until its next GC
    if (result.next === null) setTimeout(collectGarbage, 0)
    else idleGc = setTimeout(collectGarbage, IDLE_GC_MS)
  }
  return result
}
