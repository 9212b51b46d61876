// MT19937 and PyTorch's CPU generator (at::CPUGeneratorImpl) around it.
//
// torch's engine is the textbook MT19937 (init_genrand seeding, matrix 0x9908B0DF, standard
// tempering) with Cokus-style bookkeeping: `left` counts down to a whole-block regeneration and
// `next` indexes the block. Those two fields are kept exactly as torch keeps them so getState()
// can reproduce torch.get_rng_state() byte for byte.

import { jumpBlocks } from './mt19937-jump-block.js'
import { mtTwistWasm } from './mt-uniform-wasm.js'

export const mtStateWords = 624
const mtShift = 397
const matrixA = 0x9908b0df
const upperMask = 0x80000000
const lowerMask = 0x7fffffff

/** Seeds arrive as Python ints would: integers in [-2^63, 2^64 - 1], as a number or a bigint. */
export type Seed = bigint | number

const u64Max = (1n << 64n) - 1n
const i64Min = -(1n << 63n)

/** Torch's default CPU seed (c10 default_rng_seed_val), used before any manualSeed. */
export const defaultSeed = 67280421310721n

/**
 * The uint64 value torch stores for a seed: negative values wrap two's complement (-1 -> 2^64-1).
 * Out-of-range values are rejected like torch's `Overflow when unpacking long long`.
 */
