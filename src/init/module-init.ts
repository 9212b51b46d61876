// Seeded default initialisation of a built module tree, as `torch.manual_seed(s); torch.nn.X(...)`
// performs it: which tensor receives which torch.nn.init operation, in the order PyTorch's RNG sees
// them (torch-init.md §5).
//
// The module tree from src/nn/build.ts is replayed as Python would have executed the constructor
// call. Every ModuleNode is one constructed object; node ids are construction-completion order
// (nested specs are evaluated first, in argument order; submodules an __init__ makes come before
// the module itself; a deep copy gets its id when copy.deepcopy runs). A module's own
// reset_parameters() runs at the end of its __init__, i.e. at its id. So replaying every node in id
// order, with a small Python object model (instances holding storages), gives:
//   * the RNG op list in stream order (RngOp[]: the draws torch makes, all of them, including the
//     ones whose values are overwritten later, since they still advance the generator), and
//   * for each final state_dict entry the storage it holds and that storage's value: a base (a
//     draw, a constant, or nothing = torch.empty) plus later partial writes (padding_idx rows).
// Deep copies (TransformerEncoder/Decoder layers) draw nothing: the copy shares the source's value
// expression, so the values are drawn once and copied. Ties (`a.weight = b.weight`, the last name
// of a tie group being the tensor assigned) replace the storage in a slot, after the module that
// declares them is constructed, so the surviving values are those of the assigned tensor.
//
// The rules live in one table keyed by qualname (below), so no module definition file changes.
import { DTYPES, type DType } from '../tensor/dtype.js'
import { isModuleNode, type ModuleNode } from '../nn/define.js'
import { calculateFanInAndFanOut, calculateGain } from './nn-init.js'
import type { FloatDtype } from './distributions.js'

// ---------------------------------------------------------------------------------------------
// values and storages

export type Dist =
  | { readonly kind: 'uniform', readonly low: number, readonly high: number }
  | { readonly kind: 'normal', readonly mean: number, readonly std: number }
  | { readonly kind: 'trunc_normal', readonly mean: number, readonly std: number, readonly a: number, readonly b: number }

/** One RNG-consuming operation on a whole contiguous tensor, in stream order. */
export interface RngOp {
  readonly dtype: FloatDtype
  readonly numel: number
  readonly dist: Dist
  /** e.g. "kaiming_uniform_(a=sqrt(5)) on torch.nn.Linear.weight", for messages and debugging */
  readonly what: string
}

export type Base =
  | { readonly kind: 'empty' }
  | { readonly kind: 'const', readonly value: number }
  | { readonly kind: 'draw', readonly op: number }

/** A partial write after the base: elements [start, start + count) := value. */
export interface Patch { readonly start: number, readonly count: number, readonly value: number }

/** Immutable: a deep copy shares it, so the copy has the same values without drawing. */
export interface Value { readonly base: Base, readonly patches: readonly Patch[] }

export class Storage {
  constructor (
    readonly id: number,
    readonly dtype: DType,
    readonly shape: readonly number[],
    readonly numel: number,
    public value: Value
  ) {}

  get floating (): boolean { return DTYPES[this.dtype].floating }
}

interface Slot { readonly name: string, readonly kind: 'parameter' | 'buffer', readonly persistent: boolean, storage: Storage }

/** A constructed Python module object: its own tensor slots and its registered children. */
export class Instance {
  constructor (
    readonly node: ModuleNode,
    readonly slots: Slot[],
    readonly children: Array<[string, Instance | null]>
  ) {}

  slot (name: string): Slot | undefined {
    return this.slots.find((s) => s.name === name)
  }

  /** The storage registered under `name` (own tensor), or undefined. */
  own (name: string): Storage | undefined {
    return this.slot(name)?.storage
  }

  child (name: string): Instance | undefined {
    return this.children.find(([n]) => n === name)?.[1] ?? undefined
  }
}

export class InitRuleError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'InitRuleError'
  }
}

// ---------------------------------------------------------------------------------------------
// torch.nn.init over storages: records ops, computes bounds in Python's order

const isFloat = (d: DType): d is FloatDtype => d === 'float32' || d === 'float64' || d === 'float16' || d === 'bfloat16'

// std::numeric_limits<T>::max(): torch's range checks of uniform_ bounds
const dtypeMax: Record<FloatDtype, number> = { float32: 3.4028234663852886e38, float64: Number.MAX_VALUE, float16: 65504, bfloat16: 3.3895313892515355e38 }

export class InitRecorder {
  readonly ops: RngOp[] = []

