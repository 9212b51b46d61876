// Python-like argument binding for `Class.__init__(self, ...)` and the typed coercers that turn
// JSON values into what a module definition's build() receives.
// Binding follows CPython 3.11's initialize_locals (ceval.c) step by step, so the error texts and
// their precedence (unexpected/multiple keyword first, then too many positional, then missing
// positional, then missing keyword-only) are the ones Python prints.
import { materiaError } from '../errors.js'
import { type DType, isSafeInt, parseDType } from '../tensor/dtype.js'
import { rawDim } from './dims.js'
import { isModuleNode, isNonModuleRef, type ModuleNode } from './define.js'

export type ParamKind = 'positional_or_keyword' | 'var_positional' | 'keyword_only' | 'var_keyword'

/** Where a value is being coerced, for messages: fn is the Python qualname, e.g. '_BatchNorm.__init__'. */
export interface CoerceCtx {
  readonly fn: string
  readonly param: string
}

export type Coerce<T> = (value: unknown, c: CoerceCtx) => T

/** One Python parameter. `required` false means it has a default, which is passed through `coerce` too. */
export interface Param<T> {
  readonly kind: ParamKind
  /** Python annotation text for the catalog, e.g. 'Optional[int]' */
  readonly type: string
  readonly required: boolean
  /** raw (JSON) default, as the catalog shows it and as coerce receives it */
  readonly default?: unknown
  readonly coerce: Coerce<T>
  /** JSON Schema of the accepted JSON values, for openapi.yaml (absent: any value) */
  readonly json?: JsonSchema
}

export type JsonSchema = Record<string, unknown>

/** A Python parameter list without `self`; key order is parameter order. */
export type Signature = Record<string, Param<unknown>>
export type BoundArgs<S extends Signature> = { [K in keyof S]: S[K] extends Param<infer T> ? T : never }

/** 400 with a message worded like Python's TypeError/ValueError text. */
export function argError (message: string): never {
  throw materiaError('constructorArgs', message)
}

/** Python's type(x).__name__ for a JSON value (or a built module). */
export function pyTypeName (value: unknown): string {
  if (value === null || value === undefined) return 'NoneType'
  if (typeof value === 'boolean') return 'bool'
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float'
  if (typeof value === 'string') return 'str'
  if (Array.isArray(value)) return 'list'
  if (isModuleNode(value)) return value.name
  if (isNonModuleRef(value)) return value.typename
  return 'dict'
}

/** torch.typename(x): what add_module names in "X is not a Module subclass". */
export function torchTypeName (value: unknown): string {
  if (isNonModuleRef(value)) return value.typename
  return pyTypeName(value)
}

function typeError (c: CoerceCtx, expected: string, value: unknown): never {
  return argError(`${c.fn}(): argument '${c.param}' must be ${expected}, not ${pyTypeName(value)}`)
}

// ---------------------------------------------------------------------------------------------
// binding

/** obj[key] = value, also for '__proto__' (a JSON key like any other, never a prototype switch). */
export function setOwn (obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true })
}

function quoteList (names: string[]): string {
  const q = names.map((n) => `'${n}'`)
  if (q.length === 1) return q[0] as string
  if (q.length === 2) return `${q[0] as string} and ${q[1] as string}`
  return `${q.slice(0, -1).join(', ')}, and ${q[q.length - 1] as string}`
}

function missingError (fn: string, kind: 'positional' | 'keyword-only', names: string[]): never {
  return argError(`${fn}() missing ${names.length} required ${kind} argument${names.length === 1 ? '' : 's'}: ${quoteList(names)}`)
}

const SELF = Symbol('self')

/**
 * Binds `args`/`kwargs` to `sig` like a call `Class(*args, **kwargs)` binds to `__init__(self, ...)`.
 * Returns raw values by parameter name (defaults filled in, *args as an array, **kwargs as a record)
 * and the names the caller passed explicitly.
 */
