// Module spec (JSON) → tree of ModuleNodes → flat TensorSpec list in state_dict order.
// Evaluation mirrors a Python call: nested specs inside args/kwargs are constructed first, in the
// order they appear (that is Python's argument evaluation order, and therefore the RNG order a
// seeded init has to replay), then the outer arguments are bound, coerced and built.
import { materiaError, type MateriaError } from '../errors.js'
import { contiguousStrides, DEFAULT_DTYPE, type DType, DTYPES } from '../tensor/dtype.js'
import type { TensorSpec } from '../tensor/spec.js'
import { argError, bindArguments, coerceBound, setOwn } from './bind-args.js'
import { keyError } from './py-repr.js'
import { dimValue, isRawDim } from './dims.js'
import { findConfigDef, findModuleDef, findNonModule, unknownClassError } from './catalog.js'
import { type ConfigDef, constructConfig, isConfigValue } from './transformers/config.js'
import { expandConfigSpec } from './transformers/auto.js'
import { forEachStateTensor } from './state-dict.js'
import { checkTies, tiedTo } from './ties.js'
import { LIMITS } from './limits.js'
import { isPythonSpec, jsonSpecOf } from './python-spec/parse.js'
import { pythonOf } from './python-spec/print.js'
import {
  type AnyModuleDef, type BuildContext, isModuleNode, MODULE_TAG, type ModuleNode, nonModuleRef,
  type NonModuleRef, type OwnTensor
} from './define.js'

export { LIMITS } from './limits.js'

export interface BuiltModule {
  qualname: string
  /** as given, with nested class names qualified */
  args: unknown[]
  kwargs: Record<string, unknown>
  acceptsDevice: boolean
  /** the canonical Python expression of the call (src/nn/python-spec/print.ts); undefined when Python cannot say it */
  python: string | undefined
  /** state_dict order, then non-persistent buffers */
  tensors: TensorSpec[]
  /** the config.json of a `{"config": …}` spec (args and kwargs are the class-form call it stands for) */
  config?: Record<string, unknown>
}

const SPEC_KEYS = new Set(['class', 'args', 'kwargs', 'ties'])

function isPlainObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !isModuleNode(v) && !isConfigValue(v)
}

/**
 * An object is a module spec when its "class" is a string, or its "python" (the spec written as
 * Python, src/nn/python-spec); ModuleDict keys may be anything else.
 */
function isSpec (v: unknown): v is Record<string, unknown> {
  return isPlainObject(v) && (typeof v.class === 'string' || isPythonSpec(v))
}

interface Evaluated { value: unknown; echo: unknown }

/** 413: more tensors than the caller's limit (the tenant's maxModuleTensors, docs/tenants.md). */
export function tooManyTensors (tensors: number, max: number, whole = true): MateriaError {
  return materiaError(whole ? 'moduleTensors' : 'moduleTensorsAtLeast', { count: tensors, max })
}

class Builder {
  private nextId = 0
  private constructed = 0

  /** `maxTensors` stops the build as soon as a submodule (or a module's own tensor list) would pass it. */
  constructor (private readonly maxTensors = Infinity, private readonly defaultDtype: DType = DEFAULT_DTYPE) {}