  private floating (s: Storage, fn: string): FloatDtype {
    if (!isFloat(s.dtype)) throw new InitRuleError(`${fn} needs a floating-point tensor, got ${s.dtype}`)
    return s.dtype
  }

  private draw (s: Storage, dist: Dist, what: string): void {
    const dtype = this.floating(s, what)
    if (s.numel === 0) { // torch: CHECK_EMPTY_AND_RETURN, no draws
      s.value = { base: { kind: 'empty' }, patches: [] }
      return
    }
    this.ops.push({ dtype, numel: s.numel, dist, what })
    s.value = { base: { kind: 'draw', op: this.ops.length - 1 }, patches: [] }
  }

  /** nn.init.uniform_(t, a, b); bounds as Python doubles. */
  uniform (s: Storage, a: number, b: number, what = 'uniform_'): void {
    const dtype = this.floating(s, what)
    if (!Number.isFinite(a) || !Number.isFinite(b)) throw new InitRuleError(`uniform_ expects finite bounds, got from=${a} to=${b}`)
    if (Math.abs(a) > dtypeMax[dtype] || Math.abs(b) > dtypeMax[dtype]) {
      throw new InitRuleError(`uniform_ bounds ${a}, ${b} are outside the range of ${dtype}`)
    }
    if (!(a <= b)) throw new InitRuleError(`uniform_ expects to return a [from, to) range, but found from=${a} > to=${b}`)
    if (b - a > dtypeMax[dtype]) {
      throw new InitRuleError(`uniform_ expects to-from <= std::numeric_limits<${dtype}>::max(), but found to=${b} and from=${a}`)
    }
    this.draw(s, { kind: 'uniform', low: a, high: b }, what)
  }

  /** nn.init.normal_(t, mean, std). */
  normal (s: Storage, mean: number, std: number, what = 'normal_'): void {
    this.floating(s, what)
    if (!(std >= 0) || !Number.isFinite(std)) throw new InitRuleError(`normal expects std >= 0.0, but found std ${std}`)
    if (!Number.isFinite(mean)) throw new InitRuleError(`normal expects a finite mean, but found mean ${mean}`)
    this.draw(s, { kind: 'normal', mean, std }, what)
  }

  /** nn.init.trunc_normal_ (torch >= 2.12 rejection sampling; the p <= 0.3 branch is refused by the caller). */
  truncNormal (s: Storage, mean: number, std: number, a: number, b: number, what = 'trunc_normal_'): void {
    this.floating(s, what)
    if (!(std > 0) || !Number.isFinite(std) || !Number.isFinite(mean) || !Number.isFinite(a) || !Number.isFinite(b)) {
      throw new InitRuleError(`trunc_normal_ needs finite mean, a, b and std > 0, got mean=${mean} std=${std} a=${a} b=${b}`)
    }
    this.draw(s, { kind: 'trunc_normal', mean, std, a, b }, what)
  }

  /** nn.init.constant_ / ones_ / zeros_ (and the fills of torch.zeros / torch.ones buffers). No RNG. */
  constant (s: Storage, value: number): void {
    s.value = { base: { kind: 'const', value }, patches: [] }
  }

  /** constant_ as a user calls it: fill_ refuses a value the dtype cannot hold (c10::checked_convert). */
  checkedConstant (s: Storage, value: number): void {
    if (isFloat(s.dtype) && Number.isFinite(value) && Math.abs(value) > dtypeMax[s.dtype]) {
      const c10 = { float32: 'float', float64: 'double', float16: 'c10::Half', bfloat16: 'c10::BFloat16' }[s.dtype]
      throw new InitRuleError(`value cannot be converted to type ${c10} without overflow`)
    }
    this.constant(s, value)
  }

  /** Tensor[row].fill_(value) on a 2-D tensor (Embedding's padding_idx). */
  fillRow (s: Storage, row: number, value: number): void {
    const width = s.shape[1] ?? 1
    if (width === 0) return
    s.value = { base: s.value.base, patches: [...s.value.patches, { start: row * width, count: width, value }] }
  }

  /** nn.init.kaiming_uniform_: a zero-size dimension makes it a no-op (torch warns, draws nothing). */
  kaimingUniform (s: Storage, a = 0, mode = 'fan_in', nonlinearity = 'leaky_relu', what = 'kaiming_uniform_'): void {
    if (s.shape.includes(0)) return
    const fan = correctFan(s.shape, mode)
    const gain = calculateGain(nonlinearity, a)
    const std = gain / Math.sqrt(fan)
    const bound = Math.sqrt(3.0) * std
    this.uniform(s, -bound, bound, what)
  }

