// The characteristic polynomial of MT19937's one-word state transition, found by Berlekamp–Massey
// over GF(2) (https://en.wikipedia.org/wiki/Berlekamp%E2%80%93Massey_algorithm). The transition's
// characteristic polynomial is irreducible of degree 19937 (Matsumoto & Nishimura 1998), so the
// minimal polynomial of any non-zero bit stream it drives is that polynomial, and 2 × 19937 bits
// determine it. scripts/mt19937-jump-charpoly.ts commits the result; the test recomputes it.
// Only the script and the test use this file.

/**
 * The minimal polynomial of a bit sequence, as little-endian words (bit k = coefficient of x^k),
 * with its degree. Bitset form: each step is one AND-parity and at most one shifted XOR.
 */
export function berlekampMassey (s: Uint8Array): { poly: Uint32Array, degree: number } {
  const n = s.length
  const words = (n >>> 5) + 2
  const c = new Uint32Array(words) // connection polynomial C(x), c_0 = 1
  let b = new Uint32Array(words)
  let t = new Uint32Array(words)
  const window = new Uint32Array(words) // bit j = s[i - j]
  c[0] = 1
  b[0] = 1
  let len = 0
  let m = 1
  for (let i = 0; i < n; i++) {
    const used = Math.min(words, (i >>> 5) + 1)
    for (let w = used - 1; w > 0; w--) window[w] = (window[w]! << 1) | (window[w - 1]! >>> 31)
    window[0] = (window[0]! << 1) | s[i]!
    let acc = 0
    for (let w = 0, lw = (len >>> 5) + 1; w < lw; w++) acc ^= c[w]! & window[w]!
    acc ^= acc >>> 16
    acc ^= acc >>> 8
    acc ^= acc >>> 4
    acc ^= acc >>> 2
    acc ^= acc >>> 1
    if ((acc & 1) === 0) { m++; continue }
    t.set(c)
    xorShifted(c, b, m)
    if (2 * len <= i) {
      len = i + 1 - len
      const tmp = b
      b = t
      t = tmp
      m = 1
    } else {
      m++
    }
  }
  // The characteristic polynomial is C's reciprocal: p_k = c_(len - k).
  const poly = new Uint32Array((len >>> 5) + 1)
  for (let k = 0; k <= len; k++) {
    const j = len - k
    if ((c[j >>> 5]! >>> (j & 31)) & 1) poly[k >>> 5]! |= 1 << (k & 31)
  }
  return { poly, degree: len }
}

/** dst ^= src · x^shift, dropping bits beyond dst's length. */
function xorShifted (dst: Uint32Array, src: Uint32Array, shift: number): void {
  const ws = shift >>> 5
  const bs = shift & 31
  for (let w = dst.length - 1; w >= ws; w--) {
    const lo = src[w - ws]!
    dst[w]! ^= bs === 0 ? lo : (lo << bs) | (w - ws > 0 ? src[w - ws - 1]! >>> (32 - bs) : 0)
  }
}
