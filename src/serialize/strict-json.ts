// A strict RFC 8259 JSON parser that mirrors serde_json, for safetensors headers: object keys keep
// their order and repeats (JSON.parse keeps the last and moves integer-like keys first), numbers
// keep their lexeme (so `2.0`, `2e0` and `-0` can be refused where an integer is due, as serde
// refuses them for usize), no BOM, no trailing characters, no lone surrogate escapes, nesting
// bounded (JSON.parse has no depth limit). docs/safetensors.md §4 lists what the reader accepts.

/** A JSON syntax error: what was wrong and at which character of the text. */
export class JsonSyntaxError extends Error {
  constructor (readonly what: string, readonly at: number) {
    super(`${what} at character ${at}`)
    this.name = 'JsonSyntaxError'
  }
}

/** A parsed value; `pos` is the character where it starts. */
export type JValue =
  | { readonly t: 'obj', readonly entries: Array<[string, JValue]>, readonly pos: number }
  | { readonly t: 'arr', readonly items: JValue[], readonly pos: number }
  | { readonly t: 'str', readonly v: string, readonly pos: number }
  | { readonly t: 'num', readonly raw: string, readonly pos: number }
  | { readonly t: 'lit', readonly v: boolean | null, readonly pos: number }

const MAX_DEPTH = 64
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y

class JsonParser {
  private i = 0
  constructor (private readonly s: string) {}

  private err (what: string, at = this.i): never {
    throw new JsonSyntaxError(what, at)
  }

  private ws (): void {
    const s = this.s
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i)
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) this.i++
      else break
    }
  }

  document (): JValue {
    this.ws()
    if (this.i >= this.s.length) this.err('empty header (expected a JSON object)')
    const v = this.value(0)
    this.ws()
    if (this.i < this.s.length) {
      const c = this.s.charCodeAt(this.i)
      this.err(c === 0 ? 'NUL byte after the JSON (padding must be spaces)' : `trailing characters ${JSON.stringify(this.s.slice(this.i, this.i + 8))}`)
    }
    return v
  }

  private value (depth: number): JValue {
    if (depth > MAX_DEPTH) this.err(`nesting deeper than ${MAX_DEPTH}`)
    const s = this.s
    const pos = this.i
    const c = s[this.i]
    if (c === '{') {
      this.i++
      const entries: Array<[string, JValue]> = []
      this.ws()
      if (s[this.i] === '}') { this.i++; return { t: 'obj', entries, pos } }
      for (;;) {
        this.ws()
        if (s[this.i] !== '"') this.err('expected a string key')
        const k = this.string()
        this.ws()
        if (s[this.i] !== ':') this.err("expected ':'")
        this.i++
        this.ws()
        entries.push([k, this.value(depth + 1)])
        this.ws()
        if (s[this.i] === ',') { this.i++; continue }
        if (s[this.i] === '}') { this.i++; return { t: 'obj', entries, pos } }
        this.err(this.i >= s.length ? 'unexpected end of header inside an object' : "expected ',' or '}'")
      }
    }
    if (c === '[') {
      this.i++
      const items: JValue[] = []
      this.ws()
      if (s[this.i] === ']') { this.i++; return { t: 'arr', items, pos } }
      for (;;) {
        this.ws()
        items.push(this.value(depth + 1))
        this.ws()
        if (s[this.i] === ',') { this.i++; continue }
        if (s[this.i] === ']') { this.i++; return { t: 'arr', items, pos } }
        this.err(this.i >= s.length ? 'unexpected end of header inside an array' : "expected ',' or ']'")
      }
    }
    if (c === '"') return { t: 'str', v: this.string(), pos }
    if (s.startsWith('true', this.i)) { this.i += 4; return { t: 'lit', v: true, pos } }
    if (s.startsWith('false', this.i)) { this.i += 5; return { t: 'lit', v: false, pos } }
    if (s.startsWith('null', this.i)) { this.i += 4; return { t: 'lit', v: null, pos } }
    NUMBER.lastIndex = this.i
    const m = NUMBER.exec(s)
    if (m !== null) { this.i += m[0].length; return { t: 'num', raw: m[0], pos } }
    if (this.i >= s.length) this.err('unexpected end of header')
    if (s.charCodeAt(this.i) === 0xfeff) this.err('byte order mark')
    this.err(`unexpected character ${JSON.stringify(s[this.i] ?? '')}`)
  }

  private hex4 (): number {
    const h = this.s.slice(this.i, this.i + 4)
    if (!/^[0-9a-fA-F]{4}$/.test(h)) this.err('bad \\u escape')
    this.i += 4
    return parseInt(h, 16)
  }

  private string (): string {
    const s = this.s
    const start = this.i
    this.i++ // opening quote
    let out = ''
    let run = this.i
    for (;;) {
      if (this.i >= s.length) this.err('unterminated string', start)
      const c = s.charCodeAt(this.i)
      if (c === 0x22) { out += s.slice(run, this.i); this.i++; return out }
      if (c < 0x20) this.err('raw control character in a string (must be escaped)')
      if (c !== 0x5c) { this.i++; continue }
      out += s.slice(run, this.i)
      this.i++
      const e = s[this.i++]
      switch (e) {
        case '"': out += '"'; break
        case '\\': out += '\\'; break
        case '/': out += '/'; break
        case 'b': out += '\b'; break
        case 'f': out += '\f'; break
        case 'n': out += '\n'; break
        case 'r': out += '\r'; break
        case 't': out += '\t'; break
        case 'u': {
          const u = this.hex4()
          if (u >= 0xdc00 && u <= 0xdfff) this.err('lone surrogate in \\u escape')
          if (u >= 0xd800 && u <= 0xdbff) {
            if (s[this.i] !== '\\' || s[this.i + 1] !== 'u') this.err('lone surrogate in \\u escape')
            this.i += 2
            const lo = this.hex4()
            if (lo < 0xdc00 || lo > 0xdfff) this.err('lone surrogate in \\u escape')
            out += String.fromCharCode(u, lo)
          } else {
            out += String.fromCharCode(u)
          }
          break
        }
        default: this.err(`invalid escape \\${e ?? ''}`)
      }
      run = this.i
    }
  }
}

/** Parses `text` as one JSON value, or throws a JsonSyntaxError. */
export function parseStrictJson (text: string): JValue {
  return new JsonParser(text).document()
}