  /** nn.init.kaiming_normal_ (same zero-size rule). */
  kaimingNormal (s: Storage, a = 0, mode = 'fan_in', nonlinearity = 'leaky_relu', what = 'kaiming_normal_'): void {
    if (s.shape.includes(0)) return
    const fan = correctFan(s.shape, mode)
    const gain = calculateGain(nonlinearity, a)
    const std = gain / Math.sqrt(fan)
    this.normal(s, 0, std, what)
  }

  /** nn.init.xavier_uniform_: a = sqrt(3) * gain * sqrt(2 / (fan_in + fan_out)). */
  xavierUniform (s: Storage, gain = 1.0, what = 'xavier_uniform_'): void {
    const std = gain * Math.sqrt(pyDiv(2.0, fanSum(s.shape)))
    const a = Math.sqrt(3.0) * std
    this.uniform(s, -a, a, what)
  }

  /** nn.init.xavier_normal_: N(0, gain * sqrt(2 / (fan_in + fan_out))). */
  xavierNormal (s: Storage, gain = 1.0, what = 'xavier_normal_'): void {
    const std = gain * Math.sqrt(pyDiv(2.0, fanSum(s.shape)))
    this.normal(s, 0.0, std, what)
  }
}

function fans (shape: readonly number[]): { fanIn: number, fanOut: number } {
  try {
    return calculateFanInAndFanOut(shape)
  } catch (err) {
    throw new InitRuleError((err as Error).message)
  }
}

function fanSum (shape: readonly number[]): number {
  const { fanIn, fanOut } = fans(shape)
  return fanIn + fanOut
}

function correctFan (shape: readonly number[], mode: string): number {
  const m = mode.toLowerCase()
  if (m !== 'fan_in' && m !== 'fan_out') throw new InitRuleError(`Mode ${mode} not supported, please use one of fan_in, fan_out`)
  const { fanIn, fanOut } = fans(shape)
  const fan = m === 'fan_in' ? fanIn : fanOut
  if (fan === 0) throw new InitRuleError('float division by zero')
  return fan
}

function pyDiv (a: number, b: number): number {
  if (b === 0) throw new InitRuleError('float division by zero')
  return a / b
}

// ---------------------------------------------------------------------------------------------
// the per-class rules: reset_parameters() / _reset_parameters() of each class with tensors

type Rule = (inst: Instance, rec: InitRecorder) => void

const SQRT5 = Math.sqrt(5)

function must (s: Storage | undefined, what: string): Storage {
  if (s === undefined) throw new Error(`internal: ${what} is missing`)
  return s
}

/** bound(...) as a Python int 0 when fan_in == 0, else 1 / math.sqrt(fan_in). */
function biasUniform (rec: InitRecorder, weight: Storage, bias: Storage, what: string): void {
  const { fanIn } = fans(weight.shape)
  if (fanIn > 0) {
    const bound = 1 / Math.sqrt(fanIn)
    rec.uniform(bias, -bound, bound, what)
  } else {
    rec.uniform(bias, 0, 0, what) // `bound = 0` is an int: -0 == 0
  }
}

/** Linear.reset_parameters and _ConvNd.reset_parameters (2.x: fan_in == 0 gives U(0, 0) too). */
const linearLike = (cls: string): Rule => (inst, rec) => {
  const w = must(inst.own('weight'), `${cls}.weight`)
  rec.kaimingUniform(w, SQRT5, 'fan_in', 'leaky_relu', `kaiming_uniform_(a=sqrt(5)) on ${cls}.weight`)
  const b = inst.own('bias')
  if (b !== undefined) biasUniform(rec, w, b, `uniform_(-1/sqrt(fan_in), 1/sqrt(fan_in)) on ${cls}.bias`)
}

const bilinear: Rule = (inst, rec) => {
  const w = must(inst.own('weight'), 'Bilinear.weight')
  const bound = 1 / Math.sqrt(w.shape[1] as number)
  rec.uniform(w, -bound, bound, 'uniform_(-1/sqrt(in1), 1/sqrt(in1)) on Bilinear.weight')
  const b = inst.own('bias')
  if (b !== undefined) rec.uniform(b, -bound, bound, 'uniform_(-1/sqrt(in1), 1/sqrt(in1)) on Bilinear.bias')
}

