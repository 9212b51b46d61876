// Philox4x32-10 (Salmon, Moraes, Dror & Shaw, SC'11; Random123's philox4x32 with 10 rounds) in
// plain 32-bit JavaScript arithmetic: no BigInt, no allocation in the block loop.
//
// The only awkward operation is the 32x32 -> 64-bit multiply x * M. The low word is Math.imul.
// The high word comes from the double product: fl(x * M) (< 2^64) is within 2^10 of the exact
// product, so hi = trunc(fl(x * (M / 2^32))) (M / 2^32 is exact, and scaling by a power of two
// commutes with rounding) is exact unless the exact low word lo lies within 2^10 of a multiple of
// 2^32. That is tested on lo (probability 2^-21), and then the estimate is corrected with lo:
//   hi = trunc(fl(fl(x * (M / 2^32)) - lo * 2^-32) + 0.5)
// whose argument lies within 2^-19 of hi + 1/2 (2^-22 from the product, at most 2^-21 each from
// the subtraction and the addition of values below 2^32). The correction is always exact; it is
// kept off the common path because it costs ~20% of the kernel's time. Checked in the tests against
// BigInt, including products whose low word is near a multiple of 2^32.
//
// philoxBlocks interleaves four independent counters so the CPU overlaps their multiply chains,
// and hoists the parts of rounds 1 and 2 that depend only on the constant counter words.

export const PHILOX_M0 = 0xD2511F53
export const PHILOX_M1 = 0xCD9E8D57
export const PHILOX_W0 = 0x9E3779B9
export const PHILOX_W1 = 0xBB67AE85

const M0 = PHILOX_M0
const M1 = PHILOX_M1
const M0L = M0 & 0xffff
const M0H = M0 >>> 16
const M1L = M1 & 0xffff
const M1H = M1 >>> 16
const M0S = M0 / 4294967296
const M1S = M1 / 4294967296
const W0 = PHILOX_W0 | 0
const W1 = PHILOX_W1 | 0
const TWO_NEG32 = 2 ** -32

/** High 32 bits of the 64-bit product a * (bh * 2^16 + bl) by 16-bit halves (the reference). */
function mulhiExact (a: number, bl: number, bh: number): number {
  const al = a & 0xffff
  const ah = a >>> 16
  const lh = Math.imul(al, bh)
  const hl = Math.imul(ah, bl)
  const mid = (Math.imul(al, bl) >>> 16) + (lh & 0xffff) + (hl & 0xffff)
  return (Math.imul(ah, bh) + (lh >>> 16) + (hl >>> 16) + (mid >>> 16)) | 0
}

/** High word of x * M0 given the low word lo = Math.imul(x, M0) (int32 bits in and out). */
function hiM0 (x: number, lo: number): number {
  const h = ((x >>> 0) * M0S) | 0
  return ((lo + 1024) >>> 0) < 2048 ? (((x >>> 0) * M0S - (lo >>> 0) * TWO_NEG32 + 0.5) | 0) : h
}

/** High word of x * M1 given the low word lo = Math.imul(x, M1). */
function hiM1 (x: number, lo: number): number {
  const h = ((x >>> 0) * M1S) | 0
  return ((lo + 1024) >>> 0) < 2048 ? (((x >>> 0) * M1S - (lo >>> 0) * TWO_NEG32 + 0.5) | 0) : h
}

/** High word of a * M0 (a: int32 bits), as the block kernel computes it. */
export function mulhi0 (a: number): number {
  return hiM0(a, Math.imul(a, M0))
}

/** High word of a * M1 (a: int32 bits), as the block kernel computes it. */
export function mulhi1 (a: number): number {
  return hiM1(a, Math.imul(a, M1))
}

/**
 * Philox4x32-10 of one counter under one key, straightforwardly (for tests and documentation).
 * Returns the four output words as unsigned numbers.
 */
export function philox4x32x10 (ctr: ArrayLike<number>, key: ArrayLike<number>): Uint32Array {
  let x0 = ctr[0]! | 0; let x1 = ctr[1]! | 0; let x2 = ctr[2]! | 0; let x3 = ctr[3]! | 0
  let k0 = key[0]! | 0; let k1 = key[1]! | 0
  for (let r = 0; r < 10; r++) {
    const hi0 = mulhiExact(x0, M0L, M0H); const lo0 = Math.imul(x0, M0)
    const hi1 = mulhiExact(x2, M1L, M1H); const lo1 = Math.imul(x2, M1)
    x0 = hi1 ^ x1 ^ k0; x1 = lo1; x2 = hi0 ^ x3 ^ k1; x3 = lo0
    k0 = (k0 + W0) | 0; k1 = (k1 + W1) | 0
  }
  return Uint32Array.of(x0, x1, x2, x3)
}

