// Seeded default initialisation of a built module tree, as `torch.manual_seed(s); torch.nn.X(...)`
// performs it: which tensor receives which torch.nn.init operation, in the order PyTorch's RNG sees
// them.
//
// The module tree from src/nn/build.ts is replayed as Python would have executed the constructor
// call. Every ModuleNode is one constructed object; node ids are construction-completion order
// (nested specs are evaluated first, in argument order; submodules an __init__ makes come before
// the module itself; a deep copy gets its id when copy.deepcopy runs). A module's own
// reset_parameters() (its definition's `init`, src/nn/define.ts) runs at the end of its __init__,
// i.e. at its id. So replaying every node in id order, with module instances holding storages
// (module-instance.ts), gives:
//   * the RNG op list in stream order (RngOp[]: the draws torch makes, all of them, including the
//     ones whose values are overwritten later, since they still advance the generator), and
//   * for each final state_dict entry the storage it holds and that storage's value: a base (a
//     draw, a constant, or nothing = torch.empty) plus later partial writes (padding_idx rows).
// Deep copies (TransformerEncoder/Decoder layers) draw nothing: the copy shares the source's value
// expression, so the values are drawn once and copied. Ties (src/nn/ties.ts) replace the storage in
// a slot after the module that declares them is constructed, so the surviving values are those of
// the assigned tensor.
import { materiaError } from '../errors.js'
import { isModuleNode, type ModuleNode } from '../nn/define.js'
import { tieAssignments } from '../nn/ties.js'
import { InitRecorder, Storage, type Value } from './init-recorder.js'
import { Instance, type Slot } from './module-instance.js'
import type { InitKind } from '../schemas/vocabulary.js'

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

export interface ModuleReplay {
  /** RNG ops in stream order (after the module's construction, overrides append theirs) */
  readonly recorder: InitRecorder
  readonly root: Instance
}

/**
 * Replays the construction of `root` (Python's order) and records each class's own init.
 * base 'default' runs the inits; 'empty' / 'zeros' / 'ones' leave parameters empty or constant
 * (buffers always get their constructor values), like skip_init / materia's constant inits.
 */
export function replayModule (root: ModuleNode, base: InitKind = 'default'): ModuleReplay {
  const rec = new InitRecorder((message) => materiaError('initRejected', { base, qualname: root.qualname, message }))
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
      c = new Instance(m.name, [], [], m.args)
      memoI.set(m, c)
      for (const s of m.tensors) c.tensors.push({ ...s, storage: copyS(s.storage) })
      for (const [n, ch] of m.children) c.children.push([n, ch === null ? null : copyI(ch)])
      return c
    }
    return copyI(src)
  }

  for (const id of [...nodes.keys()].sort((a, b) => a - b)) {
    const node = nodes.get(id) as ModuleNode
    if (node.copyOf !== undefined) {
      const src = instances.get(node.copyOf)
      if (src === undefined) throw new Error(`internal: deep-copy source #${node.copyOf} of ${node.name} was not constructed`)
      instances.set(id, deepCopy(src))
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
    const inst = new Instance(node.name, slots, children, node.bound)
    instances.set(id, inst)
    if (base === 'default') {
      const init = node.def.init
      if (init !== undefined) init.reset(node.bound, inst, rec)
      else if (node.tensors.some((t) => t.kind === 'parameter')) {
        throw materiaError('initNoRule', { base, qualname: root.qualname, module: node.qualname })
      }
    }
    applyTies(inst, node)
  }
  const rootInst = instances.get(root.id)
  if (rootInst === undefined) throw new Error('internal: root was not constructed')
  return { recorder: rec, root: rootInst }
}

/** `alias = assigned` for each tie of the node, names relative to it. */
function applyTies (inst: Instance, node: ModuleNode): void {
  for (const group of node.ties) {
    for (const [alias, assigned] of tieAssignments(group)) findSlot(inst, alias).storage = findSlot(inst, assigned).storage
  }
}

function findSlot (inst: Instance, dotted: string): Slot {
  const parts = dotted.split('.')
  const attr = parts.pop() as string
  let m: Instance | undefined = inst
  for (const p of parts) m = m?.child(p)
  const slot = m?.slot(attr)
  if (slot === undefined) throw new Error(`internal: tie names unknown tensor '${dotted}'`)
  return slot
}