interface Shape {
  entries: Array<[string, Param<unknown>]>
  positional: string[]
  kwOnly: string[]
  varPos: string | undefined
  varKw: string | undefined
  /** positional parameters with defaults (CPython's defcount) */
  defcount: number
}

// A signature's parameter kinds never change, so its analysis is done once.
const shapes = new WeakMap<Signature, Shape>()

function shapeOf (sig: Signature): Shape {
  let s = shapes.get(sig)
  if (s === undefined) {
    const entries = Object.entries(sig)
    const positional = ['self', ...entries.filter(([, p]) => p.kind === 'positional_or_keyword').map(([n]) => n)]
    s = {
      entries,
      positional,
      kwOnly: entries.filter(([, p]) => p.kind === 'keyword_only').map(([n]) => n),
      varPos: entries.find(([, p]) => p.kind === 'var_positional')?.[0],
      varKw: entries.find(([, p]) => p.kind === 'var_keyword')?.[0],
      defcount: entries.filter(([, p]) => p.kind === 'positional_or_keyword' && !p.required).length
    }
    shapes.set(sig, s)
  }
  return s
}

export function bindArguments (fn: string, sig: Signature, args: readonly unknown[], kwargs: Readonly<Record<string, unknown>>): { raw: Record<string, unknown>; given: Set<string> } {
  const { entries, positional, kwOnly, varPos, varKw, defcount } = shapeOf(sig)
  const slots = new Map<string, unknown>()
  slots.set('self', SELF)
  const given = args.length + 1
  const argcount = positional.length
  const n = Math.min(given, argcount)
  for (let i = 1; i < n; i++) slots.set(positional[i] as string, args[i - 1])
  const rest = args.slice(n - 1)
  const extraKw: Record<string, unknown> = {}

  for (const [key, value] of Object.entries(kwargs)) {
    if (positional.includes(key) || kwOnly.includes(key)) {
      if (slots.has(key)) argError(`${fn}() got multiple values for argument '${key}'`)
      slots.set(key, value)
    } else if (varKw !== undefined) {
      setOwn(extraKw, key, value)
    } else {
      argError(`${fn}() got an unexpected keyword argument '${key}'`)
    }
  }

  if (given > argcount && varPos === undefined) {
    const kwonlyGiven = kwOnly.filter((name) => slots.has(name)).length
    const sigText = defcount > 0 ? `from ${argcount - defcount} to ${argcount}` : `${argcount}`
    const plural = defcount > 0 || argcount !== 1
    const kwText = kwonlyGiven > 0
      ? ` positional argument${given !== 1 ? 's' : ''} (and ${kwonlyGiven} keyword-only argument${kwonlyGiven !== 1 ? 's' : ''})`
      : ''
    argError(`${fn}() takes ${sigText} positional argument${plural ? 's' : ''} but ${given}${kwText} ${given === 1 && kwonlyGiven === 0 ? 'was' : 'were'} given`)
  }

  const missingPos = positional.filter((name) => name !== 'self' && !slots.has(name) && (sig[name] as Param<unknown>).required)
  if (missingPos.length > 0) missingError(fn, 'positional', missingPos)
  const missingKw = kwOnly.filter((name) => !slots.has(name) && (sig[name] as Param<unknown>).required)
  if (missingKw.length > 0) missingError(fn, 'keyword-only', missingKw)

  const raw: Record<string, unknown> = {}
  const passed = new Set<string>()
  for (const [name, p] of entries) {
    if (p.kind === 'var_positional') raw[name] = rest
    else if (p.kind === 'var_keyword') raw[name] = extraKw
    else raw[name] = slots.has(name) ? slots.get(name) : p.default
    if (slots.has(name)) passed.add(name)
  }
  return { raw, given: passed }
}

/** Coerces each bound parameter in signature order. */
export function coerceBound<S extends Signature> (fn: string, sig: S, raw: Readonly<Record<string, unknown>>): BoundArgs<S> {
  const out: Record<string, unknown> = {}
  for (const [name, p] of Object.entries(sig)) out[name] = p.coerce(raw[name], { fn, param: name })
  return out as BoundArgs<S>
}

