// Worker-pool task for init "default": one slice of the random stream (draws, and the copies of
// what it draws), written in place into the SharedArrayBuffer arena. Same shared control block as
// fill-worker.ts: Int32 cancel flag at 0, BigInt64 bytes written at 8.
import { collectGarbage } from './collect-garbage.js'
import { runDraws, type InitTask } from './init-fill.js'

export default function initTask (task: InitTask): { bytes: number, cancelled: boolean } {
  // a finished task must not keep a deleted arena alive in this thread's heap until its next GC
  if (collectGarbage !== undefined) setTimeout(collectGarbage, 0)
  const flag = new Int32Array(task.control, 0, 1)
  const done = new BigInt64Array(task.control, 8, 1)
  const steps = runDraws(task.exec, task.memory, task.slice)
  let bytes = 0
  for (const n of steps) {
    if (Atomics.load(flag, 0) !== 0) return { bytes, cancelled: true }
    if (n > 0) {
      bytes += n
      Atomics.add(done, 0, BigInt(n))
    }
  }
  return { bytes, cancelled: false }
}
