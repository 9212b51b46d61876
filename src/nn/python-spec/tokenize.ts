// The tokens of the Python literal subset a `{"python": ...}` module spec is written in: names,
// numbers, single-line strings and the punctuation of calls, lists, tuples and dicts. Lexical
// rules follow Python's (https://docs.python.org/3/reference/lexical_analysis.html); anything
// outside the subset is a syntax error that names its place.
import { materiaError } from '../../errors.js'
import { LIMITS } from '../limits.js'

export type Token =
  | { kind: 'name', text: string, pos: number }
  | { kind: 'number', value: number, pos: number }
  | { kind: 'string', value: string, pos: number }
  | { kind: 'op', text: string, pos: number }
  | { kind: 'end', pos: number }

/** 'line 2, column 5' for multi-line sources, else 'column 5' (1-based, as Python's SyntaxError offset). */
export function where (source: string, pos: number): string {
  const before = source.slice(0, pos)
  const line = before.split('\n').length
  const column = pos - before.lastIndexOf('\n')
  return source.includes('\n') ? `line ${line}, column ${column}` : `column ${column}`
}

/** A 400 MATERIA_ERR_NN_PYTHON_SYNTAX at `pos` of `source`. */
export function syntaxError (source: string, pos: number, detail: string): Error {
  return materiaError('pythonSyntax', { where: where(source, pos), detail })
}

/** Python's keywords, which cannot name a keyword argument (https://docs.python.org/3/reference/lexical_analysis.html#keywords). */
export const KEYWORDS: ReadonlySet<string> = new Set(('False None True and as assert async await break class continue def del elif else except finally ' +
  'for from global if import in is lambda nonlocal not or pass raise return try while with yield').split(' '))

const OPS = new Set(['(', ')', '[', ']', '{', '}', ',', ':', '=', '-', '+', '.'])
const NAME_START = /[A-Za-z_]/
const NAME_CHAR = /[A-Za-z0-9_]/
// Python's numeric literals (integers in any base, decimal floats); underscores between digits.
const DIGITS = '[0-9](?:_?[0-9])*'
const NUMBER = new RegExp(
  '0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|' +
  `(?:${DIGITS}\\.(?:${DIGITS})?|\\.${DIGITS}|${DIGITS})(?:[eE][+-]?${DIGITS})?`, 'y')
const SIMPLE_ESCAPES: Record<string, string> = { '\\': '\\', "'": "'", '"': '"', n: '\n', r: '\r', t: '\t', a: '\x07', b: '\b', f: '\f', v: '\v', '\n': '' }
const HEX_ESCAPES: Record<string, number> = { x: 2, u: 4, U: 8 }

function numberValue (source: string, text: string, pos: number): number {
  const t = text.replaceAll('_', '')
  if (/^0[xXoObB]/.test(t)) return Number(BigInt(t))
  if (/[.eE]/.test(t)) return Number(t)
  if (/^0+[1-9]/.test(t)) throw syntaxError(source, pos, 'leading zeros in decimal integer literals are not permitted; use an 0o prefix for octal integers')
  return Number(BigInt(t))
}