/**
 * Philox4x32-10 of the counters (c0 + j, c1, c2, 0), j = 0 .. nBlocks-1, under key (k0, k1); the
 * four words of block j go to out[4j .. 4j+3]. Works in groups of four blocks: out must have room
 * for 4 * roundUp(nBlocks, 4) words (the words past 4 * nBlocks are scratch). c0 + j wraps modulo
 * 2^32 without carrying into c1; callers split ranges at multiples of 2^32.
 */
export function philoxBlocks (out: Int32Array | Uint32Array, nBlocks: number, c0: number, c1: number, c2: number, k0: number, k1: number): void {
  k0 |= 0; k1 |= 0; c0 |= 0
  // Round 1 on (c0, c1, c2, 0): the M1 * c2 product and the new x0, x1 are the same for every block.
  const h1 = mulhi1(c2 | 0)
  const a = h1 ^ c1 ^ k0 // round-1 x0
  const l1 = Math.imul(c2, M1) // round-1 x1
  // Round 2: M0 * a is shared too.
  const k0b = (k0 + W0) | 0
  const k1b = (k1 + W1) | 0
  const r2x0 = l1 ^ k0b
  const r2x2 = mulhi0(a) ^ k1b
  const r2x3 = Math.imul(a, M0)
  const k0c = (k0b + W0) | 0
  const k1c = (k1b + W1) | 0
  for (let b = 0; b < nBlocks; b += 4) {
    let x0: number, x1: number, x2: number, x3: number
    let y0: number, y1: number, y2: number, y3: number
    let z0: number, z1: number, z2: number, z3: number
    let w0: number, w1: number, w2: number, w3: number
    {
      // Round 1, varying part: hi/lo of M0 * counter word 0.
      const cx = (c0 + b) | 0; const cy = (c0 + b + 1) | 0; const cz = (c0 + b + 2) | 0; const cw = (c0 + b + 3) | 0
      const lx = Math.imul(cx, M0); const ly = Math.imul(cy, M0); const lz = Math.imul(cz, M0); const lw = Math.imul(cw, M0)
      const hx = hiM0(cx, lx)
      const hy = hiM0(cy, ly)
      const hz = hiM0(cz, lz)
      const hw = hiM0(cw, lw)
      // Round-1 x2 (counter word 3 is 0), then round 2's M1 product of it.
      const ax = hx ^ k1; const ay = hy ^ k1; const az = hz ^ k1; const aw = hw ^ k1
      const mx = Math.imul(ax, M1); const my = Math.imul(ay, M1); const mz = Math.imul(az, M1); const mw = Math.imul(aw, M1)
      const gx = hiM1(ax, mx)
      const gy = hiM1(ay, my)
      const gz = hiM1(az, mz)
      const gw = hiM1(aw, mw)
      x0 = gx ^ r2x0; x1 = mx; x2 = lx ^ r2x2; x3 = r2x3
      y0 = gy ^ r2x0; y1 = my; y2 = ly ^ r2x2; y3 = r2x3
      z0 = gz ^ r2x0; z1 = mz; z2 = lz ^ r2x2; z3 = r2x3
      w0 = gw ^ r2x0; w1 = mw; w2 = lw ^ r2x2; w3 = r2x3
    }
    let ka = k0c; let kb = k1c
    for (let r = 2; r < 10; r++) {
      const lx0 = Math.imul(x0, M0); const lx1 = Math.imul(x2, M1)
      const ly0 = Math.imul(y0, M0); const ly1 = Math.imul(y2, M1)
      const lz0 = Math.imul(z0, M0); const lz1 = Math.imul(z2, M1)
      const lw0 = Math.imul(w0, M0); const lw1 = Math.imul(w2, M1)
      const hx0 = hiM0(x0, lx0); const hx1 = hiM1(x2, lx1)
      const hy0 = hiM0(y0, ly0); const hy1 = hiM1(y2, ly1)
      const hz0 = hiM0(z0, lz0); const hz1 = hiM1(z2, lz1)
      const hw0 = hiM0(w0, lw0); const hw1 = hiM1(w2, lw1)
      x0 = hx1 ^ x1 ^ ka; x1 = lx1; x2 = hx0 ^ x3 ^ kb; x3 = lx0
      y0 = hy1 ^ y1 ^ ka; y1 = ly1; y2 = hy0 ^ y3 ^ kb; y3 = ly0
      z0 = hz1 ^ z1 ^ ka; z1 = lz1; z2 = hz0 ^ z3 ^ kb; z3 = lz0
      w0 = hw1 ^ w1 ^ ka; w1 = lw1; w2 = hw0 ^ w3 ^ kb; w3 = lw0
      ka = (ka + W0) | 0; kb = (kb + W1) | 0
    }
    const o = b << 2
    out[o] = x0; out[o + 1] = x1; out[o + 2] = x2; out[o + 3] = x3
    out[o + 4] = y0; out[o + 5] = y1; out[o + 6] = y2; out[o + 7] = y3
    out[o + 8] = z0; out[o + 9] = z1; out[o + 10] = z2; out[o + 11] = z3
    out[o + 12] = w0; out[o + 13] = w1; out[o + 14] = w2; out[o + 15] = w3
  }
}
