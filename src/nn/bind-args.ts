// CPython-style argument binding for `Class.__init__(self, ...)`: a module's Python signature (its
// parameters, each with the coercer that turns a JSON value into what build() receives) and the
// binding of a call's args/kwargs to it.
// Binding follows CPython 3.11's initialize_locals (ceval.c) step by step, so the error texts and
// their precedence (unexpected/multiple keyword first, then too many positional, then missing
// positional, then missing keyword-only) are the ones Python prints.
import { materiaError } from '../errors.js'
import type { ParamKind } from '../schemas/vocabulary.js'

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

/** 400 with a message worded like Python's TypeError/ValueError text (built by the binding code, as Python builds it). */
export function argError (message: string): never {
  throw materiaError('constructorArgs', { message })
}

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

/** bindArguments then coerceBound. */
export function bindAndCoerce<S extends Signature> (fn: string, sig: S, args: readonly unknown[], kwargs: Readonly<Record<string, unknown>>): BoundArgs<S> {
  return coerceBound(fn, sig, bindArguments(fn, sig, args, kwargs).raw)
}
