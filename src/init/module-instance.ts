// The Python objects the init replay constructs: a module instance holds its own tensors (each a
// slot naming a storage; ties make two slots name one storage) and its registered children. This is
// what a definition's init (src/nn/define.ts ModuleInit) sees as `self`.
import { forEachStateTensor } from '../nn/state-dict.js'
import type { Storage } from './init-recorder.js'
import type { TensorKind } from '../schemas/vocabulary.js'

export interface Slot { readonly name: string, readonly kind: TensorKind, readonly persistent: boolean, storage: Storage }

/** A constructed module object: its class name, own tensor slots and registered children. */
export class Instance {
  constructor (
    /** short class name, 'Linear' */
    readonly name: string,
    readonly tensors: Slot[],
    readonly children: Array<[string, Instance | null]>,
    /** the arguments its build() saw (a transformers _init_weights reads e.g. an Embedding's padding_idx) */
    readonly args: Readonly<Record<string, unknown>> = {}
  ) {}

  slot (name: string): Slot | undefined {
    return this.tensors.find((s) => s.name === name)
  }

  /** The storage registered under `name` (own tensor), or undefined (e.g. bias=False). */
  own (name: string): Storage | undefined {
    return this.slot(name)?.storage
  }

  /** The storage registered under `name`, which the module's own layout always has. */
  tensor (name: string): Storage {
    const s = this.own(name)
    if (s === undefined) throw new Error(`internal: ${this.name}.${name} is missing`)
    return s
  }

  child (name: string): Instance | undefined {
    return this.children.find(([n]) => n === name)?.[1] ?? undefined
  }

  /**
   * Module.parameters(): named_modules() pre-order, each module's own parameters, every storage
   * once. That is the state_dict order of the parameters without repeats (a module reached twice
   * has the same storages, so skipping repeated storages skips it too).
   */
  parameters (): Storage[] {
    const seen = new Set<Storage>()
    forEachStateTensor(this, (s) => {
      if (s.kind === 'parameter') seen.add(s.storage)
    })
    return [...seen]
  }
}

export interface StateEntry { name: string, storage: Storage, persistent: boolean }

/** The module's tensors in its table's order: state_dict(), then non-persistent buffers. */
export function stateEntries (root: Instance): StateEntry[] {
  const out: StateEntry[] = []
  forEachStateTensor(root, (s, name) => out.push({ name, storage: s.storage, persistent: s.persistent }))
  return out
}
