// WebAssembly SIMD kernel for the MT19937 float32 uniform_ fill (uniform-fill.ts's uniformF32 hot
// path), bit-identical to the JS path (test/init/mt-uniform-wasm.test.ts compares them bit for bit).
//
// The module (src/init/mt-uniform-wasm.wat, compiled into mt-uniform-wasm-bytes.ts by
// scripts/build-wasm.ts) twists the 624-word block four words per v128, tempers four
// draws per v128 and forms f32(f64(draw & mask) * scaled + from) in f64x2 lanes, with 2.x's
// "v == to -> from". The engine's state, `left` and `next` are copied into the module's memory
// before and back out after each call, so the CpuGenerator ends exactly where the JS path leaves it.
// Output is produced in chunks in the module's memory and copied into the destination.
// uniformF32 routes here only when sumIsExact holds (then the f64 arithmetic is exact and the
// demotion to float32 is the single rounding, as the Float32Array store is in JS) and falls back
// to JS when this returns false (no WebAssembly SIMD, or disabled).

import { instantiateWasm } from './wasm-kernel.js'
import { MT_UNIFORM_WASM_BASE64 } from './mt-uniform-wasm-bytes.js'
import type { MT19937 } from './mt19937.js'

interface Kernel {
  twists: (n: number) => void
  fill: (count: number, out: number, mask: number, scaled: number, from: number, clampTo: number, from32: number) => void
  words: Uint32Array
  floats: Float32Array
}

/** Byte offsets in the module's memory (see the .wat). */
const leftWord = 2496 >>> 2
const nextWord = 2500 >>> 2
const outBase = 4096
/** Floats per kernel call: 64 KiB, well inside the 128 KiB memory with the 3-float overshoot. */
const chunkFloats = 16384

let kernel: Kernel | null | undefined

function load (): Kernel | null {
  const k = instantiateWasm(MT_UNIFORM_WASM_BASE64)
  if (k === null) return null // no WebAssembly (SIMD) here: uniformF32 uses JS
  return { twists: k.exports.twists as Kernel['twists'], fill: k.exports.fill as Kernel['fill'], words: new Uint32Array(k.memory), floats: new Float32Array(k.memory) }
}

/** Whether the WASM kernel loads on this runtime. */
export function mtUniformWasmAvailable (): boolean {
  if (kernel === undefined) kernel = load()
  return kernel !== null
}

/**
 * dst[off .. off+count) = f32((draw & mask) * scaled + from), v == clampTo -> from (clampTo NaN:
 * never), drawing `count` outputs from eng and leaving it where the JS path would. The caller
 * guarantees the double arithmetic is exact (sumIsExact), from is a float32 value and clampTo is
 * NaN or a float32 value. Returns false, touching nothing, when the caller must use JS.
 */
export function mtUniformWasmF32 (eng: MT19937, dst: Float32Array, off: number, count: number,
  mask: number, scaled: number, from: number, clampTo: number): boolean {
  if (kernel === undefined) kernel = load()
  if (kernel === null) return false
  const { fill, words, floats } = kernel
  words.set(eng.state, 0)
  words[leftWord] = eng.left
  words[nextWord] = eng.next
  // Source and destination addresses equal mod 8: TypedArray#set copies a SharedArrayBuffer
  // element by element otherwise.
  const base = outBase + ((dst.byteOffset + 4 * off) & 7)
  const first = base >>> 2
  while (count > 0) {
    const k = count < chunkFloats ? count : chunkFloats
    fill(k, base, mask, scaled, from, clampTo, from)
    dst.set(floats.subarray(first, first + k), off)
    off += k
    count -= k
  }
  eng.state.set(words.subarray(0, eng.state.length))
  eng.left = words[leftWord]!
  eng.next = words[nextWord]!
  return true
}

/**
 * Regenerates `state` (624 words) `blocks` times, as that many MT19937.twist() calls: whole blocks
 * skipped by discard(), 4 words per v128. Returns false, touching nothing, when the caller must use JS.
 */
export function mtTwistWasm (state: Uint32Array, blocks: number): boolean {
  if (kernel === undefined) kernel = load()
  if (kernel === null) return false
  kernel.words.set(state, 0)
  // i32 count: chunks of 2^30 blocks
  for (let left = blocks; left > 0; left -= 2 ** 30) kernel.twists(Math.min(left, 2 ** 30))
  state.set(kernel.words.subarray(0, state.length))
  return true
}