  /** Evaluates a spec: a ModuleNode, or a NonModuleRef for names such as torch.Tensor. */
  spec (given: Record<string, unknown>, depth: number): { value: ModuleNode | NonModuleRef; echo: Record<string, unknown> } {
    if (depth > LIMITS.maxDepth) throw materiaError('specNestsDeep', { max: LIMITS.maxDepth })
    const raw = jsonSpecOf(given) as Record<string, unknown>
    for (const k of Object.keys(raw)) {
      if (!SPEC_KEYS.has(k)) throw materiaError('specUnknownKey', { key: k })
    }
    const name = raw.class as string
    const def = findModuleDef(name)
    const configDef = def === undefined ? findConfigDef(name) : undefined
    if (configDef !== undefined) return this.config(configDef, raw, depth)
    if (def === undefined) {
      const nm = findNonModule(name)
      if (nm === undefined) throw unknownClassError(name)
      return { value: nonModuleRef(nm.typename), echo: { ...raw, class: nm.name } }
    }
    if (raw.args !== undefined && !Array.isArray(raw.args)) throw materiaError('specArgsNotList', { module: def.name })
    if (raw.kwargs !== undefined && !isPlainObject(raw.kwargs)) throw materiaError('specKwargsNotObject', { module: def.name })
    const ties = parseTies(raw.ties)

    const args: unknown[] = []
    const argsEcho: unknown[] = []
    for (const v of (raw.args ?? []) as unknown[]) {
      const e = this.value(v, depth, 1)
      args.push(e.value)
      argsEcho.push(e.echo)
    }
    const kwargs: Record<string, unknown> = {}
    const kwargsEcho: Record<string, unknown> = {}
    for (const [k, v] of Object.entries((raw.kwargs ?? {}) as Record<string, unknown>)) {
      const e = this.value(v, depth, 1)
      setOwn(kwargs, k, e.value)
      setOwn(kwargsEcho, k, e.echo)
    }
    const node = this.construct(def, args, kwargs, ties, depth)
    const echo: Record<string, unknown> = { class: def.qualname }
    if (raw.args !== undefined) echo.args = argsEcho
    if (raw.kwargs !== undefined) echo.kwargs = kwargsEcho
    if (raw.ties !== undefined) echo.ties = ties
    return { value: node, echo }
  }

  /** `XConfig(**kwargs)`: a transformers configuration, the argument of its model classes. */
  private config (def: ConfigDef, raw: Record<string, unknown>, depth: number): { value: ModuleNode | NonModuleRef; echo: Record<string, unknown> } {
    if (raw.ties !== undefined) throw materiaError('specUnknownKey', { key: 'ties' })
    if (raw.args !== undefined && (!Array.isArray(raw.args) || raw.args.length > 0)) {
      throw materiaError('constructorArgs', { message: `${def.name}.__init__() takes 1 positional argument but ${Array.isArray(raw.args) ? raw.args.length + 1 : 2} were given` })
    }
    if (raw.kwargs !== undefined && !isPlainObject(raw.kwargs)) throw materiaError('specKwargsNotObject', { module: def.name })
    const e = this.value(raw.kwargs ?? {}, depth, 1)
    const value = constructConfig(def, e.value as Record<string, unknown>) as unknown as ModuleNode
    return { value, echo: { class: def.qualname, kwargs: e.echo } }
  }

  private value (v: unknown, depth: number, valueDepth: number): Evaluated {
    if (valueDepth > LIMITS.maxValueDepth) throw materiaError('argumentsNestDeep', { max: LIMITS.maxValueDepth })
    if (typeof v === 'number' && !Number.isFinite(v)) throw materiaError('nonFiniteArgument', {})
    if (Array.isArray(v)) {
      const items = v.map((x) => this.value(x, depth, valueDepth + 1))
      return { value: items.map((e) => e.value), echo: items.map((e) => e.echo) }
    }
    if (isSpec(v)) return this.spec(v, depth + 1)
    if (isPlainObject(v)) {
      const value: Record<string, unknown> = {}
      const echo: Record<string, unknown> = {}
      for (const [k, x] of Object.entries(v)) {
        const e = this.value(x, depth, valueDepth + 1)
        setOwn(value, k, e.value)
        setOwn(echo, k, e.echo)
      }
      return { value, echo }
    }
    return { value: v, echo: v }
  }

