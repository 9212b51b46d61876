// A module spec written as Python, `nn.Sequential(nn.Linear(4, 8), nn.ReLU())`, read into the JSON
// module spec it stands for; never evaluated. The subset: calls (of catalog classes, resolved
// later exactly as a JSON "class"), ints, floats, True/False/None, strings, tuples and lists (both
// JSON arrays), dicts with string keys, OrderedDict([...]) (a JSON object, Sequential's named form),
// keyword arguments, torch dtypes (`torch.float16`, the string "torch.float16") and unary minus.
// Python's own grammar decides what is a syntax error: https://docs.python.org/3/reference/expressions.html
import { materiaError } from '../../errors.js'
import { parseDType } from '../../tensor/dtype.js'
import { setOwn } from '../bind-args.js'
import { LIMITS } from '../limits.js'
import { KEYWORDS, syntaxError, type Token, tokenize, where } from './tokenize.js'

/** A JSON module spec: { class, args?, kwargs? }. */
export interface JsonCall { class: string, args?: unknown[], kwargs?: Record<string, unknown> }

const CONSTANTS: Record<string, unknown> = { True: true, False: false, None: null }
const ORDERED_DICT = new Set(['OrderedDict', 'collections.OrderedDict'])

function describe (t: Token): string {
  switch (t.kind) {
    case 'end': return 'the end of the expression'
    case 'name': return `name '${t.text}'`
    case 'number': return 'a number'
    case 'string': return 'a string'
    case 'op': return `'${t.text}'`
  }
}

class Parser {
  private i = 0
  private depth = 0
  /** the brackets open around the current token, innermost last */
  private readonly open: Token[] = []
  constructor (private readonly source: string, private readonly tokens: Token[]) {}

  private get tok (): Token { return this.tokens[this.i] as Token }
  private next (): Token { return this.tokens[this.i++] as Token }
  private isOp (text: string): boolean { const t = this.tok; return t.kind === 'op' && t.text === text }

  fail (t: Token, detail: string): never { throw syntaxError(this.source, t.pos, detail) }

  expected (what: string): never {
    const unclosed = this.open[this.open.length - 1]
    // at the end, Python's tokenizer names the bracket left open
    if (this.tok.kind === 'end' && unclosed !== undefined) this.fail(unclosed, `'${(unclosed as { text: string }).text}' was never closed`)
    return this.fail(this.tok, `expected ${what}, got ${describe(this.tok)}`)
  }

  private expectOp (text: string, what: string): void {
    if (!this.isOp(text)) this.expected(what)
    this.i++
  }

  /** One nesting level of brackets or calls, bounded like JSON argument nesting. */
  private nest<T> (f: () => T): T {
    if (++this.depth > LIMITS.maxValueDepth) throw materiaError('pythonNestsDeep', { where: where(this.source, this.tok.pos), max: LIMITS.maxValueDepth })
    const t = this.tok
    const bracket = t.kind === 'op' && '([{'.includes(t.text)
    if (bracket) this.open.push(t)
    const v = f()
    if (bracket) this.open.pop()
    this.depth--
    return v
  }

  /** An expression: a literal, a call, a bracketed display, or a unary minus/plus applied to one. */
  expr (): unknown {
    const t = this.tok
    if (t.kind === 'op' && (t.text === '-' || t.text === '+')) {
      this.i++
      const operand = this.nest(() => this.expr())
      const v = typeof operand === 'boolean' ? Number(operand) : operand
      if (typeof v !== 'number') return this.fail(t, `bad operand type for unary ${t.text}: '${pyType(operand)}'`)
      return t.text === '-' ? -v : v
    }
    if (t.kind === 'number' || t.kind === 'string') {
      this.i++
      if (t.kind === 'string' && this.tok.kind === 'string') this.fail(this.tok, 'adjacent string literals are not accepted; write one string')
      return t.value
    }
    if (t.kind === 'name') return this.nameOrCall()
    if (t.kind === 'op' && t.text === '(') return this.nest(() => this.parenthesized())
    if (t.kind === 'op' && t.text === '[') return this.nest(() => { this.i++; return this.items(']') })
    if (t.kind === 'op' && t.text === '{') return this.nest(() => this.dict())
    return this.expected('an expression')
  }

  /** A dotted name, then either a call or a constant (True/False/None, torch.<dtype>). */
  private nameOrCall (): unknown {
    const start = this.tok
    const parts = [(this.next() as { text: string }).text]
    while (this.isOp('.')) {
      this.i++
      const t = this.tok
      if (t.kind !== 'name') this.expected('a name after \'.\'')
      parts.push(t.text)
      this.i++
    }
    const name = parts.join('.')
    if (this.isOp('(')) return this.nest(() => this.call(name, start))
    if (parts.length === 1 && Object.hasOwn(CONSTANTS, name)) return CONSTANTS[name]
    if (parts.length === 2 && parts[0] === 'torch' && parseDType(name) !== undefined) return name
    return this.fail(start, `name '${name}' is not a value here: a spec holds literals, calls of torch.nn classes, True, False, None and torch dtypes`)
  }

