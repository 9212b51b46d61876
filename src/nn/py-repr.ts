// Python's spelling of values in messages: repr() of the loaded JSON value, type(x).__name__ and
// torch.typename(x), so the errors read as PyTorch's own.
import { argError } from './bind-args.js'
import { isModuleNode, isNonModuleRef } from './define.js'

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
