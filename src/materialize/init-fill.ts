// init "default" (and per-tensor overrides) into an arena.
//
// planInit() replays the module (src/init/module-init.ts), applies the overrides, and turns the
// result into an InitExec: plain data a worker thread can receive.
//   * ops: every RNG op in stream order, with the MT19937 outputs it consumes (known in advance
//     for uniform_ and the normal_ fill path; the scalar path (numel < 16) and trunc_normal_ are
//     computed wherever they are passed, which also keeps torch's cached Box-Muller sample right).
//   * values: the draws whose values survive; each is computed once, into its first output, and
//     copied to the others (deep copies: TransformerEncoder layers). Draws whose values are
//     overwritten later (Linear biases under MultiheadAttention, layer weights under
//     Transformer._reset_parameters) are skipped with MT19937.discard.
//   * outputs: one per arena storage (tied aliases share one), with padding_idx rows as patches;
//     constant bases become FillRanges for the registry's constant fill.
// Execution is a sync generator of steps (DrawRun, a few ms each), so the "cpu" device runs it on
// the main thread yielding to the event loop between steps, and the "worker" device runs slices of
// it in the piscina pool (init-worker.ts), each slice as a chain of ~50 ms tasks that hand on a
// plain-data cursor (generator state included; docs/trunc-normal.md). trunc_normal_ runs in
// constant extra memory (nn-init.ts truncNormalRun). A slice is a contiguous part of the random stream: the task
// discards up to its start (twist only, no tempering), fills its part and stops; the slices are cut
// so that discard + fill cost about the same in every task. Each piece of a value is copied to the
// value's other outputs as soon as it is drawn (while it is in cache), so copies need no pass of
// their own and are shared out with the draws.
import { setImmediate as yieldToLoop } from 'node:timers/promises'
import type { Piscina } from 'piscina'
import type { ModuleNode } from '../nn/define.js'
import { DTYPES } from '../tensor/dtype.js'
import {
  allocDense, decodeElement, encodeElement, itemSize, normalFill, uniformFill,
  type DenseArray, type FloatDtype
} from '../init/distributions.js'
import { CpuGenerator } from '../init/mt19937.js'
import { TruncBits, TruncOutput, truncNormalParams, truncNormalRun, truncNormalStart, type TruncNormalState } from '../init/nn-init.js'
import { makeDense } from '../init/storage.js'
import { fma32 } from '../init/fp.js'
import { uniformF32 } from '../init/uniform-fill.js'
import { mtUniformWasmAvailable } from '../init/mt-uniform-wasm.js'
import type { Dist, Patch, Storage } from '../init/init-recorder.js'
import { type BaseInit, replayModule } from '../init/module-init.js'
import { stateEntries } from '../init/module-instance.js'
import { applyOverrides, type Override } from '../init/init-overrides.js'
import { philoxFill, type PhiloxDist } from '../init/philox.js'
import type { FillRange } from './fill.js'
import type { ArenaPlan } from './plan.js'

// ---------------------------------------------------------------------------------------------
// the plan

export type Rng = 'torch' | 'philox'

export interface ExecOp {
  readonly dtype: FloatDtype
  readonly numel: number
  readonly dist: Dist
  /** index into values, or -1: drawn only to advance the generator */
  readonly value: number
  /** MT19937 outputs consumed; -1 for ops computed in order (scalar path, trunc_normal_) */
  readonly draws: number
  readonly what: string
}

export interface ExecOutput {
  readonly name: string
  readonly offset: number
  /** as stored (a materialization dtype cast applies) */
  readonly dtype: FloatDtype
  /** the module's dtype, in which torch computes the values */
  readonly srcDtype: FloatDtype
  readonly numel: number
  readonly patches: readonly Patch[]
}

export interface ExecValue {
  readonly op: number
  /** philox stream key: the state_dict name of the first output */
  readonly key: string
  /** indices into outputs; the first is computed, the others copied from it */
  readonly outputs: readonly number[]
}