  construct (def: AnyModuleDef, args: readonly unknown[], kwargs: Readonly<Record<string, unknown>>, ties: string[][], depth: number): ModuleNode {
    if (depth > LIMITS.maxDepth) throw materiaError('treeNestsDeep', { max: LIMITS.maxDepth })
    if (++this.constructed > LIMITS.maxModules) throw materiaError('specConstructsMany', { max: LIMITS.maxModules })
    const { raw, given } = bindArguments(def.fn, def.signature, args, kwargs)
    const bound = coerceBound(def.fn, def.signature, raw)
    const ctx: BuildContext = {
      name: def.name,
      qualname: def.qualname,
      fn: def.fn,
      make: (className, a = [], k = {}) => {
        const d = findModuleDef(className)
        if (d === undefined) throw new Error(`internal: ${def.name} makes unknown class ${className}`)
        return this.construct(d, a, k, [], depth + 1)
      },
      clone: (node) => this.clone(node),
      given: (param) => given.has(param),
      fail: argError,
      expectTensors: (n, exact = true) => { if (n > this.maxTensors) throw tooManyTensors(n, this.maxTensors, exact && depth === 1) },
      defaultDtype: this.defaultDtype
    }
    const result = def.build(bound, ctx)
    const tensors = result.tensors ?? []
    const children = result.children ?? []
    const allTies = result.ties !== undefined && result.ties.length > 0 ? [...result.ties.map((g) => [...g]), ...ties] : ties
    const seen = new Set<string>()
    for (const t of tensors) {
      if (seen.has(t.name)) throw new Error(`internal: ${def.name} registers '${t.name}' twice`)
      seen.add(t.name)
    }
    let moduleCount = 1
    let tensorCount = tensors.length
    let height = 0
    for (const [name, child] of children) {
      checkChildName(name, seen)
      seen.add(name)
      if (child === null) continue
      moduleCount += child.moduleCount
      tensorCount += child.tensorCount
      height = Math.max(height, child.depth)
    }
    if (height + 1 > LIMITS.maxDepth) throw materiaError('treeNestsDeep', { max: LIMITS.maxDepth })
    if (moduleCount > LIMITS.maxModules) throw materiaError('tooManySubmodules', { count: moduleCount, max: LIMITS.maxModules })
    if (tensorCount > LIMITS.maxTensors) throw materiaError('tooManySpecTensors', { max: LIMITS.maxTensors })
    if (tensorCount > this.maxTensors) throw tooManyTensors(tensorCount, this.maxTensors, depth === 1)
    const node: ModuleNode = {
      [MODULE_TAG]: true,
      id: this.nextId++,
      def,
      name: def.name,
      qualname: def.qualname,
      bound: settle(bound),
      raw,
      given,
      tensors,
      children,
      ties: allTies,
      moduleCount,
      tensorCount,
      depth: height + 1
    }
    if (allTies.length > 0) checkTies(node)
    return node
  }

  /** copy.deepcopy: same layout, fresh identity; the copied values start equal to the source's. */
  clone (node: ModuleNode): ModuleNode {
    this.constructed += node.moduleCount
    if (this.constructed > LIMITS.maxModules) throw materiaError('specConstructsMany', { max: LIMITS.maxModules })
    return { ...node, id: this.nextId++, copyOf: node.copyOf ?? node.id }
  }
}

/** Bound args for later readers: a size that built (True as a dimension) is its int again. */
function settle (bound: Record<string, unknown>): Record<string, unknown> {
  const fix = (v: unknown): unknown => isRawDim(v) ? dimValue(v as number) : Array.isArray(v) ? v.map(fix) : v
  return Object.fromEntries(Object.entries(bound).map(([k, v]) => [k, fix(v)]))
}

/** nn.Module.add_module's checks (KeyError texts). */
function checkChildName (name: string, taken: Set<string>): void {
  if (name.includes('.')) keyError(`module name can't contain ".", got: ${name}`)
  if (name === '') keyError('module name can\'t be empty string ""')
  if (taken.has(name)) keyError(`attribute '${name}' already exists`)
}

function parseTies (raw: unknown): string[][] {
  if (raw === undefined) return []
  if (!Array.isArray(raw) || !raw.every((g) => Array.isArray(g) && g.every((n) => typeof n === 'string'))) {
    throw materiaError('tiesNotList', {})
  }
  return raw as string[][]
}

// ---------------------------------------------------------------------------------------------
// flattening

function toSpec (t: OwnTensor, name: string): TensorSpec {
  const s: TensorSpec = {
    name,
    kind: t.kind,
    shape: [...t.shape],
    dtype: t.dtype,
    stride: contiguousStrides(t.shape),
    numel: t.numel,
    nbytes: t.numel * DTYPES[t.dtype].bytes,
    requiresGrad: t.requiresGrad,
    persistent: t.persistent
  }
  if (t.fill !== undefined) s.fill = t.fill
  if (t.values !== undefined) s.values = [...t.values]
  if (!Number.isSafeInteger(s.nbytes)) throw materiaError('tensorTooLarge', { name, nbytes: s.nbytes })
  return s
}

