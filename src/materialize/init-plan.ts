// Planning init "default" (and per-tensor overrides): planInit() replays the module
// (src/init/module-init.ts), applies the overrides, and turns the result into an InitExec, plain
// data a worker thread can receive.
//   * ops: every RNG op in stream order, with the MT19937 outputs it consumes (known in advance
//     for uniform_ and the normal_ fill path; the scalar path (numel < 16) and trunc_normal_ are
//     computed wherever they are passed, which also keeps torch's cached Box-Muller sample right).
//   * values: the draws whose values survive; each is computed once, into its first output, and
//     copied to the others (deep copies: TransformerEncoder layers). Draws whose values are
//     overwritten later (Linear biases under MultiheadAttention, layer weights under
//     Transformer._reset_parameters) are skipped with MT19937.discard.
//   * outputs: one per arena storage (tied aliases share one), with padding_idx rows as patches;
//     constant bases become FillRanges.
// How it is run: draw-run.ts (a slice of the stream, in steps), fill-range.ts (any byte range).
import type { ModuleNode } from '../nn/define.js'
import { isFloatDType, type FloatDType } from '../tensor/dtype.js'
import { decodeElement, encodeElement, itemSize } from '../init/distributions.js'
import type { Dist, Patch, Storage } from '../init/init-recorder.js'
import { replayModule } from '../init/module-init.js'
import { stateEntries } from '../init/module-instance.js'
import { applyOverrides, type Override } from '../init/init-overrides.js'
import type { FillRange } from './constant-fill.js'
import type { ArenaPlan } from './plan.js'
import type { InitKind, Rng } from '../schemas/vocabulary.js'

export interface ExecOp {
  readonly dtype: FloatDType
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
  readonly dtype: FloatDType
  /** the module's dtype, in which torch computes the values */
  readonly srcDtype: FloatDType
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
  base: InitKind
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
function fillDraws (dtype: FloatDType, dist: Dist, n: number): number {
  const per = dtype === 'float64' ? 2 : 1
  if (dist.kind === 'uniform') return n * per
  if (dtype === 'float16' || dtype === 'bfloat16') return 16 * Math.ceil(n / 16)
  return (n + (n % 16 !== 0 ? 16 : 0)) * per
}

/**
 * Replays `root`'s construction (base 'default': the module's own init) plus `overrides`, and
 * lays the values out over `plan` (whose tensors may be cast to another dtype than the module's).
 * Arguments PyTorch would reject raise MateriaErrors with their code (MATERIA_ERR_INIT_UNAVAILABLE,
 * MATERIA_ERR_MATERIALIZATION_OPTIONS).
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
    if (base.kind === 'empty' && t.kind === 'buffer' && t.values !== undefined) {
      // a buffer its constructor computed element by element (inv_freq) and no init rewrote
      constants.push({ offset: t.offset, nbytes: t.nbytes, dtype: t.dtype, value: 0, values: t.values })
    }
    if (base.kind === 'const') {
      // constant_ writes the value in the module's dtype; a materialization cast rounds it again
      const v = isFloatDType(s.dtype) ? decodeElement(s.dtype, encodeElement(s.dtype, base.value)) : base.value
      // +0 is what a new arena holds: no pass over those bytes
      if (t.nbytes > 0 && !(v === 0 && !Object.is(v, -0))) constants.push({ offset: t.offset, nbytes: t.nbytes, dtype: t.dtype, value: v })
    }
    if (base.kind !== 'draw' && patches.length === 0) return
    if (!isFloatDType(t.dtype) || !isFloatDType(s.dtype)) throw new Error(`internal: random init of non-floating ${t.name}`)
    const index = outputs.length
    outputs.push({ name: t.name, offset: t.offset, dtype: t.dtype, srcDtype: s.dtype, numel: t.numel, patches })
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

/** The bytes the fill writes whole: every drawn output and its copies (constants and patches are not counted). */
export function drawnSpans (exec: InitExec): Array<{ offset: number, nbytes: number }> {
  return exec.values.flatMap((v) => v.outputs.map((i) => {
    const o = exec.outputs[i] as ExecOutput
    return { offset: o.offset, nbytes: o.numel * itemSize(o.dtype) }
  }))
}
