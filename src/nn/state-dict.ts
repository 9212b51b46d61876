// The order of a module's tensors, written once for the built tree (src/nn/build.ts) and for the
// module objects of the init replay (src/init/module-instance.ts). Module.state_dict() takes a
// module's parameters, then its persistent buffers, then each child in registration order
// (_save_to_state_dict in torch/nn/modules/module.py); materia's tensor table appends the
// non-persistent buffers after that, in the same order, so every tensor has a name and a place.

import type { TensorKind } from '../schemas/vocabulary.js'

/** One tensor a module registered. */
export interface StateTensor {
  readonly name: string
  readonly kind: TensorKind
  readonly persistent: boolean
}

/** A module: its own tensors in registration order and its children (null: a registered None). */
export interface StateModule<T extends StateTensor> {
  readonly tensors: readonly T[]
  readonly children: ReadonlyArray<readonly [string, StateModule<T> | null]>
}

/** Calls `visit` with every tensor and its dotted name: state_dict() order, then non-persistent buffers. */
export function forEachStateTensor<T extends StateTensor> (root: StateModule<T>, visit: (t: T, name: string) => void): void {
  const later: Array<readonly [T, string]> = []
  const rec = (m: StateModule<T>, prefix: string): void => {
    for (const t of m.tensors) if (t.kind === 'parameter') visit(t, prefix + t.name)
    for (const t of m.tensors) {
      if (t.kind !== 'buffer') continue
      if (t.persistent) visit(t, prefix + t.name)
      else later.push([t, prefix + t.name])
    }
    for (const [name, child] of m.children) if (child !== null) rec(child, `${prefix}${name}.`)
  }
  rec(root, '')
  for (const [t, name] of later) visit(t, name)
}
