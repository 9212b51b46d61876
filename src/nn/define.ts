// The declarative shape of one torch.nn class. One definition drives argument binding and checks,
// the catalog entry (signature, doc), the tensor layout and the default init; nothing else lists
// classes.
//
// How a family file adds classes: export `defs` (an array of defineModule(...) results) from
// src/nn/modules/<family>.ts and add that array to src/nn/registry.ts. Example:
//
//   export const linear = defineModule({
//     name: 'Linear',
//     pyModule: 'torch.nn.modules.linear',
//     acceptsDevice: true,
//     signature: {                 // Python parameter order; arg.* coerce and give the catalog type
//       in_features: arg.dim(),     // a size PyTorch hands to torch.empty unchecked
//       out_features: arg.dim(),
//       bias: arg.bool(true),
//       device: arg.device(),
//       dtype: arg.dtype()
//     },
//     build (a) {   // __init__: a.in_features: number, a.bias: boolean, a.dtype: DType | null ...
//       const dtype = a.dtype ?? DEFAULT_DTYPE
//       return {
//         tensors: [
//           parameter('weight', [a.out_features, a.in_features], dtype),
//           ...(a.bias ? [parameter('bias', a.out_features, dtype)] : [])   // torch.empty(n) form
//         ]
//       }
//     },
//     init: {       // reset_parameters(): same typed arguments, the module's own tensors, torch.nn.init
//       doc: 'U(-1/sqrt(in_features), 1/sqrt(in_features))',
//       reset (a, m, init) { init.kaimingUniform(m.tensor('weight'), Math.sqrt(5)) ... }
//     },
//     doc: (init) => `y = xA^T + b. weight: (out_features, in_features), bias: (out_features), both from ${init}.`,
//     repr: (a, r) =>  // extra_repr(): what print(module) shows inside the parentheses (src/nn/repr.ts)
//       `in_features=${r.str('in_features')}, out_features=${r.str('out_features')}, bias=${r.has('bias') ? 'True' : 'False'}`
//   })
//
// build() runs after binding and coercion, so it only performs PyTorch's own checks (ctx.fail with
// PyTorch's message) and returns the module's own tensors in registration order plus its children.
// Submodules a PyTorch __init__ creates itself come from ctx.make('Linear', [a, b], {...}).
// init.reset() runs when a seeded init replays the construction (src/init/module-init.ts), after
// the inits of the submodules; its `doc` is the distribution as the catalog states it, and the
// class's doc is written around it, so the distribution is written once. A class that registers
// parameters has an init (test/init/module-init.test.ts checks the catalog).
import { materiaError } from '../errors.js'
import { type DType, DTYPES, numelOf } from '../tensor/dtype.js'
import type { TensorKind } from '../schemas/vocabulary.js'
import type { InitRecorder } from '../init/init-recorder.js'
import type { Instance } from '../init/module-instance.js'
import type { BoundArgs, Signature } from './bind-args.js'
import { dimValue, sizeTypeError } from './dims.js'

/** One tensor a module registers itself (register_parameter / register_buffer). */
export interface OwnTensor {
  readonly name: string
  readonly kind: TensorKind
  readonly shape: readonly number[]
  readonly dtype: DType
  readonly numel: number
  readonly requiresGrad: boolean
  readonly persistent: boolean
  /** constructor value of a buffer (torch.zeros → 0, torch.ones → 1); undefined: uninitialized */
  readonly fill?: number
  /** constructor values of a buffer computed element by element (a rotary embedding's inv_freq), in its dtype */
  readonly values?: readonly number[]
}

/**
 * A tensor size as PyTorch code passes it to a factory: a number n is `torch.empty(n)`, an array is
 * `torch.empty((a, b, ...))`. The two forms word type errors differently, hence the distinction.
 */
export type Size = number | readonly number[]

const INT64_MAX = 2n ** 63n - 1n

/** torch.empty/zeros/ones' checks, in their order: element types, then negative sizes, then overflow. */
function checkShape (factory: string, size: Size, dtype: DType): { shape: number[], numel: number } {
  const scalar = !Array.isArray(size)
  const elems: readonly number[] = scalar ? [size as number] : size as readonly number[]
  const typeMessage = sizeTypeError(factory, elems, scalar)
  if (typeMessage !== undefined) throw materiaError('constructorArgs', { message: typeMessage })
  const shape = elems.map(dimValue)
  const neg = shape.find((d) => d < 0)
  if (neg !== undefined) throw materiaError('constructorArgs', { message: `Trying to create tensor with negative dimension ${neg}: [${shape.join(', ')}]` })
  if (shape.some((d) => !Number.isSafeInteger(d))) {
    throw materiaError('sizeBeyond53', { shape: shape.join(', ') })
  }
  if (!shape.includes(0) && shape.reduce((p, d) => p * BigInt(d), BigInt(DTYPES[dtype].bytes)) > INT64_MAX) {
    throw materiaError('constructorArgs', { message: `Storage size calculation overflowed with sizes=[${shape.join(', ')}]` })
  }
  // beyond 2^53 PyTorch would still build on meta, but our sizes would no longer be exact: 400 specTooLarge
  return { shape, numel: numelOf(shape) }
}