/** Reads the string literal opening at `pos` (after any prefix); returns its value and the index after it. */
function readString (source: string, pos: number, raw: boolean): { value: string, end: number } {
  const quote = source[pos] as string
  if (source.startsWith(quote.repeat(3), pos)) throw syntaxError(source, pos, 'triple-quoted strings are not accepted; use a single-line string')
  let i = pos + 1
  let value = ''
  for (;;) {
    const ch = source[i]
    if (ch === undefined || ch === '\n') throw syntaxError(source, pos, 'unterminated string literal')
    if (ch === quote) return { value, end: i + 1 }
    if (ch !== '\\') { value += ch; i++; continue }
    const next = source[i + 1]
    if (next === undefined) throw syntaxError(source, pos, 'unterminated string literal')
    if (raw) { value += ch + next; i += 2; continue }
    const simple = SIMPLE_ESCAPES[next]
    const hexLen = HEX_ESCAPES[next]
    if (simple !== undefined) {
      value += simple
      i += 2
    } else if (hexLen !== undefined) {
      const hex = source.slice(i + 2, i + 2 + hexLen)
      if (!new RegExp(`^[0-9a-fA-F]{${hexLen}}$`).test(hex)) throw syntaxError(source, i, `truncated \\${next} escape`)
      const code = parseInt(hex, 16)
      if (code > 0x10ffff) throw syntaxError(source, i, `illegal Unicode character in \\${next} escape`)
      value += String.fromCodePoint(code)
      i += 2 + hexLen
    } else if (/[0-7]/.test(next)) {
      const oct = /^[0-7]{1,3}/.exec(source.slice(i + 1))?.[0] as string
      value += String.fromCodePoint(parseInt(oct, 8))
      i += 1 + oct.length
    } else {
      value += ch + next // Python keeps an unknown escape as written
      i += 2
    }
  }
}

/** The tokens of `source`, bounded before the work: its length and the token count (LIMITS). */
export function tokenize (source: string): Token[] {
  if (source.length > LIMITS.maxPythonChars) throw materiaError('pythonTooLong', { length: source.length, max: LIMITS.maxPythonChars })
  const tokens: Token[] = []
  const push = (t: Token): void => {
    if (tokens.length >= LIMITS.maxPythonTokens) throw materiaError('pythonTooManyTokens', { max: LIMITS.maxPythonTokens })
    tokens.push(t)
  }
  let i = 0
  while (i < source.length) {
    const ch = source[i] as string
    if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ch === '\f') { i++; continue }
    if (ch === '#') { while (i < source.length && source[i] !== '\n') i++; continue }
    if (NAME_START.test(ch)) {
      let j = i + 1
      while (j < source.length && NAME_CHAR.test(source[j] as string)) j++
      const text = source.slice(i, j)
      const quote = source[j]
      if (quote === "'" || quote === '"') {
        if (!/^[rRuU]$/.test(text)) throw syntaxError(source, i, `${text}'…' strings are not accepted; only plain, r and u strings are`)
        const s = readString(source, j, text === 'r' || text === 'R')
        push({ kind: 'string', value: s.value, pos: i })
        i = s.end
        continue
      }
      push({ kind: 'name', text, pos: i })
      i = j
      continue
    }
    if (/[0-9]/.test(ch) || (ch === '.' && /[0-9]/.test(source[i + 1] ?? ''))) {
      NUMBER.lastIndex = i
      const text = (NUMBER.exec(source) as RegExpExecArray)[0]
      const after = source[i + text.length] ?? ''
      if (/[jJ]/.test(after)) throw syntaxError(source, i, 'complex numbers are not accepted')
      if (NAME_CHAR.test(after)) throw syntaxError(source, i + text.length, `invalid ${/^0[xXoObB]/.test(text) ? 'digit' : 'decimal literal'}`)
      push({ kind: 'number', value: numberValue(source, text, i), pos: i })
      i += text.length
      continue
    }
    if (ch === "'" || ch === '"') {
      const s = readString(source, i, false)
      push({ kind: 'string', value: s.value, pos: i })
      i = s.end
      continue
    }
    if (OPS.has(ch)) {
      push({ kind: 'op', text: ch, pos: i })
      i++
      continue
    }
    if ('*/%@&|^~<>!;'.includes(ch)) throw syntaxError(source, i, `'${ch}' is not accepted: a spec holds literals, calls, lists, tuples and dicts`)
    throw syntaxError(source, i, `invalid character '${ch}' (U+${(ch.codePointAt(0) as number).toString(16).toUpperCase().padStart(4, '0')})`)
  }
  tokens.push({ kind: 'end', pos: source.length })
  return tokens
}
