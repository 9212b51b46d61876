// The typed coercers that turn JSON values into what a module definition's build() receives, and
// `arg`, the parameter builders module signatures are written with (bound by bind-args.ts).
import { materiaError } from '../errors.js'
import { type DType, isSafeInt, parseDType } from '../tensor/dtype.js'
import { isOneOf, MODULE_DEVICES, ModuleDevice } from '../schemas/vocabulary.js'
import { argError, type Coerce, type CoerceCtx, type JsonSchema, type Param } from './bind-args.js'
import { rawDim } from './dims.js'
import { isModuleNode, isNonModuleRef, type ModuleNode } from './define.js'
import { pyTypeName, torchTypeName } from './py-repr.js'

function typeError (c: CoerceCtx, expected: string, value: unknown): never {
  return argError(`${c.fn}(): argument '${c.param}' must be ${expected}, not ${pyTypeName(value)}`)
}

function make<T> (type: string, coerce: Coerce<T>, def?: { value: unknown }, json?: JsonSchema): Param<T> {
  const p: Param<T> = def === undefined
    ? { kind: 'positional_or_keyword', type, required: true, coerce }
    : { kind: 'positional_or_keyword', type, required: false, default: def.value, coerce }
  return json === undefined ? p : { ...p, json }
}

const intOrInts = (n?: number): JsonSchema => ({
  oneOf: [{ type: 'integer' }, { type: 'array', items: { type: 'integer' }, ...(n !== undefined ? { minItems: n, maxItems: n } : {}) }]
})

function withDefault (args: unknown[]): { value: unknown } | undefined {
  return args.length > 0 ? { value: args[0] } : undefined
}

/** A Python int. bool is accepted as 0/1 like Python does; floats and unsafe integers are not. */
export function toInt (value: unknown, c: CoerceCtx): number {
  if (typeof value === 'boolean') return value ? 1 : 0
  if (typeof value === 'number' && Number.isInteger(value)) {
    if (!isSafeInt(value)) throw materiaError('intOutOfRange', { fn: c.fn, param: c.param, value })
    return value
  }
  return typeError(c, 'int', value)
}

export function toFloat (value: unknown, c: CoerceCtx): number {
  if (typeof value === 'boolean') return value ? 1 : 0
  if (typeof value === 'number') return value
  return typeError(c, 'float', value)
}

/** Python truthiness, as `if bias:` sees it; strings are refused because "false" would be truthy. */
export function toBool (value: unknown, c: CoerceCtx): boolean {
  if (typeof value === 'boolean') return value
  if (value === null) return false
  if (typeof value === 'number') return value !== 0
  return typeError(c, 'bool', value)
}

export function toStr (value: unknown, c: CoerceCtx): string {
  if (typeof value === 'string') return value
  return typeError(c, 'str', value)
}

/** torch's _ntuple(n): an iterable becomes a tuple as is (any length), a scalar is repeated n times. */
export function toIntTuple (n: number, value: unknown, c: CoerceCtx): number[] {
  if (Array.isArray(value)) return value.map((v, i) => toInt(v, { fn: c.fn, param: `${c.param}[${i}]` }))
  return new Array<number>(n).fill(toInt(value, c))
}

/**
 * A size that PyTorch passes straight to a tensor factory without checking it: ints pass, other
 * values travel as RawDim so torch.empty's own TypeError can be reported where the tensor is made.
 */
export function toDim (value: unknown, c: CoerceCtx): number {
  if (typeof value === 'number' && Number.isInteger(value) && !Number.isSafeInteger(value)) {
    throw materiaError('intOutOfRange', { fn: c.fn, param: c.param, value })
  }
  return typeof value === 'number' && Number.isInteger(value) ? value : rawDim(value)
}

/**
 * LayerNorm's normalized_shape: an int (not bool: bool is Integral but stays itself) becomes (n,),
 * anything else goes through tuple(), so a list keeps its elements, a string its characters, a
 * dict its keys; non-iterables raise Python's TypeError.
 */
export function toShape (value: unknown, c: CoerceCtx): number[] {
  if (typeof value === 'number' && Number.isInteger(value)) return [toDim(value, c)]
  if (typeof value === 'boolean') return [rawDim(value)]
  let items: unknown[]
  if (Array.isArray(value)) items = value
  else if (typeof value === 'string') items = [...value]
  else if (typeof value === 'object' && value !== null && !isModuleNode(value) && !isNonModuleRef(value)) items = Object.keys(value)
  else return argError(`'${pyTypeName(value)}' object is not iterable`)
  return items.map((v, i) => toDim(v, { fn: c.fn, param: `${c.param}[${i}]` }))
}

export function toDType (value: unknown, c: CoerceCtx): DType {
  const d = parseDType(value)
  if (d !== undefined) return d
  // what torch.empty(..., dtype=x) says; materia's accepted spellings are in the catalog signature
  return argError(`empty(): argument 'dtype' must be torch.dtype, not ${pyTypeName(value)}`)
}

export function toDevice (value: unknown, c: CoerceCtx): ModuleDevice {
  if (isOneOf(ModuleDevice, value)) return value
  if (typeof value === 'string') throw materiaError('unsupportedDevice', { fn: c.fn, device: value })
  return typeError(c, 'str (a device: "meta", "cpu" or "worker")', value)
}