// ---------------------------------------------------------------------------------------------
// coercers

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
    if (!isSafeInt(value)) argError(`${c.fn}(): argument '${c.param}' = ${value} is outside the exactly representable integer range (|n| <= 2^53-1)`)
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
    argError(`${c.fn}(): argument '${c.param}' = ${value} is outside the exactly representable integer range (|n| <= 2^53-1)`)
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

export type Device = 'meta' | 'cpu' | 'worker'
export const DEVICES: readonly Device[] = ['meta', 'cpu', 'worker']

export function toDevice (value: unknown, c: CoerceCtx): Device {
  if (typeof value === 'string' && (DEVICES as readonly string[]).includes(value)) return value as Device
  if (typeof value === 'string') argError(`${c.fn}(): unsupported device '${value}'; expected "meta", "cpu" or "worker"`)
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
  device: (): Param<Device | null> => make('Optional[Union[str, torch.device]]', orNone(toDevice), { value: null }, { type: 'string', enum: [...DEVICES], nullable: true }),
  module: (): Param<ModuleNode> => make('Module', toModule, undefined, { $ref: 'ModuleSpec#' }),
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

/**
 * Python's repr of a JSON number as Python's json module would load it: integral values are ints,
 * others floats (repr switches to exponent form below 1e-4 and from 1e16, with a two-digit exponent).
 */
export function pyRepr (x: number): string {
  if (Number.isInteger(x) && Math.abs(x) < 1e16) return String(x)
  return pyFloatRepr(x)
}

/** repr(float(x)) */
export function pyFloatRepr (x: number): string {
  if (Number.isNaN(x)) return 'nan'
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf'
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0'
  const [mant, expText] = x.toExponential().split('e') as [string, string]
  const exp = Number(expText)
  const sign = mant.startsWith('-') ? '-' : ''
  const digits = mant.replace('-', '').replace('.', '')
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0] as string}.${digits.slice(1)}` : digits
    return `${sign}${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`
  }
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`
  const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, '0')
  const frac = digits.slice(exp + 1)
  return `${sign}${intPart}.${frac === '' ? '0' : frac}`
}

/** repr() of a JSON value the way Python prints the loaded object (lists stay lists). */
export function pyValueRepr (v: unknown): string {
  if (v === null || v === undefined) return 'None'
  if (typeof v === 'boolean') return v ? 'True' : 'False'
  if (typeof v === 'number') return pyRepr(v)
  if (typeof v === 'string') return pyStrRepr(v)
  if (Array.isArray(v)) return `[${v.map(pyValueRepr).join(', ')}]`
  if (typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${pyValueRepr(k)}: ${pyValueRepr(x)}`).join(', ')}}`
  return String(v)
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

/** repr(str): single quotes unless the text has a single quote and no double quote. */
export function pyStrRepr (s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'"
  let out = ''
  for (const ch of s) {
    if (ch === '\\') out += '\\\\'
    else if (ch === quote) out += `\\${ch}`
    else if (ch === '\n') out += '\\n'
    else if (ch === '\r') out += '\\r'
    else if (ch === '\t') out += '\\t'
    else if (ch < ' ' || ch === '\x7f') out += `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`
    else out += ch
  }
  return quote + out + quote
}

/** str(KeyError(msg)) is repr(msg): PyTorch's add_module KeyErrors print with their quotes. */
export function keyError (message: string): never {
  return argError(pyStrRepr(message))
}

/** bindArguments then coerceBound. */
export function bindAndCoerce<S extends Signature> (fn: string, sig: S, args: readonly unknown[], kwargs: Readonly<Record<string, unknown>>): BoundArgs<S> {
  return coerceBound(fn, sig, bindArguments(fn, sig, args, kwargs).raw)
}
