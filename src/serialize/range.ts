// HTTP Range requests for checkpoint downloads (RFC 9110 §14.1–14.4), single byte range only.
//
// parseRange(header, size) returns
//   'none'          → serve the whole file with 200 (no header, another unit, a syntactically invalid
//                     header — a server MAY ignore Range, §14.2 — or several ranges: RFC 9110 lets a
//                     server ignore Range instead of sending multipart/byteranges, and we do);
//   'unsatisfiable' → 416 with `Content-Range: bytes */size` (first-pos ≥ size, `bytes=-0`, or
//                     last-pos < first-pos, which nginx and the `range-parser` package also answer
//                     with 416);
//   {start, end}    → 206 with `Content-Range: bytes start-end/size`; `end` is INCLUSIVE, as in
//                     Content-Range and fs.createReadStream({start, end}).
// Forms: `bytes=0-499`, open `bytes=9500-` (to the end), suffix `bytes=-500` (last 500 bytes, the whole
// file if it is shorter); last-pos beyond the end is clamped to size − 1. The unit is
// case-insensitive, whitespace around the range and empty list elements (`bytes=0-1,`) are tolerated.
// A zero-length file has no byte to address: every range form yields 'unsatisfiable' except a
// non-zero suffix, which RFC 9110 calls satisfiable and which we answer with 'none' (200, empty body)
// because Content-Range cannot express an empty range.

export type ByteRange = { readonly start: number, readonly end: number }
export type RangeResult = 'none' | 'unsatisfiable' | ByteRange

const SPEC = /^(\d*)[ \t]*-[ \t]*(\d*)$/

export function parseRange (header: string | readonly string[] | undefined, size: number): RangeResult {
  if (header === undefined) return 'none'
  // a repeated Range header is not a valid single field value
  if (typeof header !== 'string') return header.length === 1 ? parseRange(header[0], size) : 'none'
  const eq = header.indexOf('=')
  if (eq < 0) return 'none'
  if (header.slice(0, eq).trim().toLowerCase() !== 'bytes') return 'none'
  const specs = header.slice(eq + 1).split(',').map(s => s.trim()).filter(s => s !== '')
  if (specs.length !== 1) return 'none' // none at all (invalid) or a multi-range: serve whole
  const m = SPEC.exec(specs[0]!)
  if (m === null) return 'none'
  const [, first = '', last = ''] = m
  if (first === '' && last === '') return 'none'
  if (first === '') {
    // suffix range: the last N bytes
    const n = Number(last)
    if (n === 0) return 'unsatisfiable'
    if (size === 0) return 'none'
    return { start: Math.max(0, size - n), end: size - 1 }
  }
  const start = Number(first)
  if (last !== '') {
    const lastPos = Number(last)
    if (lastPos < start) return 'unsatisfiable'
    if (start >= size) return 'unsatisfiable'
    return { start, end: Math.min(lastPos, size - 1) }
  }
  if (start >= size) return 'unsatisfiable'
  return { start, end: size - 1 }
}

/** Content-Range value of a 206 response. */
export function contentRange (range: ByteRange, size: number): string {
  return `bytes ${range.start}-${range.end}/${size}`
}

/** Content-Range value of a 416 response. */
export function unsatisfiedContentRange (size: number): string {
  return `bytes */${size}`
}

/** Byte count of a range (end inclusive). */
export function rangeLength (range: ByteRange): number {
  return range.end - range.start + 1
}