/** A module argument; anything else reads like nn.Module.add_module's TypeError. */
export function toModule (value: unknown, _c: CoerceCtx): ModuleNode {
  if (isModuleNode(value)) return value
  return argError(`${torchTypeName(value)} is not a Module subclass`)
}

/** None stays null, anything else goes through `coerce`. */
export function orNone<T> (coerce: Coerce<T>): Coerce<T | null> {
  return (value, c) => value === null || value === undefined ? null : coerce(value, c)
}

export const arg = {
  int: (...def: [number?]): Param<number> => make('int', toInt, withDefault(def), { type: 'integer' }),
  float: (...def: [number?]): Param<number> => make('float', toFloat, withDefault(def), { type: 'number' }),
  bool: (...def: [boolean?]): Param<boolean> => make('bool', toBool, withDefault(def), { type: 'boolean' }),
  str: (...def: [string?]): Param<string> => make('str', toStr, withDefault(def), { type: 'string' }),
  /** `_size_Nd_t`: int or tuple, normalized with _single/_pair/_triple. */
  intTuple: (n: number, ...def: [(number | number[])?]): Param<number[]> =>
    make(n === 1 ? '_size_1_t' : `_size_${n}_t`, (v, c) => toIntTuple(n, v, c), withDefault(def), intOrInts(n)),
  /** a size handed to torch.empty unchecked (see toDim) */
  dim: (...def: [number?]): Param<number> => make('int', toDim, withDefault(def), { type: 'integer' }),
  shape: (...def: [(number | number[])?]): Param<number[]> => make('Union[int, List[int]]', toShape, withDefault(def), intOrInts()),
  /** `dtype=None` factory kwarg: null means torch.get_default_dtype(); "float32" or "torch.float32". */
  dtype: (): Param<DType | null> => make('Optional[torch.dtype]', orNone(toDType), { value: null }, { type: 'string', nullable: true, description: 'float32 | torch.float32, float64, float16, bfloat16' }),
  /** `device=None` factory kwarg: null means meta (the catalog builds shapes only). */
  device: (): Param<ModuleDevice | null> => make('Optional[Union[str, torch.device]]', orNone(toDevice), { value: null }, { type: 'string', enum: [...MODULE_DEVICES], nullable: true }),
  module: (): Param<ModuleNode> => make('Module', toModule, undefined, { $ref: 'AnyModuleSpec#' }),
  /** Optional[X] = default (None unless given). */
  optional: <T>(p: Param<T>, ...def: [unknown?]): Param<T | null> =>
    make(p.type.startsWith('Optional[') ? p.type : `Optional[${p.type}]`, orNone(p.coerce), { value: def.length > 0 ? def[0] : null },
      p.json === undefined ? undefined : { ...p.json, nullable: true }),
  /** Anything, passed through unchanged (for `*args, **kwargs` that a class ignores). */
  any: (...def: [unknown?]): Param<unknown> => make('Any', (v) => v, withDefault(def)),
  custom: <T>(type: string, coerce: Coerce<T>, ...def: [unknown?]): Param<T> => make(type, coerce, withDefault(def)),
  /** Override the catalog's annotation text. */
  typed: <T>(type: string, p: Param<T>): Param<T> => ({ ...p, type }),
  kwOnly: <T>(p: Param<T>): Param<T> => ({ ...p, kind: 'keyword_only' }),
  /** `*name`: each element goes through p's coercer. */
  varArgs: <T>(p: Param<T>): Param<T[]> => ({
    kind: 'var_positional',
    type: p.type,
    required: false,
    coerce: (v, c) => (v as unknown[]).map((x) => p.coerce(x, c))
  }),
  /** `**name`: each value goes through p's coercer. */
  varKwargs: <T>(p: Param<T>): Param<Record<string, T>> => ({
    kind: 'var_keyword',
    type: p.type,
    required: false,
    coerce: (v, c) => Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, p.coerce(x, { fn: c.fn, param: k })]))
  })
}

/** int or sequence of ints, kept as given (modules that store the value without _ntuple). */
export function toIntOrInts (value: unknown, c: CoerceCtx): number | number[] {
  if (Array.isArray(value)) return value.map((v, i) => toInt(v, { fn: c.fn, param: `${c.param}[${i}]` }))
  return toInt(value, c)
}

/** like toIntOrInts, but None is allowed (alone or per element: AdaptiveAvgPool2d((None, 7))). */
export function toOptIntOrInts (value: unknown, c: CoerceCtx): number | null | Array<number | null> {
  if (Array.isArray(value)) return value.map((v, i) => v === null ? null : toInt(v, { fn: c.fn, param: `${c.param}[${i}]` }))
  return value === null ? null : toInt(value, c)
}

/** float or sequence of floats (scale factors, ratios). */
export function toFloatOrFloats (value: unknown, c: CoerceCtx): number | number[] {
  if (Array.isArray(value)) return value.map((v, i) => toFloat(v, { fn: c.fn, param: `${c.param}[${i}]` }))
  return toFloat(value, c)
}
