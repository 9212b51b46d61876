// x^J mod p(x) over GF(2), p the characteristic polynomial of MT19937's one-word transition
// (mt19937-jump-charpoly.ts), by square-and-multiply-by-x. Polynomials are little-endian words
// (bit k = coefficient of x^k). p has 135 terms and its second-highest is x^19314, so
// x^19937 ≡ p - x^19937 reduces a whole 32-bit word at a time with 134 shifted XORs landing
// well below it. Working residues are kept modulo x^31·p (degree 19968 = 624 words exactly),
// a multiple of p, and brought below degree 19937 once at the end.

import { MT19937_CHARPOLY_HEX } from './mt19937-jump-charpoly.js'

/** Dimension of MT19937's state over GF(2): the characteristic polynomial's degree. */
export const mtStateBits = 19937
/** Words of a residue modulo x^31·p. */
export const polyWords = 624
const wideWords = 2 * polyWords

/** Exponents of p's terms below the leading one. */
export const charpolyLowTerms: readonly number[] = (() => {
  const h = MT19937_CHARPOLY_HEX
  const terms: number[] = []
  for (let d = 0; d < h.length; d++) {
    const nib = parseInt(h[h.length - 1 - d]!, 16)
    for (let b = 0; b < 4; b++) if ((nib >>> b) & 1) terms.push(4 * d + b)
  }
  if (terms.pop() !== mtStateBits) throw new Error('MT19937 characteristic polynomial has the wrong degree')
  // The word-at-a-time reduction needs every low term more than one word below the leading one.
  if (terms[terms.length - 1]! + 31 >= mtStateBits - 32) throw new Error('MT19937 characteristic polynomial too dense')
  return terms
})()

/** p as little-endian words (for checks). */
export function charpolyWords (): Uint32Array {
  const p = new Uint32Array(polyWords)
  for (const e of [...charpolyLowTerms, mtStateBits]) p[e >>> 5]! |= 1 << (e & 31)
  return p
}

/** a ^= w · x^offset for a word w (offset >= 0). */
function xorWordAt (a: Uint32Array, w: number, offset: number): void {
  const i = offset >>> 5
  const s = offset & 31
  a[i]! ^= w << s
  if (s !== 0) a[i + 1]! ^= w >>> (32 - s)
}

/** Reduce a[0 .. top) modulo x^31·p into a[0 .. 624), clearing the words above. */
function reduceWide (a: Uint32Array, top: number): void {
  const terms = charpolyLowTerms
  for (let i = top - 1; i >= polyWords; i--) {
    const w = a[i]!
    if (w === 0) continue
    a[i] = 0
    // w·x^(32i) = w·x^(32(i-624))·x^19968 and x^19968 ≡ Σ x^(e+31) modulo x^31·p.
    const base = 32 * (i - polyWords) + 31
    for (let k = 0; k < terms.length; k++) xorWordAt(a, w, base + terms[k]!)
  }
}

/** Spread 16 bits into the even bits of 32 (squaring over GF(2) interleaves zeros). */
const spread16 = (() => {
  const t = new Uint32Array(65536)
  for (let v = 1; v < 65536; v++) t[v] = (t[v >>> 1]! << 2) | (v & 1)
  return t
})()

/** wide = a² (a of 624 words, wide of 1248), then reduced in place. */
function squareInto (wide: Uint32Array, a: Uint32Array): void {
  for (let j = 0; j < polyWords; j++) {
    const v = a[j]!
    wide[2 * j] = spread16[v & 0xffff]!
    wide[2 * j + 1] = spread16[v >>> 16]!
  }
  reduceWide(wide, wideWords)
}

/** wide[0..624) · x, reduced in place. */
function timesX (wide: Uint32Array): void {
  wide[polyWords] = wide[polyWords - 1]! >>> 31
  for (let j = polyWords - 1; j > 0; j--) wide[j] = (wide[j]! << 1) | (wide[j - 1]! >>> 31)
  wide[0] = wide[0]! << 1
  reduceWide(wide, polyWords + 1)
}

/** x^e mod p as 624 little-endian words (degree < 19937). */
export function powXModCharpoly (e: bigint): Uint32Array {
  if (e < 0n) throw new RangeError('exponent must be non-negative')
  const wide = new Uint32Array(wideWords)
  const sq = new Uint32Array(wideWords)
  wide[0] = 1
  for (let bit = e.toString(2), k = 0; k < bit.length; k++) {
    if (k > 0) {
      squareInto(sq, wide)
      wide.set(sq.subarray(0, polyWords))
    }
    if (bit[k] === '1') timesX(wide)
  }
  // From modulo x^31·p to modulo p: x^(19937+j) ≡ Σ x^(e+j), all below 19937.
  const hi = wide[polyWords - 1]! >>> 1
  wide[polyWords - 1]! &= 1
  if (hi !== 0) for (const t of charpolyLowTerms) xorWordAt(wide, hi, t)
  return wide.slice(0, polyWords)
}