/** The flat tensor table; tied tensors other than the kept one of their group get tiedTo (src/nn/ties.ts). */
export function flatten (root: ModuleNode): TensorSpec[] {
  const out: TensorSpec[] = []
  const index = new Map<string, number>()
  forEachStateTensor(root, (t, name) => {
    index.set(name, out.length)
    out.push(toSpec(t, name))
  })
  for (const [name, kept] of tiedTo(root, index)) {
    const s = out[index.get(name) as number] as TensorSpec
    s.tiedTo = kept
    // a tied name is an alias of the kept storage (`a.weight = b.weight`)
    s.requiresGrad = (out[index.get(kept) as number] as TensorSpec).requiresGrad
  }
  return out
}

/**
 * What a module's record costs before its tensor table is made: tensors, and the heap bytes the
 * table will hold (docs/tenants.md: measured ~336 bytes a tensor besides its name). The tree is
 * small even when its table is not (clones share their subtrees), so this is cheap.
 */
export interface ModuleCost { tensors: number; recordBytes: number }

/** Heap bytes of one tensor's entry in a module record, besides its name (measured; docs/tenants.md). */
export const RECORD_BYTES_PER_TENSOR = 336

/** Sum of the state_dict key lengths of a node's tensors, relative to the node; shared subtrees counted once. */
function nameChars (node: ModuleNode, memo: Map<number, number>): number {
  // a clone (copy.deepcopy) has the layout of the node it copies
  const key = node.copyOf ?? node.id
  const known = memo.get(key)
  if (known !== undefined) return known
  let n = 0
  for (const t of node.tensors) n += t.name.length
  for (const [name, child] of node.children) {
    if (child !== null) n += child.tensorCount * (name.length + 1) + nameChars(child, memo)
  }
  memo.set(key, n)
  return n
}

export function moduleCost (root: ModuleNode): ModuleCost {
  return { tensors: root.tensorCount, recordBytes: root.tensorCount * RECORD_BYTES_PER_TENSOR + nameChars(root, new Map()) }
}

/**
 * The root spec → its module tree (kept for init replay) and the JSON-safe table. `admit` sees the
 * module's cost once the tree is built and before the table is, and throws to refuse it.
 */
export interface BuildOptions {
  /** the tensor limit, checked while the tree is built (413 MATERIA_ERR_MODULE_TOO_LARGE) */
  maxTensors?: number
  admit?: (cost: ModuleCost) => void
}

export function buildModuleTree (raw: unknown, opts: BuildOptions = {}): { root: ModuleNode; built: BuiltModule } {
  if (!isPlainObject(raw)) throw materiaError('specNotObject', {})
  // {"config": {…config.json…}}: the class-form spec AutoModelForCausalLM.from_config stands for
  const expanded = raw.class === undefined && raw.config !== undefined ? expandConfigSpec(raw) : undefined
  const spec: Record<string, unknown> = expanded?.spec ?? raw
  if (!isSpec(spec)) throw materiaError('specNoClass', {})
  const b = new Builder(opts.maxTensors, expanded?.defaultDtype ?? DEFAULT_DTYPE)
  const { value, echo } = b.spec(spec, 1)
  if (!isModuleNode(value)) throw materiaError('notAModule', { pyClass: value.pyClass })
  opts.admit?.(moduleCost(value))
  const tensors = flatten(value)
  if (tensors.length > LIMITS.maxTensors) throw materiaError('tooManySpecTensors', { max: LIMITS.maxTensors })
  const args = (echo.args ?? []) as unknown[]
  const kwargs = (echo.kwargs ?? {}) as Record<string, unknown>
  return {
    root: value,
    built: {
      qualname: value.qualname,
      args,
      kwargs,
      acceptsDevice: value.def.acceptsDevice,
      python: pythonOf({ class: value.qualname, args, kwargs }),
      tensors,
      ...(expanded !== undefined ? { config: raw.config as Record<string, unknown> } : {})
    }
  }
}

export function buildModule (spec: unknown, opts: BuildOptions = {}): BuiltModule {
  return buildModuleTree(spec, opts).built
}
