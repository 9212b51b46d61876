// Python's `json.dumps(value, indent=2, sort_keys=True)` (ensure_ascii=True, separators (',', ': ')),
// byte for byte: what transformers writes for config.json, generation_config.json and
// model.safetensors.index.json. JavaScript numbers do not say int or float, so a float is wrapped
// in PyFloat and written as Python's repr(float) (`0.0`, `1e-06`); a bare number must be an integer.
import { pyFloatRepr } from '../nn/py-repr.js'
import { compareUtf8 } from './safetensors-layout.js'

/** A Python float: written as repr(float(value)). */
export class PyFloat {
  constructor (readonly value: number) {}
}

/** An object whose keys Python holds as ints (transformers' id2label): sort_keys orders them as numbers. */
export class PyIntKeyed {
  constructor (readonly entries: Readonly<Record<string, PyJson>>) {}
}

export type PyJson = string | number | boolean | null | PyFloat | PyIntKeyed | readonly PyJson[] | { readonly [k: string]: PyJson | undefined }

/** A Python `json.dumps` string literal with ensure_ascii=True. */
export function pythonJsonString (s: string): string {
  let out = '"'
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c === 0x22) out += '\\"'
    else if (c === 0x5c) out += '\\\\'
    else if (c >= 0x20 && c <= 0x7e) out += s[i]
    else if (c === 0x0a) out += '\\n'
    else if (c === 0x0d) out += '\\r'
    else if (c === 0x09) out += '\\t'
    else if (c === 0x08) out += '\\b'
    else if (c === 0x0c) out += '\\f'
    // everything else (controls, DEL, non-ASCII) as \uxxxx; astral characters as their UTF-16
    // surrogate pair, which is what iterating UTF-16 code units yields
    else out += '\\u' + c.toString(16).padStart(4, '0')
  }
  return out + '"'
}

function members (level: number, items: string[], open: string, close: string): string {
  if (items.length === 0) return open + close
  const inner = '  '.repeat(level + 1)
  return open + '\n' + items.map((x) => inner + x).join(',\n') + '\n' + '  '.repeat(level) + close
}

function dump (v: PyJson, level: number): string {
  if (v === null) return 'null'
  if (v === true) return 'true'
  if (v === false) return 'false'
  if (typeof v === 'string') return pythonJsonString(v)
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new TypeError(`pyJsonDumps: a float must be a PyFloat, got ${v}`)
    return String(v)
  }
  if (v instanceof PyFloat) {
    // json.dumps writes the special floats as JavaScript literals
    if (Number.isNaN(v.value)) return 'NaN'
    if (!Number.isFinite(v.value)) return v.value > 0 ? 'Infinity' : '-Infinity'
    return pyFloatRepr(v.value)
  }
  if (v instanceof PyIntKeyed) {
    const keys = Object.keys(v.entries).sort((a, b) => Number(a) - Number(b))
    return members(level, keys.map((k) => pythonJsonString(k) + ': ' + dump(v.entries[k] as PyJson, level + 1)), '{', '}')
  }
  if (Array.isArray(v)) return members(level, (v as readonly PyJson[]).map((x) => dump(x, level + 1)), '[', ']')
  const obj = v as { readonly [k: string]: PyJson | undefined }
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort(compareUtf8)
  return members(level, keys.map((k) => pythonJsonString(k) + ': ' + dump(obj[k] as PyJson, level + 1)), '{', '}')
}

/** `json.dumps(value, indent=2, sort_keys=True) + "\n"`, byte for byte. */
export function pyJsonDumps (value: PyJson): string {
  return dump(value, 0) + '\n'
}