/** nn.Parameter(torch.empty(size, dtype)). */
export function parameter (name: string, size: Size, dtype: DType, opts: { requiresGrad?: boolean } = {}): OwnTensor {
  const requiresGrad = opts.requiresGrad ?? true
  const { shape, numel } = checkShape('empty', size, dtype)
  if (requiresGrad && !DTYPES[dtype].floating) {
    throw materiaError('constructorArgs', { message: 'Only Tensors of floating point and complex dtype can require gradients' })
  }
  return { name, kind: 'parameter', shape, dtype, numel, requiresGrad, persistent: true }
}

/**
 * register_buffer(name, tensor, persistent). `fill` is the value the constructor writes
 * (torch.zeros → 0, torch.ones → 1; undefined: torch.empty), which also names the factory in errors.
 */
export function buffer (name: string, size: Size, dtype: DType, fill?: number, opts: { persistent?: boolean } = {}): OwnTensor {
  const factory = fill === 0 ? 'zeros' : fill === 1 ? 'ones' : 'empty'
  const { shape, numel } = checkShape(factory, size, dtype)
  const t: OwnTensor = { name, kind: 'buffer', shape, dtype, numel, requiresGrad: false, persistent: opts.persistent ?? true }
  return fill === undefined ? t : { ...t, fill }
}

const MODULE_TAG = Symbol.for('materia.nn.module')
const NON_MODULE_TAG = Symbol.for('materia.nn.nonModule')

/** A built module: immutable, so a deep copy (TransformerEncoder's clones) may share subtrees. */
export interface ModuleNode {
  readonly [MODULE_TAG]: true
  /** construction order (Python's evaluation order: nested specs first, then the module) */
  readonly id: number
  /** set on deep copies: the id of the module copied (values start identical) */
  readonly copyOf?: number
  readonly def: AnyModuleDef
  /** short class name, 'Linear' */
  readonly name: string
  /** 'torch.nn.Linear' */
  readonly qualname: string
  /** the coerced arguments build() saw, for later init replay */
  readonly bound: Readonly<Record<string, unknown>>
  /** the arguments as bound before coercion (defaults filled in) and the names the caller passed: what repr() prints */
  readonly raw: Readonly<Record<string, unknown>>
  readonly given: ReadonlySet<string>
  readonly tensors: readonly OwnTensor[]
  /** named children in registration order; null is a registered None (skipped by state_dict) */
  readonly children: ReadonlyArray<readonly [string, ModuleNode | null]>
  /** tensor-name groups relative to this module that share storage */
  readonly ties: ReadonlyArray<readonly string[]>
  /** 1 + descendants, tensors in the subtree, tree height: checked against limits at construction */
  readonly moduleCount: number
  readonly tensorCount: number
  readonly depth: number
}

/** A class name that is not a module (torch.Tensor, torch.optim.SGD) used where a module may be. */
export interface NonModuleRef {
  readonly [NON_MODULE_TAG]: true
  /** torch.typename(cls), e.g. 'torch.optim.sgd.SGD' */
  readonly typename: string
  /** repr(cls), e.g. "<class 'torch.optim.sgd.SGD'>" */
  readonly pyClass: string
}

export function isModuleNode (value: unknown): value is ModuleNode {
  return typeof value === 'object' && value !== null && MODULE_TAG in value
}

export function isNonModuleRef (value: unknown): value is NonModuleRef {
  return typeof value === 'object' && value !== null && NON_MODULE_TAG in value
}

export function nonModuleRef (typename: string): NonModuleRef {
  return { [NON_MODULE_TAG]: true, typename, pyClass: `<class '${typename}'>` }
}

export { MODULE_TAG }