/** Embedding/EmbeddingBag.reset_parameters: normal_(weight), then weight[padding_idx].fill_(0). */
const embedding = (cls: string): Rule => (inst, rec) => {
  const w = must(inst.own('weight'), `${cls}.weight`)
  rec.normal(w, 0, 1, `normal_ on ${cls}.weight`)
  const raw = inst.node.bound.padding_idx
  if (typeof raw === 'number') {
    const rows = w.shape[0] as number
    const row = raw < 0 ? rows + raw : raw
    rec.fillRow(w, row, 0)
  }
}

/** LayerNorm, GroupNorm, RMSNorm, _NormBase: weight ones_, bias zeros_, running stats reset. */
const norm: Rule = (inst, rec) => {
  for (const s of inst.slots) {
    if (s.name === 'weight') rec.constant(s.storage, 1)
    else if (s.name === 'bias') rec.constant(s.storage, 0)
    else if (s.name === 'running_mean') rec.constant(s.storage, 0)
    else if (s.name === 'running_var') rec.constant(s.storage, 1)
    else if (s.name === 'num_batches_tracked') rec.constant(s.storage, 0)
  }
}

const prelu: Rule = (inst, rec) => {
  const init = inst.node.bound.init
  rec.constant(must(inst.own('weight'), 'PReLU.weight'), typeof init === 'number' ? init : 0.25)
}

/** Python number value of a raw bound argument (True is 1). */
function pyInt (v: unknown): number {
  if (typeof v === 'boolean') return v ? 1 : 0
  if (typeof v === 'number') return v
  throw new Error(`internal: expected a number, got ${typeof v}`)
}

/** RNNBase / RNNCellBase.reset_parameters: every parameter ~ U(-stdv, stdv) in registration order. */
const recurrent = (cls: string): Rule => (inst, rec) => {
  const hidden = pyInt(inst.node.bound.hidden_size)
  const stdv = hidden > 0 ? 1.0 / Math.sqrt(hidden) : 0
  for (const s of inst.slots) {
    if (s.kind !== 'parameter') continue
    if (hidden > 0) rec.uniform(s.storage, -stdv, stdv, `uniform_(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) on ${cls}.${s.name}`)
    else rec.uniform(s.storage, 0, 0, `uniform_(0, 0) on ${cls}.${s.name}`)
  }
}

/** MultiheadAttention._reset_parameters (out_proj's own Linear init already ran when it was built). */
const multiheadAttention: Rule = (inst, rec) => {
  const inProj = inst.own('in_proj_weight')
  if (inProj !== undefined) {
    rec.xavierUniform(inProj, 1.0, 'xavier_uniform_ on MultiheadAttention.in_proj_weight')
  } else {
    for (const n of ['q_proj_weight', 'k_proj_weight', 'v_proj_weight']) {
      rec.xavierUniform(must(inst.own(n), n), 1.0, `xavier_uniform_ on MultiheadAttention.${n}`)
    }
  }
  const inBias = inst.own('in_proj_bias')
  if (inBias !== undefined) {
    rec.constant(inBias, 0)
    const outBias = inst.child('out_proj')?.own('bias')
    if (outBias !== undefined) rec.constant(outBias, 0)
  }
  const bk = inst.own('bias_k')
  if (bk !== undefined) rec.xavierNormal(bk, 1.0, 'xavier_normal_ on MultiheadAttention.bias_k')
  const bv = inst.own('bias_v')
  if (bv !== undefined) rec.xavierNormal(bv, 1.0, 'xavier_normal_ on MultiheadAttention.bias_v')
}

/** Transformer._reset_parameters: xavier_uniform_ on every parameter with dim > 1, parameters() order. */
const transformer: Rule = (inst, rec) => {
  for (const { storage } of parameters(inst)) {
    if (storage.shape.length > 1) rec.xavierUniform(storage, 1.0, 'xavier_uniform_ (Transformer._reset_parameters)')
  }
}

