// Writing a whole Fill (fill.ts) into an arena: on device "cpu" on the main thread, in time slices
// of CPU_SLICE_MS between event-loop turns; on device "worker" in the pool, each piece of work a
// chain of short tasks (fill-worker.ts). Either way one control block carries the cancel flag and
// the one progress count. The phases follow the fill's order of precedence: the zeros a recycled
// arena needs, the random init's draws (cut into slices of about equal cost, init-cost.ts) and its
// patches, the copies from a streamed source, the constants.
import { setImmediate as yieldToLoop } from 'node:timers/promises'
import type { Piscina } from 'piscina'
import { copyStreamed, type StreamedSource } from './checkpoint.js'
import { splitRanges, type FillRange } from './constant-fill.js'
import { applyPatches } from './draw-run.js'
import type { Fill } from './fill.js'
import { FillControl, workSteps, type FillTask, type TaskResult, type Work, type WorkCursor } from './fill-task.js'
import { ALL, estimateCost, sliceStream } from './init-cost.js'
import type { Device } from '../schemas/vocabulary.js'

/** Main-thread fills let other requests through every few milliseconds. */
const CPU_SLICE_MS = 4
/** Below this estimated cost (ns) a random init is one piece of work: splitting it costs more than it saves. */
const PARALLEL_MIN_COST = 100e6

export interface FillContext {
  device: Device
  pool?: Piscina | undefined
}

export interface FillRun {
  /** the zeros a recycled arena needs where the fill writes nothing, filled first */
  clear?: readonly FillRange[]
  /** the source of the fill's copies */
  source?: StreamedSource | undefined
}

/** Writes `fill` into `memory`; rejects with 'cancelled' once `signal` aborts. */
export async function runFill (fill: Fill, memory: SharedArrayBuffer, ctx: FillContext, control: FillControl, signal: AbortSignal, run: FillRun = {}): Promise<void> {
  const pool = ctx.device === 'worker' ? ctx.pool : undefined
  const parts = pool !== undefined ? Math.max(1, pool.threads.length) : 1
  const onAbort = (): void => { control.cancel() }
  signal.addEventListener('abort', onAbort, { once: true })
  const phase = async (works: Work[]): Promise<void> => {
    if (pool !== undefined) await Promise.all(works.map(async (w) => { await chain(pool, w, memory, control) }))
    else for (const w of works) await onMainThread(w, memory, control)
    if (signal.aborted || control.cancelled) throw new Error('cancelled')
  }
  const constants = (ranges: readonly FillRange[]): Work[] =>
    ranges.length === 0 ? [] : splitRanges(ranges, parts).map((r) => ({ kind: 'constants', ranges: r }))
  try {
    await phase(constants(run.clear ?? []))
    const exec = fill.init
    if (exec !== undefined) {
      const slices = parts > 1 && estimateCost(exec) >= PARALLEL_MIN_COST ? sliceStream(exec, parts) : [ALL]
      await phase(slices.map((slice) => ({ kind: 'draws', exec, slice })))
      applyPatches(exec, memory)
    }
    if (fill.copies !== undefined && run.source !== undefined) await copyStreamed(fill.copies, run.source, memory, signal, (n) => { control.add(n) })
    await phase(constants(fill.constants))
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

/** A piece of work on the main thread, yielding to the event loop after each slice of time. */
async function onMainThread (work: Work, memory: SharedArrayBuffer, control: FillControl): Promise<void> {
  let slice = performance.now()
  for (const n of workSteps(work, memory).steps) {
    if (control.cancelled) return
    control.add(n)
    if (performance.now() - slice >= CPU_SLICE_MS) {
      await yieldToLoop()
      slice = performance.now()
    }
  }
}

export const fillWorkerFile = new URL(`./fill-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url).href

/**
 * A piece of work as a chain of short pool tasks, each resuming where the last stopped: a queued
 * task of another fill gets the next free thread instead of waiting for this whole fill.
 */
async function chain (pool: Piscina, work: Work, memory: SharedArrayBuffer, control: FillControl): Promise<void> {
  let from: WorkCursor | undefined
  for (;;) {
    const task: FillTask = { work, memory, control: control.buffer, from }
    // no abort signal: piscina would terminate the thread running the task (and a result racing the
    // abort is an 'Unexpected message' error); the cancel flag stops the task within a step
    const r = await pool.run(task, { filename: fillWorkerFile }) as TaskResult
    if (r.cancelled || r.next === null || control.cancelled) return
    from = r.next
  }
}
