// Tied tensors: a spec's `ties: [["lm_head.weight", "embed.weight"]]`, names relative to the module
// that declares them. A group [a, …, z] is what `a = z; …` does in Python once that module is
// constructed: every name of the group holds the last one's tensor. Two readers, one meaning:
//   * values: the init replay (src/init/module-init.ts) assigns the storages in that order, so the
//     group holds the values of the tensor assigned, z (PyTorch's result);
//   * layout: the tensor table (src/nn/build.ts) keeps the group's first name in state_dict order
//     as the storage and gives every other name `tiedTo` it (the golden layouts require that order,
//     not the name's sort order: test/fixtures/nn-layouts.json case ties-moduledict-later-source).
// A safetensors file keeps the name that sorts first instead, as safetensors' save_model does
// (src/serialize/safetensors-layout.ts).
import { materiaError } from '../errors.js'
import type { ModuleNode, OwnTensor } from './define.js'
import { forEachStateTensor } from './state-dict.js'

/** The assignments one group stands for, in order: [alias, assigned] (`alias = assigned`). */
export function tieAssignments (group: readonly string[]): Array<readonly [string, string]> {
  const assigned = group[group.length - 1] as string
  return group.slice(0, -1).map((alias) => [alias, assigned] as const)
}

/** Checks a node's ties (names relative to it), so a bad tie fails where it is written. */
export function checkTies (node: ModuleNode): void {
  const byName = new Map<string, OwnTensor>()
  forEachStateTensor(node, (t, name) => byName.set(name, t))
  for (const group of node.ties) {
    const first = group[0] as string
    for (const n of group) {
      const t = byName.get(n)
      if (t === undefined) throw materiaError('tieUnknown', { name: n, module: node.name })
      const f = byName.get(first) as OwnTensor
      if (t.kind !== f.kind) throw materiaError('tieKind', { name: n, kind: t.kind, target: first, targetKind: f.kind })
      if (t.dtype !== f.dtype || t.shape.length !== f.shape.length || t.shape.some((d, i) => d !== f.shape[i])) {
        throw materiaError('tieShape', { name: n, dtype: t.dtype, shape: t.shape.join(', '), target: first, targetDtype: f.dtype, targetShape: f.shape.join(', ') })
      }
    }
  }
}

/**
 * Every tied name of the tree → the name that keeps the storage: the groups of all modules joined
 * (a name in two groups joins them), each kept under its first name in `order` (state_dict order).
 */
export function tiedTo (root: ModuleNode, order: ReadonlyMap<string, number>): Map<string, string> {
  const parent = new Map<string, string>()
  const find = (n: string): string => {
    let r = n
    while (parent.has(r)) r = parent.get(r) as string
    return r
  }
  const rec = (node: ModuleNode, prefix: string): void => {
    for (const group of node.ties) {
      for (const [alias, assigned] of tieAssignments(group)) {
        const a = find(prefix + assigned)
        const b = find(prefix + alias)
        if (a === b) continue
        const [keep, drop] = (order.get(a) as number) <= (order.get(b) as number) ? [a, b] : [b, a]
        parent.set(drop, keep)
      }
    }
    for (const [name, child] of node.children) {
      if (child !== null && child.tensorCount > 0) rec(child, `${prefix}${name}.`)
    }
  }
  rec(root, '')
  const out = new Map<string, string>()
  for (const name of parent.keys()) out.set(name, find(name))
  return out
}
