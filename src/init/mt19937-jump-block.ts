// Jump-ahead for MT19937 (Haramoto, Matsumoto, Nishimura, Panneton, L'Ecuyer, "Efficient Jump Ahead
// for F2-Linear Random Number Generators", INFORMS J. Computing 20(3), 2008): with T the one-word
// transition and p its characteristic polynomial, T^J = g(T) for g = x^J mod p, and g(T)·state is
// evaluated by Horner's rule, 8 coefficients at a time: advance eight words, XOR in one of 256
// precomputed combinations of T^0..T^7 applied to the start state (the paper's sliding window).
// The state is a ring of 624 words with a start index, as in numpy's mt19937-jump.c
// (https://github.com/numpy/numpy/blob/main/numpy/random/src/mt19937/mt19937-jump.c).
//
// The 19937-bit state at word position k is the top bit of x_k and all of x_(k+1) .. x_(k+623); the
// low 31 bits of x_k are outside it. To hand back a whole block x_k' .. x_(k'+623) with every bit
// right, the jump goes to position k' - 1 and one ordinary step then computes x_(k'+623).

import { powXModCharpoly } from './mt19937-jump-poly.js'

// MT19937's parameters, as in mt19937.ts (not imported: mt19937.ts imports this file).
const n = 624
const m = 397
const matrixA = 0x9908b0df

/** Compute the word after the ring's 624 (oldest at `start`) into r[start]; returns the new start. */
function stepRing (r: Uint32Array, start: number): number {
  const y = (r[start]! & 0x80000000) | (r[start + 1 === n ? 0 : start + 1]! & 0x7fffffff)
  const mi = start + m < n ? start + m : start + m - n
  r[start] = r[mi]! ^ (y >>> 1) ^ (-(y & 1) & matrixA)
  return start + 1 === n ? 0 : start + 1
}

/** Bits of g per Horner step: T^8 per step and one XOR of a precomputed combination. */
const windowBits = 8

/** Row c (624 words, oldest first) = Σ over the set bits i of c of T^i·block. */
function windowTable (block: Uint32Array): Uint32Array {
  const table = new Uint32Array((1 << windowBits) * n)
  const walk = block.slice()
  let start = 0
  for (let i = 0; i < windowBits; i++) {
    const row = (1 << i) * n
    table.set(walk.subarray(start), row)
    table.set(walk.subarray(0, start), row + n - start)
    start = stepRing(walk, start)
  }
  for (let c = 3; c < 1 << windowBits; c++) {
    const low = c & -c
    if (low === c) continue
    const dst = c * n
    const a = low * n
    const b = (c ^ low) * n
    for (let j = 0; j < n; j++) table[dst + j] = table[a + j]! ^ table[b + j]!
  }
  return table
}

/**
 * The 624-word block `blocks` regenerations (twists) after `block`: what `blocks` calls of
 * MT19937.twist() leave in the state. A pure function of its arguments (5–10 ms whatever the
 * distance; fit for a worker thread). `block` is not modified.
 */
export function jumpBlocks (block: Uint32Array, blocks: bigint): Uint32Array {
  if (block.length !== n) throw new RangeError(`MT19937 block must be ${n} words`)
  if (blocks < 0n) throw new RangeError('cannot jump backwards')
  if (blocks === 0n) return block.slice()
  const g = powXModCharpoly(BigInt(n) * blocks - 1n)
  const table = windowTable(block)
  const r = new Uint32Array(n)
  let start = 0
  let top = 4 * g.length - 1
  while (top > 0 && ((g[top >>> 2]! >>> (8 * (top & 3))) & 0xff) === 0) top--
  for (let q = top; q >= 0; q--) {
    // r = T^8·r + Σ_i g_(8q+i)·T^i·block, the tables' oldest word aligned with the ring's.
    const digit = (g[q >>> 2]! >>> (8 * (q & 3))) & 0xff
    for (let i = 0; i < windowBits; i++) start = stepRing(r, start)
    if (digit === 0) continue
    const row = digit * n
    const split = n - start
    for (let j = 0; j < split; j++) r[start + j]! ^= table[row + j]!
    for (let j = split; j < n; j++) r[start + j - n]! ^= table[row + j]!
  }
  start = stepRing(r, start)
  const out = new Uint32Array(n)
  out.set(r.subarray(start), 0)
  out.set(r.subarray(0, start), n - start)
  return out
}