/** The rules, by qualname. Classes that own no tensors (containers, the transformer layers, ...) need none. */
export const MODULE_RULES: Readonly<Record<string, Rule>> = {
  'torch.nn.Linear': linearLike('Linear'),
  'torch.nn.modules.linear.NonDynamicallyQuantizableLinear': linearLike('NonDynamicallyQuantizableLinear'),
  'torch.nn.Bilinear': bilinear,
  'torch.nn.Conv1d': linearLike('Conv1d'),
  'torch.nn.Conv2d': linearLike('Conv2d'),
  'torch.nn.Conv3d': linearLike('Conv3d'),
  'torch.nn.ConvTranspose1d': linearLike('ConvTranspose1d'),
  'torch.nn.ConvTranspose2d': linearLike('ConvTranspose2d'),
  'torch.nn.ConvTranspose3d': linearLike('ConvTranspose3d'),
  'torch.nn.Embedding': embedding('Embedding'),
  'torch.nn.EmbeddingBag': embedding('EmbeddingBag'),
  'torch.nn.LayerNorm': norm,
  'torch.nn.GroupNorm': norm,
  'torch.nn.RMSNorm': norm,
  'torch.nn.BatchNorm1d': norm,
  'torch.nn.BatchNorm2d': norm,
  'torch.nn.BatchNorm3d': norm,
  'torch.nn.SyncBatchNorm': norm,
  'torch.nn.InstanceNorm1d': norm,
  'torch.nn.InstanceNorm2d': norm,
  'torch.nn.InstanceNorm3d': norm,
  'torch.nn.PReLU': prelu,
  'torch.nn.RNN': recurrent('RNN'),
  'torch.nn.LSTM': recurrent('LSTM'),
  'torch.nn.GRU': recurrent('GRU'),
  'torch.nn.RNNCell': recurrent('RNNCell'),
  'torch.nn.LSTMCell': recurrent('LSTMCell'),
  'torch.nn.GRUCell': recurrent('GRUCell'),
  'torch.nn.MultiheadAttention': multiheadAttention,
  'torch.nn.Transformer': transformer
}

// ---------------------------------------------------------------------------------------------
// the Python object model

/** named_modules() (deduplicated, pre-order) then each module's own parameters: parameters(). */
export function * parameters (inst: Instance): Generator<{ name: string, storage: Storage }> {
  const seenModules = new Set<Instance>()
  const seenParams = new Set<Storage>()
  function * rec (m: Instance, prefix: string): Generator<{ name: string, storage: Storage }> {
    if (seenModules.has(m)) return
    seenModules.add(m)
    for (const s of m.slots) {
      if (s.kind !== 'parameter' || seenParams.has(s.storage)) continue
      seenParams.add(s.storage)
      yield { name: prefix + s.name, storage: s.storage }
    }
    for (const [n, c] of m.children) if (c !== null) yield * rec(c, `${prefix}${n}.`)
  }
  yield * rec(inst, '')
}

/** state_dict() order (parameters, persistent buffers, children), then non-persistent buffers (as flatten()). */
export function stateEntries (root: Instance): Array<{ name: string, storage: Storage, persistent: boolean }> {
  const out: Array<{ name: string, storage: Storage, persistent: boolean }> = []
  const later: Array<{ name: string, storage: Storage, persistent: boolean }> = []
  const rec = (m: Instance, prefix: string): void => {
    for (const s of m.slots) if (s.kind === 'parameter') out.push({ name: prefix + s.name, storage: s.storage, persistent: true })
    for (const s of m.slots) {
      if (s.kind !== 'buffer') continue
      if (s.persistent) out.push({ name: prefix + s.name, storage: s.storage, persistent: true })
      else later.push({ name: prefix + s.name, storage: s.storage, persistent: false })
    }
    for (const [n, c] of m.children) if (c !== null) rec(c, `${prefix}${n}.`)
  }
  rec(root, '')
  return [...out, ...later]
}

/** Every constructed node: the tree's children plus modules held in bound arguments (deep-copy sources). */
function collectNodes (root: ModuleNode): Map<number, ModuleNode> {
  const all = new Map<number, ModuleNode>()
  const stack: unknown[] = [root]
  const seenValues = new Set<unknown>()
  while (stack.length > 0) {
    const v = stack.pop()
    if (typeof v !== 'object' || v === null || seenValues.has(v)) continue
    seenValues.add(v)
    if (isModuleNode(v)) {
      if (!all.has(v.id)) all.set(v.id, v)
      for (const [, c] of v.children) if (c !== null) stack.push(c)
      for (const x of Object.values(v.bound)) stack.push(x)
    } else if (Array.isArray(v)) {
      for (const x of v) stack.push(x)
    } else if (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null) {
      for (const x of Object.values(v as Record<string, unknown>)) stack.push(x)
    }
  }
  // build.ts numbers every construction (deep copies included) 0, 1, ... and the root last: a node
  // missing here would silently drop its draws from the stream
  if (all.size !== root.id + 1) throw new Error(`internal: found ${all.size} of the ${root.id + 1} modules constructed for ${root.name}`)
  return all
}

export type BaseInit = 'default' | 'empty' | 'zeros' | 'ones'

