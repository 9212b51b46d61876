// The cost model of a random init and how its stream is cut: a slice is a contiguous part of the
// random stream; a task discards up to its start (twist only, no tempering), fills its part and
// stops. The slices are cut so that discard + fill cost about the same in every task.
import { itemSize } from '../init/distributions.js'
import type { Dist } from '../init/init-recorder.js'
import { mtUniformWasmAvailable } from '../init/mt-uniform-wasm.js'
import type { ExecOp, ExecOutput, ExecValue, InitExec } from './init-plan.js'
import type { Rng } from '../schemas/vocabulary.js'
import type { FloatDType } from '../tensor/dtype.js'

/** A contiguous part of the stream: from (op, element) up to, not including, (op, element). */
export interface Slice {
  readonly from: { op: number, elem: number }
  readonly to: { op: number, elem: number }
}

export const ALL: Slice = { from: { op: 0, elem: 0 }, to: { op: Number.MAX_SAFE_INTEGER, elem: 0 } }

// Rough single-thread costs (ns per element; per MT19937 output for discard), for balancing only.
// Measured on warm memory: the WebAssembly kernels fill float32 uniform_ at ~1.4 ns and skip at
// ~0.3 ns per draw; the JS paths take ~4 and ~2.2.
export function fillCost (rng: Rng, dtype: FloatDType, dist: Dist): number {
  if (rng === 'philox') return dist.kind === 'uniform' ? 3 : 10
  if (dist.kind === 'uniform') return dtype === 'float64' ? 16 : dtype === 'float32' ? (mtUniformWasmAvailable() ? 1.5 : 4) : 6
  return dtype === 'float64' ? 250 : dtype === 'float32' ? 25 : 30
}
export const discardCost = (): number => mtUniformWasmAvailable() ? 0.3 : 2.2

/** Largest legal cut inside a fill op: any element for uniform_, a multiple of 16 leaving >= 16 for normal_. */
export function cutPoint (op: ExecOp, want: number): number {
  if (op.dist.kind === 'uniform') return Math.max(0, Math.min(op.numel, Math.floor(want)))
  const last = Math.floor((op.numel - 16) / 16) * 16
  return Math.max(0, Math.min(last, Math.floor(want / 16) * 16))
}

/** Estimated cost of the whole plan on one thread, ns. */
export function estimateCost (exec: InitExec): number {
  let c = 0
  for (const op of exec.ops) {
    if (op.value >= 0) c += op.numel * elementCost(exec, op)
    else if (op.draws > 0) c += op.draws * discardCost()
  }
  return c
}

/** Fill cost of one element of an op, plus its copies (~0.25 ns per byte). */
function elementCost (exec: InitExec, op: ExecOp): number {
  const v = exec.values[op.value] as ExecValue
  const copies = v.outputs.length - 1
  return fillCost(exec.rng, op.dtype, op.dist) + (copies > 0 ? copies * itemSize((exec.outputs[v.outputs[0] as number] as ExecOutput).dtype) / 4 : 0)
}

/**
 * Cuts the stream into at most `parts` slices of about equal cost, where a slice costs the discard
 * of everything before it (torch) plus the fill of its own surviving values.
 */
export function sliceStream (exec: InitExec, parts: number): Slice[] {
  if (parts <= 1 || exec.serialOnly) return [ALL]
  const discard = exec.rng === 'torch' ? discardCost() : 0
  const ops = exec.ops
  const tryBudget = (budget: number): Slice[] | undefined => {
    const cuts: Array<{ op: number, elem: number }> = []
    let pos = 0 // MT outputs before the current point
    let cost = 0
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i] as ExecOp
      const slicable = op.value >= 0 && op.draws >= 0
      if (!slicable) {
        if (op.draws > 0) pos += op.draws
        continue
      }
      const per = elementCost(exec, op)
      const k = op.dtype === 'float64' ? 2 : 1
      let elem = 0
      while (elem < op.numel) {
        const room = (budget - cost) / per
        if (room >= op.numel - elem) { cost += (op.numel - elem) * per; break }
        const cut = cutPoint(op, elem + room)
        if (cut <= elem) {
          if (cost === discard * (pos + k * elem)) { // nothing fits even in a fresh slice: take the minimum
            const forced = cutPoint(op, elem + 16)
            if (forced <= elem) { cost += (op.numel - elem) * per; break }
            cost += (forced - elem) * per
            elem = forced
            continue
          }
        } else {
          elem = cut
        }
        cuts.push({ op: i, elem })
        if (cuts.length >= parts) return undefined
        cost = discard * (pos + k * elem)
      }
      pos += op.draws
    }
    const bounds = [{ op: 0, elem: 0 }, ...cuts, { op: Number.MAX_SAFE_INTEGER, elem: 0 }]
    return bounds.slice(0, -1).map((from, j) => ({ from, to: bounds[j + 1] as { op: number, elem: number } }))
  }
  const total = estimateCost(exec)
  let lo = total / parts
  let hi = total + 1
  let best = tryBudget(hi) as Slice[]
  for (let iter = 0; iter < 30 && hi - lo > total / 1000; iter++) {
    const mid = (lo + hi) / 2
    const s = tryBudget(mid)
    if (s !== undefined) { best = s; hi = mid } else lo = mid
  }
  return best
}

export const before = (a: { op: number, elem: number }, b: { op: number, elem: number }): boolean => a.op < b.op || (a.op === b.op && a.elem < b.elem)