export function seedToUint64 (seed: Seed): bigint {
  let s: bigint
  if (typeof seed === 'number') {
    if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`)
    s = BigInt(seed)
  } else {
    s = seed
  }
  if (s < i64Min || s > u64Max) throw new RangeError(`seed ${s} is outside [-2^63, 2^64-1]`)
  return BigInt.asUintN(64, s)
}

/** Apply MT19937 tempering to a raw state word. */
export function temper (word: number): number {
  let y = word
  y ^= y >>> 11
  y ^= (y << 7) & 0x9d2c5680
  y ^= (y << 15) & 0xefc60000
  y ^= y >>> 18
  return y >>> 0
}

/** The MT19937 engine (at::mt19937). */
export class MT19937 {
  readonly state = new Uint32Array(mtStateWords)
  /** Draws left before the next regeneration, plus one (torch's `left_`; 1 right after seeding). */
  left = 1
  /** Index of the next state word to temper (torch's `next_`). */
  next = 0

  constructor (seed: Seed = 5489) {
    this.seed(seed)
  }

  /** init_genrand with the low 32 bits of the (uint64-wrapped) seed; the first draw regenerates. */
  seed (seed: Seed): void {
    const s = this.state
    s[0] = Number(seedToUint64(seed) & 0xffffffffn)
    for (let j = 1; j < mtStateWords; j++) {
      const prev = s[j - 1]!
      s[j] = (Math.imul(1812433253, prev ^ (prev >>> 30)) + j) >>> 0
    }
    this.left = 1
    this.next = 0
  }

  /** Regenerate the whole 624-word block (no tempering). Loops are split to avoid a modulo. */
  twist (): void {
    const s = this.state
    const n = mtStateWords
    const m = mtShift
    let k = 0
    for (; k < n - m; k++) {
      const y = (s[k]! & upperMask) | (s[k + 1]! & lowerMask)
      s[k] = s[k + m]! ^ (y >>> 1) ^ (-(y & 1) & matrixA)
    }
    for (; k < n - 1; k++) {
      const y = (s[k]! & upperMask) | (s[k + 1]! & lowerMask)
      s[k] = s[k + m - n]! ^ (y >>> 1) ^ (-(y & 1) & matrixA)
    }
    const y = (s[n - 1]! & upperMask) | (s[0]! & lowerMask)
    s[n - 1] = s[m - 1]! ^ (y >>> 1) ^ (-(y & 1) & matrixA)
    this.left = n
    this.next = 0
  }

  /** Next 32-bit output. */
  random (): number {
    if (--this.left === 0) this.twist()
    return temper(this.state[this.next++]!)
  }

  /**
   * Take up to `count` (>= 1) draws from the current block, regenerating it first if it is used up,
   * and return how many were taken (at least 1). Their raw words are state[next - taken .. next);
   * temper() turns them into the outputs. Lets hot loops temper in registers instead of going
   * through a buffer.
   */
  takeFromBlock (count: number): number {
    if (this.left === 1) this.twist() // sets left = 624, next = 0, as the next draw would
    else this.left-- // account for the first draw (torch pre-decrements)
    // One draw is accounted for above; the block has `left - 1` more before the next twist.
    const take = count < this.left ? count : this.left
    this.left -= take - 1
    this.next += take
    return take
  }

  /**
   * Write `count` consecutive outputs into out[offset..]. The inner loop runs over one block with
   * no bookkeeping per draw.
   */
  fillU32 (out: Uint32Array, offset: number, count: number): void {
    const s = this.state
    let o = offset
    let remaining = count
    while (remaining > 0) {
      const take = this.takeFromBlock(remaining)
      const end = this.next
      for (let nx = end - take; nx < end; nx++) {
        let y = s[nx]!
        y ^= y >>> 11
        y ^= (y << 7) & 0x9d2c5680
        y ^= (y << 15) & 0xefc60000
        y ^= y >>> 18
        out[o++] = y
      }
      remaining -= take
    }
  }

  /**
   * Skip `n` draws. Whole blocks are skipped by twisting without tempering or storing outputs,
   * one twist per 624 draws, in the WebAssembly kernel when it loads (`wasm = false`: the JS
   * reference, ~1.5 ns per skipped draw; the kernel ~0.2 ns); from mtJumpMinBlocks blocks on, by
   * jump-ahead instead (jumpBlocks, ~10 ms whatever the distance).
   */
  discard (n: number | bigint, wasm = true): void {
    const to = positionAfter(this, typeof n === 'bigint' ? n : BigInt(checkCount(n)))
    if (to.twists > 0n) this.skipBlocks(to.twists, wasm)
    this.left = to.left
    this.next = to.next
  }

  /** Regenerate the block `twists` times, as that many twist() calls (left and next are the caller's). */
  private skipBlocks (twists: bigint, wasm: boolean): void {
    if (twists >= mtJumpMinBlocks) {
      this.state.set(jumpBlocks(this.state, twists))
      return
    }
    if (!(wasm && twists >= 4n && mtTwistWasm(this.state, Number(twists)))) {
      for (let b = 0n; b < twists; b++) this.twist()
    }
  }

  copyFrom (other: MT19937): void {
    this.state.set(other.state)
    this.left = other.left
    this.next = other.next
  }
}

/**
 * Blocks from which discard() jumps instead of twisting: a jump costs about as much as twisting
 * 2^16 blocks (4·10^7 draws) in the WebAssembly kernel (bench/mt19937-jump.ts).
 */
export const mtJumpMinBlocks = 1n << 16n

/** Where an engine at `from` is after `draws` more draws: its left and next, and the twists on the way. */
export function positionAfter (from: { left: number, next: number }, draws: bigint): { twists: bigint, left: number, next: number } {
  if (draws < 0n) throw new RangeError('cannot discard a negative number of draws')
  const avail = BigInt(from.left - 1)
  if (draws <= avail) return { twists: 0n, left: from.left - Number(draws), next: from.next + Number(draws) }
  // draws - avail >= 1 draws remain, each block of 624 begins with a twist.
  const rem = draws - avail
  const blocks = (rem - 1n) / BigInt(mtStateWords)
  const last = Number(rem - blocks * BigInt(mtStateWords)) // 1..624
  return { twists: blocks + 1n, left: mtStateWords - last + 1, next: last }
}

function checkCount (n: number): number {
  if (!Number.isSafeInteger(n)) throw new RangeError(`draw count must be a safe integer, got ${n}`)
  return n
}

/** Byte size of torch.get_rng_state() for the CPU generator. */
export const rngStateBytes = 5056

/**
 * The CPU generator: MT19937 plus the cached Box-Muller samples.
 *
 * Only the double cache is used by the kernels ported here (the scalar normal path); it survives
 * across calls and modules until consumed or cleared by manualSeed/setState.
 */
export class CpuGenerator {
  readonly engine: MT19937
  private seedValue: bigint
  /** torch's next_double_normal_sample (valid when hasDoubleNormal). */
  doubleNormal = 0
  hasDoubleNormal = false
  /** torch's next_float_normal_sample; carried in the state for fidelity, unused by these kernels. */
  floatNormal = 0
  hasFloatNormal = false

  constructor (seed: Seed = defaultSeed) {
    this.seedValue = seedToUint64(seed)
    this.engine = new MT19937(this.seedValue)
  }

  /** torch.manual_seed / Generator.manual_seed: reseed and drop both cached normal samples. */
  manualSeed (seed: Seed): this {
    this.seedValue = seedToUint64(seed)
    this.engine.seed(this.seedValue)
    this.hasDoubleNormal = false
    this.doubleNormal = 0
    this.hasFloatNormal = false
    this.floatNormal = 0
    return this
  }

  /** The full uint64 seed (torch.initial_seed()); only its low 32 bits affect the stream. */
  initialSeed (): bigint {
    return this.seedValue
  }

  /** One 32-bit output. */
  random (): number {
    return this.engine.random()
  }

  /** Two outputs, the first in the high word (torch's random64()). */
  random64 (): bigint {
    const hi = this.engine.random()
    const lo = this.engine.random()
    return (BigInt(hi) << 32n) | BigInt(lo)
  }

  /** (random64() & (2^53-1)) * 2^-53 without BigInt: 21 low bits of the first output, all of the second. */
  uniform01Double (): number {
    const hi = this.engine.random()
    const lo = this.engine.random()
    return ((hi & 0x1fffff) * 4294967296 + lo) * 1.1102230246251565e-16
  }

  /** Write `count` 32-bit outputs into out[offset..]. */
  fillU32 (out: Uint32Array, offset: number, count: number): void {
    this.engine.fillU32(out, offset, count)
  }

  /** Skip `n` 32-bit draws (random64 counts as two). Does not touch the normal cache. */
  discard (n: number | bigint): void {
    this.engine.discard(n)
  }

  /** torch.get_rng_state() layout: 5056 little-endian bytes. */
  getState (): Uint8Array {
    const out = new Uint8Array(rngStateBytes)
    const dv = new DataView(out.buffer)
    dv.setBigUint64(0, this.seedValue, true)
    dv.setInt32(8, this.engine.left, true)
    dv.setInt32(12, 1, true) // `seeded`
    dv.setBigUint64(16, BigInt(this.engine.next), true)
    const s = this.engine.state
    for (let i = 0; i < mtStateWords; i++) dv.setUint32(24 + 8 * i, s[i]!, true) // u64 words, high half 0
    // 5016 normal_x and 5032 normal_rho are legacy fields torch leaves at 0.
    if (this.hasDoubleNormal) {
      dv.setFloat64(5024, this.doubleNormal, true)
      dv.setInt32(5040, 1, true)
    }
    if (this.hasFloatNormal) {
      dv.setFloat32(5044, this.floatNormal, true)
      out[5048] = 1
    }
    return out
  }

  /** torch.set_rng_state(): restore from getState() bytes. */
  setState (bytes: Uint8Array): this {
    if (bytes.byteLength !== rngStateBytes) {
      throw new RangeError(`RNG state must be ${rngStateBytes} bytes, got ${bytes.byteLength}`)
    }
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const left = dv.getInt32(8, true)
    const next = Number(dv.getBigUint64(16, true))
    if (left < 1 || left > mtStateWords || next < 0 || next > mtStateWords) {
      throw new RangeError('RNG state has an invalid position')
    }
    this.seedValue = dv.getBigUint64(0, true)
    const s = this.engine.state
    for (let i = 0; i < mtStateWords; i++) s[i] = dv.getUint32(24 + 8 * i, true)
    this.engine.left = left
    this.engine.next = next
    this.hasDoubleNormal = dv.getInt32(5040, true) !== 0
    this.doubleNormal = this.hasDoubleNormal ? dv.getFloat64(5024, true) : 0
    this.hasFloatNormal = bytes[5048] !== 0
    this.floatNormal = this.hasFloatNormal ? dv.getFloat32(5044, true) : 0
    return this
  }

  /** An independent copy (engine position and caches). */
  clone (): CpuGenerator {
    const g = new CpuGenerator(this.seedValue)
    g.engine.copyFrom(this.engine)
    g.doubleNormal = this.doubleNormal
    g.hasDoubleNormal = this.hasDoubleNormal
    g.floatNormal = this.floatNormal
    g.hasFloatNormal = this.hasFloatNormal
    return g
  }
}
