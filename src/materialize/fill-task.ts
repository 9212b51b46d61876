// One piece of work of a fill (constant ranges, or a slice of a random init's stream) as a
// resumable generator of steps of a few milliseconds, each yielding the bytes it wrote. The main
// thread runs the steps in time slices between event-loop turns; a pool task runs them for about
// TASK_MS and returns where it stopped, and the next task of the chain resumes there, so a long
// fill never holds a thread for long (docs/trunc-normal.md). Main thread and pool share one
// control block: a cancel flag and the fill's progress count.
import { fillRange, fillSteps, subRange, type FillRange } from './constant-fill.js'
import { DrawRun, type DrawCursor } from './draw-run.js'
import type { Slice } from './init-cost.js'
import type { InitExec } from './init-plan.js'

export type Work =
  | { readonly kind: 'constants', readonly ranges: readonly FillRange[] }
  | { readonly kind: 'draws', readonly exec: InitExec, readonly slice: Slice }

/** Where a piece of work stopped: constants, the range and its bytes done; draws, DrawRun's cursor. */
export type WorkCursor = { readonly range: number, readonly done: number } | DrawCursor

/** Bytes of a constant fill per step (~0.1-1 ms). */
const CONSTANT_STEP_BYTES = 1 << 20

export interface WorkSteps {
  readonly steps: Generator<number>
  /** where to resume after the last step taken, or null when the work is done */
  cursor: () => WorkCursor | null
}

export function workSteps (work: Work, memory: ArrayBufferLike, from?: WorkCursor): WorkSteps {
  if (work.kind === 'draws') {
    const run = new DrawRun(work.exec, memory, work.slice, from as DrawCursor | undefined)
    return { steps: run.steps(), cursor: () => run.cursor() }
  }
  const at = { ...(from as { range: number, done: number } | undefined ?? { range: 0, done: 0 }) }
  let finished = false
  const steps = function * (): Generator<number> {
    for (; at.range < work.ranges.length; at.range++, at.done = 0) {
      const r = work.ranges[at.range] as FillRange
      for (const step of fillSteps([subRange(r, at.done, r.nbytes - at.done)], CONSTANT_STEP_BYTES)) {
        fillRange(memory, step)
        at.done += step.nbytes
        yield step.nbytes
      }
    }
    finished = true
  }
  return { steps: steps(), cursor: () => finished ? null : { ...at } }
}

/** The control block between the main thread and the pool: Int32 cancel flag at 0, BigInt64 bytes written at 8. */
export class FillControl {
  private readonly flag: Int32Array
  private readonly count: BigInt64Array
  constructor (readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(16)) {
    this.flag = new Int32Array(buffer, 0, 1)
    this.count = new BigInt64Array(buffer, 8, 1)
  }

  get cancelled (): boolean { return Atomics.load(this.flag, 0) !== 0 }
  cancel (): void { Atomics.store(this.flag, 0, 1) }
  get bytes (): number { return Number(Atomics.load(this.count, 0)) }
  add (bytes: number): void { if (bytes > 0) Atomics.add(this.count, 0, BigInt(bytes)) }
}

/** What fill-worker.ts receives: a piece of work, where in it to start (absent: its beginning), the arena and the control block. */
export interface FillTask {
  work: Work
  memory: SharedArrayBuffer
  control: SharedArrayBuffer
  from?: WorkCursor | undefined
}

export interface TaskResult { cancelled: boolean, next: WorkCursor | null }

/** Runs steps of a task for about `ms` milliseconds. */
export function runTask (task: FillTask, ms: number): TaskResult {
  const control = new FillControl(task.control)
  const run = workSteps(task.work, task.memory, task.from)
  const until = performance.now() + ms
  for (const n of run.steps) {
    if (control.cancelled) return { cancelled: true, next: null }
    control.add(n)
    if (performance.now() >= until) {
      const next = run.cursor()
      if (next !== null) return { cancelled: false, next }
    }
  }
  return { cancelled: false, next: null }
}
