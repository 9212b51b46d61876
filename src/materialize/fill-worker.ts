// Worker-pool task: fills its share of an arena in place (SharedArrayBuffer), step by step, adding
// each step's bytes to a shared progress counter and stopping when the cancel flag is raised.
import { collectGarbage } from './collect-garbage.js'
import { fillRange, fillSteps, type FillRange } from './fill.js'

export interface FillTask {
  memory: SharedArrayBuffer
  ranges: FillRange[]
  /** 16 shared bytes: Int32 cancel flag at 0, BigInt64 bytes filled at 8 */
  control: SharedArrayBuffer
}

export const STEP_BYTES = 16 << 20
/** Bytes one pool task fills (~10-30 ms), so a huge constant fill cannot hold a thread for long. */
export const TASK_BYTES = 64 << 20

export default function fill (task: FillTask): { bytes: number, cancelled: boolean } {
  // a finished task must not keep a deleted arena alive in this thread's heap until its next GC
  if (collectGarbage !== undefined) setTimeout(collectGarbage, 0)
  const flag = new Int32Array(task.control, 0, 1)
  const done = new BigInt64Array(task.control, 8, 1)
  let bytes = 0
  for (const step of fillSteps(task.ranges, STEP_BYTES)) {
    if (Atomics.load(flag, 0) !== 0) return { bytes, cancelled: true }
    fillRange(task.memory, step)
    bytes += step.nbytes
    Atomics.add(done, 0, BigInt(step.nbytes))
  }
  return { bytes, cancelled: false }
}