  /** name(args..., kw=value...): a module spec, or a JSON object for OrderedDict(...). */
  private call (name: string, start: Token): unknown {
    this.i++ // (
    const args: unknown[] = []
    const kwargs: Record<string, unknown> = {}
    let sawKeyword = false
    while (!this.isOp(')')) {
      const t = this.tok
      if (t.kind === 'name' && this.tokens[this.i + 1]?.kind === 'op' && (this.tokens[this.i + 1] as { text: string }).text === '=') {
        if (KEYWORDS.has(t.text)) this.fail(t, `'${t.text}' is a Python keyword and cannot name an argument`)
        if (Object.hasOwn(kwargs, t.text)) this.fail(t, `keyword argument repeated: ${t.text}`)
        this.i += 2
        setOwn(kwargs, t.text, this.expr())
        sawKeyword = true
      } else {
        if (sawKeyword) this.fail(t, 'positional argument follows keyword argument')
        args.push(this.expr())
      }
      if (!this.isOp(',')) break
      this.i++
    }
    this.expectOp(')', `',' or ')' after an argument of ${name}(…)`)
    if (ORDERED_DICT.has(name)) return this.orderedDict(start, args, kwargs)
    const spec: JsonCall = { class: name }
    if (args.length > 0) spec.args = args
    if (Object.keys(kwargs).length > 0) spec.kwargs = kwargs
    return spec
  }

  /** OrderedDict([(k, v), ...]) or OrderedDict(k=v, ...): a JSON object, in order. */
  private orderedDict (start: Token, args: unknown[], kwargs: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = {}
    if (args.length > 1) this.fail(start, `OrderedDict expected at most 1 argument, got ${args.length}`)
    const items = args[0] ?? []
    if (isJsonObject(items)) for (const [k, v] of Object.entries(items)) setOwn(out, k, v)
    else if (Array.isArray(items)) {
      for (const pair of items) {
        if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string') {
          this.fail(start, 'OrderedDict takes a list of (name, value) pairs with string names')
        }
        setOwn(out, pair[0] as string, pair[1])
      }
    } else this.fail(start, 'OrderedDict takes a list of (name, value) pairs or a dict')
    for (const [k, v] of Object.entries(kwargs)) setOwn(out, k, v)
    return checkedObject(this, start, out)
  }

  /** ( ... ): a parenthesized expression, or a tuple (a JSON array) when empty or with a comma. */
  private parenthesized (): unknown {
    this.i++
    if (this.isOp(')')) { this.i++; return [] }
    const first = this.expr()
    if (this.isOp(')')) { this.i++; return first }
    if (!this.isOp(',')) this.expected("',' or ')'")
    this.i++
    return [first, ...this.items(')')]
  }

  /** comma-separated expressions up to `close` (a trailing comma allowed). */
  private items (close: string): unknown[] {
    const out: unknown[] = []
    while (!this.isOp(close)) {
      out.push(this.expr())
      if (!this.isOp(',')) break
      this.i++
    }
    this.expectOp(close, `',' or '${close}'`)
    return out
  }

  /** { 'k': v, ... }: string keys only (JSON objects have no others). */
  private dict (): Record<string, unknown> {
    const start = this.next()
    const out: Record<string, unknown> = {}
    while (!this.isOp('}')) {
      const k = this.tok
      const key = this.expr()
      if (this.isOp(',') || this.isOp('}')) this.fail(this.tok, 'sets are not accepted; a dict needs key: value')
      this.expectOp(':', "':' after a dict key")
      if (typeof key !== 'string') this.fail(k, `dict keys must be strings (JSON object keys), got ${pyType(key)}`)
      setOwn(out, key, this.expr())
      if (!this.isOp(',')) break
      this.i++
    }
    this.expectOp('}', "',' or '}'")
    return checkedObject(this, start, out)
  }

  end (): void {
    if (this.tok.kind !== 'end') this.expected('the end of the expression')
  }
}

/** A call reads as an object with a string 'class'; a dict never has one (checkedObject). */
function isCall (v: unknown): v is JsonCall {
  return typeof v === 'object' && v !== null && typeof (v as { class?: unknown }).class === 'string'
}

function isJsonObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !isCall(v)
}

/** A dict whose 'class' or 'python' is a string would read as a module spec once it is JSON. */
function checkedObject (p: Parser, at: Token, obj: Record<string, unknown>): Record<string, unknown> {
  for (const k of ['class', 'python']) {
    if (typeof obj[k] === 'string') p.fail(at, `a dict with a string '${k}' entry would read as a module spec; not accepted`)
  }
  return obj
}

/** type(x).__name__ of a parsed value. */
function pyType (v: unknown): string {
  if (v === null) return 'NoneType'
  if (typeof v === 'boolean') return 'bool'
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float'
  if (typeof v === 'string') return 'str'
  if (Array.isArray(v)) return 'list'
  if (isCall(v)) return v.class.split('.').pop() as string
  return 'dict'
}

/** The JSON module spec `source` stands for; a 400 naming the column when it is not one. */
export function parsePythonSpec (source: string): JsonCall {
  const p = new Parser(source, tokenize(source))
  const v = p.expr()
  p.end()
  if (!isCall(v)) throw syntaxError(source, 0, 'a module spec is a call, e.g. nn.Linear(4, 8)')
  return v
}

/** Whether a JSON value is a python module spec, `{"python": "...", "ties"?: [...]}`. */
export function isPythonSpec (v: unknown): v is { python: string, ties?: unknown } {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && typeof (v as { python?: unknown }).python === 'string'
}

/** A python module spec as the JSON spec it stands for (its ties kept); any other value as it is. */
export function jsonSpecOf<T> (spec: T): T | (JsonCall & { ties?: unknown }) {
  if (!isPythonSpec(spec)) return spec
  for (const k of Object.keys(spec)) {
    if (k !== 'python' && k !== 'ties') throw materiaError('pythonSpecKey', { key: k })
  }
  const call = parsePythonSpec(spec.python)
  return spec.ties === undefined ? call : { ...call, ties: spec.ties }
}