export interface ModuleReplay {
  /** RNG ops in stream order (after the module's construction, overrides append theirs) */
  readonly recorder: InitRecorder
  readonly root: Instance
}

/**
 * Replays the construction of `root` (Python's order) and records each class's own init.
 * base 'default' runs the rules; 'empty' / 'zeros' / 'ones' leave parameters empty or constant
 * (buffers always get their constructor values), like skip_init / materia's constant inits.
 */
export function replayModule (root: ModuleNode, base: BaseInit = 'default'): ModuleReplay {
  const rec = new InitRecorder()
  const nodes = collectNodes(root)
  const instances = new Map<number, Instance>()
  let nextStorage = 0
  const paramValue: Value = base === 'ones'
    ? { base: { kind: 'const', value: 1 }, patches: [] }
    : base === 'zeros' ? { base: { kind: 'const', value: 0 }, patches: [] } : { base: { kind: 'empty' }, patches: [] }

  const deepCopy = (src: Instance): Instance => {
    const memoI = new Map<Instance, Instance>()
    const memoS = new Map<Storage, Storage>()
    const copyS = (s: Storage): Storage => {
      let c = memoS.get(s)
      if (c === undefined) {
        c = new Storage(nextStorage++, s.dtype, s.shape, s.numel, s.value)
        memoS.set(s, c)
      }
      return c
    }
    const copyI = (m: Instance): Instance => {
      let c = memoI.get(m)
      if (c !== undefined) return c
      c = new Instance(m.node, [], [])
      memoI.set(m, c)
      for (const s of m.slots) c.slots.push({ ...s, storage: copyS(s.storage) })
      for (const [n, ch] of m.children) c.children.push([n, ch === null ? null : copyI(ch)])
      return c
    }
    return copyI(src)
  }

  for (const id of [...nodes.keys()].sort((a, b) => a - b)) {
    const node = nodes.get(id) as ModuleNode
    let inst: Instance
    if (node.copyOf !== undefined) {
      const src = instances.get(node.copyOf)
      if (src === undefined) throw new Error(`internal: deep-copy source #${node.copyOf} of ${node.name} was not constructed`)
      inst = deepCopy(src)
      instances.set(id, new Instance(node, inst.slots, inst.children))
      continue // copy.deepcopy runs no __init__ and no reset_parameters; ties were copied along
    }
    const slots: Slot[] = node.tensors.map((t) => {
      const value: Value = t.kind === 'buffer'
        ? (t.fill !== undefined ? { base: { kind: 'const', value: t.fill }, patches: [] } : { base: { kind: 'empty' }, patches: [] })
        : paramValue
      return { name: t.name, kind: t.kind, persistent: t.persistent, storage: new Storage(nextStorage++, t.dtype, t.shape, t.numel, value) }
    })
    const children: Array<[string, Instance | null]> = node.children.map(([n, c]) => {
      if (c === null) return [n, null]
      const ci = instances.get(c.id)
      if (ci === undefined) throw new Error(`internal: child ${n} (#${c.id}) of ${node.name} (#${id}) is constructed after it`)
      return [n, ci]
    })
    inst = new Instance(node, slots, children)
    instances.set(id, inst)
    if (base === 'default') {
      const rule = MODULE_RULES[node.qualname]
      if (rule !== undefined) rule(inst, rec)
      else if (node.tensors.some((t) => t.kind === 'parameter')) {
        throw new InitRuleError(`no default init rule for ${node.qualname}`)
      }
    }
    applyTies(inst, node)
  }
  const rootInst = instances.get(root.id)
  if (rootInst === undefined) throw new Error('internal: root was not constructed')
  return { recorder: rec, root: rootInst }
}

/** Each tie group [a, ..., z] is `a = z; ...` (the last tensor is the one assigned), relative to the node. */
function applyTies (inst: Instance, node: ModuleNode): void {
  for (const group of node.ties) {
    const source = findSlot(inst, group[group.length - 1] as string)
    for (const name of group.slice(0, -1)) findSlot(inst, name).slot.storage = source.slot.storage
  }
}

function findSlot (inst: Instance, dotted: string): { owner: Instance, slot: Slot } {
  const parts = dotted.split('.')
  const attr = parts.pop() as string
  let m: Instance | undefined = inst
  for (const p of parts) m = m?.child(p)
  const slot = m?.slot(attr)
  if (m === undefined || slot === undefined) throw new Error(`internal: tie names unknown tensor '${dotted}'`)
  return { owner: m, slot }
}