/** What build() may use besides its arguments. */
export interface BuildContext {
  /** 'Linear', 'torch.nn.Linear', and the __init__ qualname used in messages ('_BatchNorm.__init__') */
  readonly name: string
  readonly qualname: string
  readonly fn: string
  /** constructs a submodule the way `Linear(a, b, **factory_kwargs)` inside an __init__ does */
  make (className: string, args?: readonly unknown[], kwargs?: Readonly<Record<string, unknown>>): ModuleNode
  /** copy.deepcopy(module) */
  clone (node: ModuleNode): ModuleNode
  /** whether the caller passed this parameter (false: its default was used) */
  given (param: string): boolean
  /** a PyTorch ValueError/TypeError/RuntimeError text → 400 constructorArgs */
  fail (message: string): never
  /** says how many tensors the module is about to make (`exact: false`: at least), so a tensor limit stops it before it does */
  expectTensors (n: number, exact?: boolean): void
  /** torch.get_default_dtype() during this build (from_config sets it from the config's dtype) */
  readonly defaultDtype: DType
}

export interface BuildResult {
  /** own parameters and buffers in registration order (state_dict puts parameters first anyway) */
  readonly tensors?: readonly OwnTensor[]
  readonly children?: ReadonlyArray<readonly [string, ModuleNode | null]>
  /** ties the class makes itself (a transformers model's tie_weights()), in the form of a spec's "ties" */
  readonly ties?: ReadonlyArray<readonly string[]>
}

/**
 * What a class's extra_repr() reads besides its coerced arguments: `str`/`repr` of an attribute that
 * holds an argument as the caller gave it (a JSON array is a list, an integral number an int, a
 * default number of a float parameter a float), `tuple` of a coerced size (`(3, 3)`, `(4,)`), and
 * whether the module registered a tensor (`self.bias is not None`).
 */
export interface ReprContext {
  str (param: string): string
  repr (param: string): string
  tuple (param: string): string
  has (tensor: string): boolean
  given (param: string): boolean
}

/**
 * A class's reset_parameters() (or whatever its __init__ writes into its tensors), run by the init
 * replay with the arguments build() saw. `A` is the bound arguments it reads (unknown: none).
 */
export interface ModuleInit<A = unknown> {
  /** the distributions in a few words, as the class's catalog doc states them */
  readonly doc: string
  /** `m` is the constructed module (its own tensors, its children), `init` torch.nn.init over its storages */
  reset (a: A, m: Instance, init: InitRecorder): void
}

export interface ModuleDef<S extends Signature = Signature> {
  /** 'Linear' */
  readonly name: string
  /** 'torch.nn.Linear' (public path) */
  readonly qualname: string
  /** where the class lives, 'torch.nn.modules.linear' (also accepted as a name prefix) */
  readonly pyModule: string
  /** qualname of the __init__ that runs, as Python's messages name it */
  readonly fn: string
  readonly acceptsDevice: boolean
  readonly doc: string
  readonly signature: S
  build (a: BoundArgs<S>, ctx: BuildContext): BuildResult
  /** undefined: the class writes nothing into tensors of its own (it may have none) */
  readonly init?: ModuleInit<BoundArgs<S>>
  /** extra_repr(): the text print(module) shows inside the class's parentheses (undefined: '') */
  readonly repr?: (a: BoundArgs<S>, r: ReprContext) => string
}

// build's parameter type differs per definition; the registry only calls it with matching args

export type AnyModuleDef = ModuleDef<any>

interface ModuleDefBase<S extends Signature> {
  name: string
  /** defaults to 'torch.nn.' + name */
  qualname?: string
  pyModule: string
  /** class that defines the __init__ that runs, when inherited (e.g. '_BatchNorm'); default name */
  initClass?: string
  acceptsDevice: boolean
  signature: S
  build: (a: BoundArgs<S>, ctx: BuildContext) => BuildResult
  /** extra_repr(), beside __init__ as in PyTorch's module files */
  repr?: (a: BoundArgs<S>, r: ReprContext) => string
}

/** A class with an init writes its doc around the init's description; one without has a plain doc. */
export type ModuleDefInput<S extends Signature> = ModuleDefBase<S> & (
  | { init?: undefined, doc: string }
  | { init: ModuleInit<BoundArgs<S>>, doc: (init: string) => string }
)

export function defineModule<S extends Signature> (d: ModuleDefInput<S>): ModuleDef<S> {
  const def: ModuleDef<S> = {
    name: d.name,
    qualname: d.qualname ?? `torch.nn.${d.name}`,
    pyModule: d.pyModule,
    fn: `${d.initClass ?? d.name}.__init__`,
    acceptsDevice: d.acceptsDevice,
    doc: d.init === undefined ? d.doc : d.doc(d.init.doc),
    signature: d.signature,
    build: d.build,
    ...(d.repr !== undefined ? { repr: d.repr } : {})
  }
  return d.init === undefined ? def : { ...def, init: d.init }
}