export interface InitExec {
  readonly rng: Rng
  readonly seed: number
  readonly ops: readonly ExecOp[]
  readonly values: readonly ExecValue[]
  readonly outputs: readonly ExecOutput[]
  /** outputs with a constant base (buffers, norms, PReLU, constant_ overrides) */
  readonly constants: readonly FillRange[]
  /** a value-dependent op (trunc_normal_) makes later stream positions unknown: one task only */
  readonly serialOnly: boolean
  /** bytes the draws write into primary outputs, and the copies */
  readonly drawBytes: number
  readonly copyBytes: number
}

export interface InitOptions {
  base: BaseInit
  overrides: readonly Override[]
  rng: Rng
  seed: number
  /** write only these tensors (by name); the stream and the Philox keys stay those of the whole module */
  only?: ReadonlySet<string>
}

/** Whether an op is computed in sequence rather than sliced (scalar normal path, trunc_normal_). */
function sequential (dist: Dist, numel: number): boolean {
  return dist.kind === 'trunc_normal' || (dist.kind === 'normal' && numel < 16)
}

/** MT19937 outputs a fill-path op consumes. */
function fillDraws (dtype: FloatDtype, dist: Dist, n: number): number {
  const per = dtype === 'float64' ? 2 : 1
  if (dist.kind === 'uniform') return n * per
  if (dtype === 'float16' || dtype === 'bfloat16') return 16 * Math.ceil(n / 16)
  return (n + (n % 16 !== 0 ? 16 : 0)) * per
}

/**
 * Replays `root`'s construction (base 'default': the module's own init) plus `overrides`, and
 * lays the values out over `plan` (whose tensors may be cast to another dtype than the module's).
 * Throws InitRuleError / OverrideError for arguments PyTorch would reject.
 */
export function planInit (root: ModuleNode, plan: ArenaPlan, opts: InitOptions): InitExec {
  const { recorder, root: inst } = replayModule(root, opts.base)
  applyOverrides(inst, opts.overrides, recorder, root.qualname)
  const entries = stateEntries(inst)
  if (entries.length !== plan.tensors.length || entries.some((e, i) => e.name !== plan.tensors[i]?.name)) {
    throw new Error(`internal: replayed state_dict of ${root.qualname} does not match its tensor table`)
  }
  const outputs: ExecOutput[] = []
  const constants: FillRange[] = []
  const byOp = new Map<number, number[]>()
  // philox key of each drawn value: its first output in the whole module, written or not
  const keyOf = new Map<number, string>()
  let drawBytes = 0
  let copyBytes = 0
  plan.tensors.forEach((t, i) => {
    if (t.tiedTo !== undefined) return
    const s = (entries[i] as { storage: Storage }).storage
    const { base, patches } = s.value
    if (base.kind === 'draw' && !keyOf.has(base.op)) keyOf.set(base.op, t.name)
    if (opts.only !== undefined && !opts.only.has(t.name)) return
    if (base.kind === 'const') {
      // constant_ writes the value in the module's dtype; a materialization cast rounds it again
      const v = DTYPES[s.dtype].floating ? decodeElement(s.dtype as FloatDtype, encodeElement(s.dtype as FloatDtype, base.value)) : base.value
      // +0 is what a new arena holds: no pass over those bytes
      if (t.nbytes > 0 && !(v === 0 && !Object.is(v, -0))) constants.push({ offset: t.offset, nbytes: t.nbytes, dtype: t.dtype, value: v })
    }
    if (base.kind !== 'draw' && patches.length === 0) return
    if (!DTYPES[t.dtype].floating || !DTYPES[s.dtype].floating) throw new Error(`internal: random init of non-floating ${t.name}`)
    const index = outputs.length
    outputs.push({ name: t.name, offset: t.offset, dtype: t.dtype as FloatDtype, srcDtype: s.dtype as FloatDtype, numel: t.numel, patches })
    if (base.kind === 'draw') {
      const list = byOp.get(base.op) ?? []
      if (list.length === 0) drawBytes += t.nbytes
      else copyBytes += t.nbytes
      list.push(index)
      byOp.set(base.op, list)
    }
  })
  const values: ExecValue[] = []
  const valueOf = new Map<number, number>()
  for (const [op, outs] of [...byOp.entries()].sort((a, b) => a[0] - b[0])) {
    valueOf.set(op, values.length)
    values.push({ op, key: keyOf.get(op) as string, outputs: outs })
  }
  let serialOnly = false
  const ops: ExecOp[] = []
  for (const [i, op] of recorder.ops.entries()) {
    const value = valueOf.get(i) ?? -1
    if (opts.rng === 'philox') {
      // independent streams: only the surviving values are drawn
      if (value < 0) continue
      if (op.dist.kind === 'trunc_normal') throw new Error('internal: trunc_normal_ with philox')
      ops.push({ ...op, value, draws: 0 })
      continue
    }
    if (op.dist.kind === 'trunc_normal') serialOnly = true
    ops.push({ ...op, value, draws: sequential(op.dist, op.numel) ? -1 : fillDraws(op.dtype, op.dist, op.numel) })
  }
  if (opts.rng === 'philox') {
    // values index ops by recorder position; re-point them at the compacted list
    const pos = new Map<number, number>()
    ops.forEach((o, j) => pos.set(o.value, j))
    for (let v = 0; v < values.length; v++) values[v] = { ...(values[v] as ExecValue), op: pos.get(v) as number }
  }
  return { rng: opts.rng, seed: opts.seed, ops, values, outputs, constants, serialOnly, drawBytes, copyBytes }
}

