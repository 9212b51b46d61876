// Worker-pool task for init "default": part of one slice of the random stream (draws, and the
// copies of what it draws), written in place into the SharedArrayBuffer arena. Same shared control
// block as fill-worker.ts: Int32 cancel flag at 0, BigInt64 bytes written at 8. A task stops after
// about TASK_MS and returns where it stopped (generator state included); the main thread queues
// the next task from there, so a long fill never holds a thread for long (docs/trunc-normal.md).
import { collectGarbage } from './collect-garbage.js'
import { DrawRun, type Cursor, type InitTask } from './init-fill.js'

/** Work per task: long enough to amortise the hand-over, short enough that other fills get a thread soon. */
export const TASK_MS = 50

/** A thread idle this long after a task collects: another thread may have ended the chain, and an arena deleted since stays mapped while any thread's heap still refers to it. */
const IDLE_GC_MS = 50
let idleGc: NodeJS.Timeout | undefined

export default function initTask (task: InitTask): { bytes: number, cancelled: boolean, next: Cursor | null } {
  clearTimeout(idleGc)
  const flag = new Int32Array(task.control, 0, 1)
  const done = new BigInt64Array(task.control, 8, 1)
  const run = new DrawRun(task.exec, task.memory, task.slice, task.from)
  const until = performance.now() + (task.taskMs ?? TASK_MS)
  let bytes = 0
  for (const n of run.steps()) {
    if (Atomics.load(flag, 0) !== 0) return last({ bytes, cancelled: true, next: null })
    if (n > 0) {
      bytes += n
      Atomics.add(done, 0, BigInt(n))
    }
    if (performance.now() >= until) {
      const next = run.cursor()
      if (next !== null) return idle({ bytes, cancelled: false, next })
    }
  }
  return last({ bytes, cancelled: false, next: null })
}

function idle<T> (result: T): T {
  if (collectGarbage !== undefined) idleGc = setTimeout(collectGarbage, IDLE_GC_MS)
  return result
}

/** The last task of a chain: a finished chain must not keep a deleted arena alive in this thread's heap until its next GC. */
function last<T> (result: T): T {
  if (collectGarbage !== undefined) setTimeout(collectGarbage, 0)
  return result
}