// ---------------------------------------------------------------------------------------------
// slicing the stream

/** A contiguous part of the stream: from (op, element) up to, not including, (op, element). */
export interface Slice {
  readonly from: { op: number, elem: number }
  readonly to: { op: number, elem: number }
}

const ALL: Slice = { from: { op: 0, elem: 0 }, to: { op: Number.MAX_SAFE_INTEGER, elem: 0 } }

// Rough single-thread costs (ns per element; per MT19937 output for discard), for balancing only.
// Measured on warm memory: the WebAssembly kernels fill float32 uniform_ at ~1.4 ns and skip at
// ~0.3 ns per draw; the JS paths take ~4 and ~2.2.
function fillCost (rng: Rng, dtype: FloatDtype, dist: Dist): number {
  if (rng === 'philox') return dist.kind === 'uniform' ? 3 : 10
  if (dist.kind === 'uniform') return dtype === 'float64' ? 16 : dtype === 'float32' ? (mtUniformWasmAvailable() ? 1.5 : 4) : 6
  return dtype === 'float64' ? 250 : dtype === 'float32' ? 25 : 30
}
const discardCost = (): number => mtUniformWasmAvailable() ? 0.3 : 2.2

/** Largest legal cut inside a fill op: any element for uniform_, a multiple of 16 leaving >= 16 for normal_. */
function cutPoint (op: ExecOp, want: number): number {
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

const before = (a: { op: number, elem: number }, b: { op: number, elem: number }): boolean => a.op < b.op || (a.op === b.op && a.elem < b.elem)

// ---------------------------------------------------------------------------------------------
// running a slice: a generator of steps, each yielding the output bytes it wrote

const STEP_NS = 4e6 // about 4 ms of work per step
const DISCARD_STEP = 1 << 21
const COPY_STEP_BYTES = 16 << 20

function pieceLength (rng: Rng, op: ExecOp): number {
  const n = Math.max(16, Math.floor(STEP_NS / fillCost(rng, op.dtype, op.dist)))
  return n - (n % 16)
}

/** Writes `count` source-dtype elements into an output at element `start`, casting if the output dtype differs. */
function writeCast (memory: ArrayBufferLike, out: ExecOutput, start: number, srcDtype: FloatDtype, src: DenseArray, count: number): void {
  const size = itemSize(out.dtype)
  let data: DenseArray = src
  if (srcDtype !== out.dtype) {
    data = allocDense(out.dtype, count)
    for (let i = 0; i < count; i++) data[i] = encodeElement(out.dtype, decodeElement(srcDtype, src[i] as number))
  }
  new Uint8Array(memory, out.offset + start * size, count * size).set(new Uint8Array(data.buffer, data.byteOffset, count * size))
}

/**
 * Computes elements [s, e) of op (a fill-path op or a whole sequential one) into its first output.
 * `fill(target)` draws into a target of the op's dtype, continuing the stream.
 */
function * fillPieces (exec: InitExec, memory: ArrayBufferLike, op: ExecOp, s: number, e: number,
  fill: (data: Uint8Array | DenseArray, first: number) => void, at: (end: number) => void): Generator<number> {
  const outs = (exec.values[op.value] as ExecValue).outputs.map((o) => exec.outputs[o] as ExecOutput)
  const out = outs[0] as ExecOutput
  const outSize = itemSize(out.dtype)
  const step = pieceLength(exec.rng, op)
  const size = itemSize(op.dtype)
  let scratch: DenseArray | undefined
  for (let p = s; p < e;) {
    let q = Math.min(e, p + step)
    // the normal_ fill path's last piece must hold >= 16 elements (the ragged tail overwrites n-16..n-1)
    if (op.dist.kind === 'normal' && q < e && e - q < 16) q = e
    const count = q - p
    if (out.dtype === op.dtype) {
      fill(new Uint8Array(memory, out.offset + p * size, count * size), p)
    } else {
      if (scratch === undefined || scratch.length < count) scratch = allocDense(op.dtype, Math.min(e - s, step + 32))
      const view = scratch.subarray(0, count)
      fill(view, p)
      writeCast(memory, out, p, op.dtype, view, count)
    }
    // the piece is final (a normal_ tail only rewrites the last piece): copy it to the other outputs
    const bytes = count * outSize
    if (outs.length > 1) {
      const src = new Uint8Array(memory, out.offset + p * outSize, bytes)
      for (let j = 1; j < outs.length; j++) new Uint8Array(memory, (outs[j] as ExecOutput).offset + p * outSize, bytes).set(src)
    }
    at(q)
    yield bytes * outs.length
    p = q
  }
}

/**
 * Where a run of the stream stopped, as plain data a worker task returns and the next one resumes
 * from: op index, MT19937 outputs of that op already drawn (philox: elements), the trunc_normal_
 * loop's state, and the generator (CpuGenerator.getState(), which carries the cached normal).
 */
export interface Cursor {
  readonly op: number
  readonly drawn: number
  readonly trunc?: TruncCursor
  readonly gen?: Uint8Array
}

/** A trunc_normal_ op under way: its loop's state, then the copies to the value's other outputs. */
export interface TruncCursor {
  readonly state: TruncNormalState
  readonly done: boolean
  readonly copied: number
  /** a draw no output keeps: one bit per element (shared, so the next task sees it) */
  readonly bits?: ArrayBufferLike
}

/**
 * Draws the surviving values of one slice of the stream into their first outputs. Every op is
 * visited in order up to the slice's end, so the generator (and its cached normal sample) is
 * exactly torch's at each op; ops outside the slice are discarded or, if sequential, computed
 * without being written. Each step is a few ms of work; between steps cursor() says where to resume.
 */
export class DrawRun {
  private readonly gen: CpuGenerator
  private at: { op: number, drawn: number, trunc?: TruncCursor | undefined }
  private finished = false

  constructor (private readonly exec: InitExec, private readonly memory: ArrayBufferLike, private readonly slice: Slice = ALL, from?: Cursor) {
    this.gen = new CpuGenerator(exec.seed)
    if (from?.gen !== undefined) this.gen.setState(from.gen)
    this.at = { op: from?.op ?? 0, drawn: from?.drawn ?? 0, trunc: from?.trunc }
  }

  /** Where to resume after the last step, or null when the slice is done. */
  cursor (): Cursor | null {
    if (this.finished) return null
    return { ...this.at, ...(this.exec.rng === 'torch' ? { gen: this.gen.getState() } : {}) }
  }

  * steps (): Generator<number> {
    if (this.exec.rng === 'philox') yield * this.philox()
    else yield * this.torch()
    this.finished = true
  }

  private * discardTo (target: number): Generator<number> {
    while (this.at.drawn < target) {
      const n = Math.min(target - this.at.drawn, DISCARD_STEP)
      this.gen.discard(n)
      this.at.drawn += n
      if (this.at.drawn < target) yield 0
    }
  }

  private * torch (): Generator<number> {
    const { exec, memory, slice, gen } = this
    for (let i = this.at.op; i < exec.ops.length; i++) {
      const op = exec.ops[i] as ExecOp
      if (!before({ op: i, elem: 0 }, slice.to)) break
      if (i !== this.at.op) this.at = { op: i, drawn: 0 }
      const owned = op.value >= 0 && !before({ op: i, elem: 0 }, slice.from)
      if (op.dist.kind === 'trunc_normal') {
        yield * this.truncOp(i, op, owned)
        continue
      }
      if (op.draws < 0) { // the scalar normal path (numel < 16): computed by every slice that passes it, written by the one owning it
        const data = allocDense(op.dtype, op.numel)
        normalFill(gen, { dtype: op.dtype, data }, op.dist.kind === 'normal' ? op.dist.mean : 0, op.dist.kind === 'normal' ? op.dist.std : 1)
        if (owned) {
          for (const o of (exec.values[op.value] as ExecValue).outputs) writeCast(memory, exec.outputs[o] as ExecOutput, 0, op.dtype, data, op.numel)
          this.at = { op: i + 1, drawn: 0 }
          yield 0
        }
        continue
      }
      // this slice's elements of the op
      let s = 0
      let e = 0
      if (op.value >= 0) {
        s = slice.from.op < i ? 0 : slice.from.op === i ? slice.from.elem : op.numel
        e = slice.to.op > i ? op.numel : slice.to.op === i ? slice.to.elem : 0
      }
      if (e > s) {
        const k = op.dtype === 'float64' ? 2 : 1
        yield * this.discardTo(k * s)
        const filled = e === op.numel ? op.draws : k * e
        if (this.at.drawn < filled) {
          const dist = op.dist
          yield * fillPieces(exec, memory, op, Math.max(s, this.at.drawn / k), e, (data) => {
            const t = { dtype: op.dtype, data }
            if (dist.kind === 'uniform') uniform(gen, t, dist.low, dist.high)
            else if (dist.kind === 'normal') normalFill(gen, t, dist.mean, dist.std)
          }, (q) => { this.at.drawn = q === op.numel ? op.draws : k * q })
        }
      }
      yield * this.discardTo(op.draws)
    }
  }

  /**
   * trunc_normal_ in steps of about STEP_NS (nn-init.ts truncNormalRun): into the first output
   * (NaN marks what is still outside [a, b]), then copied to the value's other outputs.
   */
  private * truncOp (i: number, op: ExecOp, owned: boolean): Generator<number> {
    const d = op.dist
    if (d.kind !== 'trunc_normal') throw new Error('internal: not trunc_normal_')
    const params = truncNormalParams(op.dtype, op.numel, d.mean, d.std, d.a, d.b)
    const outs = owned ? (this.exec.values[op.value] as ExecValue).outputs.map((o) => this.exec.outputs[o] as ExecOutput) : []
    const first = outs[0]
    const tc = this.at.trunc ?? { state: truncNormalStart(), done: false, copied: 0 }
    let bits = tc.bits
    if (first === undefined && bits === undefined) {
      const size = TruncBits.bytes(op.numel)
      bits = this.memory instanceof SharedArrayBuffer ? new SharedArrayBuffer(size) : new ArrayBuffer(size)
    }
    const store = first !== undefined
      ? new TruncOutput(makeDense(first.dtype, this.memory, first.offset, op.numel), first.dtype, params)
      : new TruncBits(new Uint8Array(bits as ArrayBufferLike), params)
    const state = { ...tc.state }
    let done = tc.done
    while (!done) {
      done = truncNormalRun(this.gen, params, store, state, STEP_NS)
      this.at = { op: i, drawn: 0, trunc: { state: { ...state }, done, copied: 0, ...(bits !== undefined ? { bits } : {}) } }
      if (done && first !== undefined) yield op.numel * itemSize(first.dtype)
      else yield 0
    }
    // copies, a piece at a time (deep copies: TransformerEncoder layers)
    if (first !== undefined && outs.length > 1) {
      const size = itemSize(first.dtype)
      const piece = Math.max(1, Math.floor(COPY_STEP_BYTES / size))
      for (let p = tc.copied; p < op.numel; p += piece) {
        const count = Math.min(piece, op.numel - p)
        const src = new Uint8Array(this.memory, first.offset + p * size, count * size)
        for (const o of outs.slice(1)) new Uint8Array(this.memory, o.offset + p * size, count * size).set(src)
        this.at = { op: i, drawn: 0, trunc: { state, done: true, copied: p + count } }
        yield count * size * (outs.length - 1)
      }
    }
    this.at = { op: i + 1, drawn: 0 }
  }

  private * philox (): Generator<number> {
    const { exec, memory, slice } = this
    for (let i = Math.max(this.at.op, slice.from.op); i < exec.ops.length && before({ op: i, elem: 0 }, slice.to); i++) {
      const op = exec.ops[i] as ExecOp
      if (i !== this.at.op) this.at = { op: i, drawn: 0 }
      const s = Math.max(slice.from.op === i ? slice.from.elem : 0, this.at.drawn)
      const e = slice.to.op === i ? slice.to.elem : op.numel
      if (e <= s) continue
      const v = exec.values[op.value] as ExecValue
      const dist = op.dist as PhiloxDist
      yield * fillPieces(exec, memory, op, s, e, (data, first) => {
        const bytes = data instanceof Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
        philoxFill(bytes, op.dtype, dist, { seed: exec.seed, name: v.key }, first)
      }, (q) => { this.at.drawn = q })
    }
  }
}

/** A whole slice as one generator of steps (tests, and the cpu device). */
export function runDraws (exec: InitExec, memory: ArrayBufferLike, slice: Slice = ALL): Generator<number> {
  return new DrawRun(exec, memory, slice).steps()
}

const fround = Math.fround
const largestDraw = (2 ** 24 - 1) * 2 ** -24

/**
 * uniformFill, but for float32 without torch 2.x's "v == to -> from" pass when no value can reach
 * `to`: the values are nondecreasing in the draw, so that holds when the largest draw's value
 * fma32((2^24-1)/2^24, range, from) is below `to` (always, for the usual ±bound). Same bytes,
 * about 30% faster (the pass re-reads every element). Bounds were checked when the op was planned.
 */
function uniform (gen: CpuGenerator, t: { dtype: FloatDtype, data: Uint8Array | DenseArray }, low: number, high: number): void {
  if (t.dtype === 'float32') {
    const from = fround(low); const to = fround(high); const range = fround(to - from)
    const d = t.data
    const view = d instanceof Float32Array ? d : d instanceof Uint8Array && d.byteOffset % 4 === 0 ? new Float32Array(d.buffer, d.byteOffset, d.byteLength / 4) : undefined
    if (view !== undefined && range > 0 && fma32(largestDraw, range, from) < to) {
      uniformF32(gen, view, 0, view.length, 0xffffff, 2 ** -24, from, range, NaN)
      return
    }
  }
  uniformFill(gen, t, low, high)
}

/** The bytes the fill writes whole: every drawn output and its copies (constants and patches are not counted). */
export function drawnSpans (exec: InitExec): Array<{ offset: number, nbytes: number }> {
  return exec.values.flatMap((v) => v.outputs.map((i) => {
    const o = exec.outputs[i] as ExecOutput
    return { offset: o.offset, nbytes: o.numel * itemSize(o.dtype) }
  }))
}

/** padding_idx rows (after the copies: a copy's own patches are applied to it). */
export function applyPatches (exec: InitExec, memory: ArrayBufferLike): void {
  for (const o of exec.outputs) {
    for (const p of o.patches) {
      const src = o.srcDtype
      const v = decodeElement(src, encodeElement(src, p.value))
      const data = allocDense(o.dtype, p.count).fill(encodeElement(o.dtype, v))
      const size = itemSize(o.dtype)
      new Uint8Array(memory, o.offset + p.start * size, p.count * size).set(new Uint8Array(data.buffer))
    }
  }
}

// ---------------------------------------------------------------------------------------------
// driving a materialization

/** What init-worker.ts receives: a slice, where in it to start (absent: its beginning), and how long to run (default TASK_MS). */
export interface InitTask { exec: InitExec, slice: Slice, memory: SharedArrayBuffer, control: SharedArrayBuffer, from?: Cursor | undefined, taskMs?: number }

export const initWorkerFile = new URL(`./init-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url).href

/** Below this estimated cost (ns) one task does it all: splitting costs more than it saves. */
const PARALLEL_MIN_COST = 100e6

export interface InitFillContext {
  device: 'cpu' | 'worker'
  pool?: Piscina | undefined
  /** worker tasks per phase; default: the pool's thread count */
  parallelism?: number
  /** estimated single-thread cost (ns) below which one task does it all; default 100 ms */
  minParallelCost?: number
  /** the bytes the registry counts for this fill (the file's data size): reported in full at the end */
  totalBytes?: number
  /** milliseconds of work per pool task (default init-worker.ts TASK_MS) */
  taskMs?: number
}

/**
 * The fill for registry.start(): draws, copies and patches (constants are the registry's
 * FillRanges). On "cpu" it runs here in steps that yield to the event loop; on "worker" in the pool.
 */
export function initFiller (exec: InitExec, ctx: InitFillContext) {
  return async (arena: { memory: ArrayBufferLike }, signal: AbortSignal, report: (bytes: number) => void): Promise<void> => {
    const memory = arena.memory
    let reported = 0
    const progress = (bytes: number): void => {
      const n = Math.min(bytes, (ctx.totalBytes ?? Infinity) - reported)
      if (n > 0) { reported += n; report(n) }
    }
    const pool = ctx.pool
    if (ctx.device === 'worker' && pool !== undefined && memory instanceof SharedArrayBuffer) {
      const threads = ctx.parallelism ?? Math.max(1, pool.threads.length)
      await onPool(exec, memory, pool, estimateCost(exec) < (ctx.minParallelCost ?? PARALLEL_MIN_COST) ? 1 : threads, signal, progress, ctx.taskMs)
    } else {
      for (const bytes of runDraws(exec, memory)) {
        if (signal.aborted) throw new Error('cancelled')
        if (bytes > 0) progress(bytes)
        await yieldToLoop()
      }
    }
    if (signal.aborted) throw new Error('cancelled')
    applyPatches(exec, memory)
    if (ctx.totalBytes !== undefined) progress(ctx.totalBytes - reported)
  }
}

async function onPool (exec: InitExec, memory: SharedArrayBuffer, pool: Piscina, threads: number, signal: AbortSignal,
  progress: (bytes: number) => void, taskMs?: number): Promise<void> {
  const control = new SharedArrayBuffer(16)
  const flag = new Int32Array(control, 0, 1)
  const done = new BigInt64Array(control, 8, 1)
  const onAbort = (): void => { Atomics.store(flag, 0, 1) }
  signal.addEventListener('abort', onAbort, { once: true })
  let reported = 0
  const report = (): void => {
    const now = Number(Atomics.load(done, 0))
    if (now > reported) { progress(now - reported); reported = now }
  }
  const timer = setInterval(report, 50)
  try {
    const slices = sliceStream(exec, threads)
    // each slice is a chain of short tasks, each resuming where the last stopped: a queued task of
    // another fill gets the next free thread instead of waiting for this whole fill
    await Promise.all(slices.map(async (slice) => {
      let from: Cursor | undefined
      for (;;) {
        const task: InitTask = { exec, slice, memory, control, from, ...(taskMs !== undefined ? { taskMs } : {}) }
        // no abort signal: piscina would terminate the thread running the task (and a result racing the
        // abort is an 'Unexpected message' error); the cancel flag stops the task within a step
        const r = await pool.run(task, { filename: initWorkerFile }) as { cancelled: boolean, next: Cursor | null }
        if (r.cancelled || r.next === null || signal.aborted) return
        from = r.next
      }
    }))
    if (Atomics.load(flag, 0) !== 0) throw new Error('cancelled')
  } finally {
    clearInterval(timer)
    report()
    signal.removeEventListener('abort', onAbort)
  }
}
