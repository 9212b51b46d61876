// WebAssembly SIMD kernel for rng: "philox" float32 and bfloat16 uniform fills (docs/philox.md),
// bit-identical to philox.ts's JS path (test/init/philox-wasm.test.ts compares them bit for bit).
//
// The module (src/init/philox-wasm.wat, compiled into philox-wasm-bytes.ts by
// scripts/build-wasm.ts) computes Philox4x32-10 four blocks per v128 (32x32 -> 64 products by
// i64x2.extmul) and converts each block's five 24-bit fields as f32(f32(k * rs) + lo) into its own
// memory, in chunks (bfloat16: then rounded to bfloat16 as fp.ts's castF32BitsToBf16); each chunk is
// copied into the target (any alignment, SharedArrayBuffer or not: wasm memory is little-endian,
// like the target layout). philoxFill routes float32 and bfloat16 uniform fills here and falls back
// to JS when this returns false (no WebAssembly SIMD, or a range whose rs = range * 2^-24
// is not exact in float32).

import { instantiateWasm } from './wasm-kernel.js'
import { PHILOX_WASM_BASE64 } from './philox-wasm-bytes.js'

interface Kernel {
  uniform32: (c0: number, c1: number, c2: number, k0: number, k1: number, groups: number, rs: number, lo: number, out: number) => void
  toBf16: (src: number, dst: number, n: number) => void
  bytes: Uint8Array
}

const TWO32 = 4294967296
const TWO_NEG24 = 2 ** -24
/** Blocks per kernel call: 4096 blocks = 80 KiB of float32 (the module has 128 KiB of memory; the
 * kernel works two groups of four blocks at a time and may write one group past the chunk). */
const chunkBlocks = 4096
const uniformPurpose = 1
/** Where toBf16 writes a chunk's bfloat16 (after the float32 chunk, below the 128 KiB end). */
const bf16Base = 86016

let kernel: Kernel | null | undefined

function load (): Kernel | null {
  const k = instantiateWasm(PHILOX_WASM_BASE64)
  if (k === null) return null // no WebAssembly (SIMD) here: philoxFill uses JS
  return { uniform32: k.exports.uniform32 as Kernel['uniform32'], toBf16: k.exports.toBf16 as Kernel['toBf16'], bytes: new Uint8Array(k.memory) }
}

/** Whether the WASM kernel loads on this runtime. */
export function philoxWasmAvailable (): boolean {
  if (kernel === undefined) kernel = load()
  return kernel !== null
}

function floorDiv5 (x: number): number {
  let q = Math.floor(x / 5)
  while (q * 5 > x) q--
  while ((q + 1) * 5 <= x) q++
  return q
}

/**
 * Uniform elements [firstElement, firstElement + n) of the stream keyed (k0, k1) into target
 * (n * 4 bytes of float32, or n * 2 of bfloat16), x = f32(f32(k * (range * 2^-24)) + lo) with lo,
 * range the float32 bounds of philox.ts's checkParams. Returns false, writing nothing, when the
 * caller must use JS.
 */
export function philoxWasmUniform (target: Uint8Array, dtype: 'float32' | 'bfloat16', firstElement: number, n: number, lo: number, range: number, k0: number, k1: number): boolean {
  const rs = range * TWO_NEG24
  if (Math.fround(rs) !== rs || Math.fround(lo) !== lo) return false
  if (kernel === undefined) kernel = load()
  if (kernel === null) return false
  const { uniform32, toBf16, bytes } = kernel
  const size = dtype === 'float32' ? 4 : 2
  const end = firstElement + n
  const lastBlock = floorDiv5(end - 1) // the block of the last element
  let elem = firstElement
  let d = 0
  while (elem < end) {
    const block = floorDiv5(elem)
    const hiWord = Math.floor(block / TWO32)
    const loWord = block - hiWord * TWO32
    // Blocks in this chunk: up to chunkBlocks, to the last needed block, and not across 2^32.
    const nb = Math.min(chunkBlocks, lastBlock + 1 - block, TWO32 - loWord)
    const l0 = elem - block * 5
    const cnt = Math.min(end, (block + nb) * 5) - elem
    // Source and destination addresses equal mod 8: TypedArray#set copies a SharedArrayBuffer
    // byte by byte otherwise.
    const base = (target.byteOffset + d - size * l0) & 7
    if (size === 4) {
      uniform32(loWord | 0, hiWord | 0, uniformPurpose, k0 | 0, k1 | 0, (nb + 3) >> 2, rs, lo, base)
    } else {
      uniform32(loWord | 0, hiWord | 0, uniformPurpose, k0 | 0, k1 | 0, (nb + 3) >> 2, rs, lo, 0)
      toBf16(0, bf16Base + base, l0 + cnt)
    }
    const src = size === 4 ? base : bf16Base + base
    target.set(bytes.subarray(src + l0 * size, src + (l0 + cnt) * size), d)
    d += cnt * size
    elem += cnt
  }
  return true
}

/** float32 elements per toBf16 call: their float32 and bfloat16 fit below bf16Base and the memory's end. */
const castChunk = 16384

/**
 * float32 bytes `src` as bfloat16 bytes into `dst` (half as long), rounded as fp.ts's
 * castF32BitsToBf16, by the kernel's toBf16 (eight at a time). Returns false, writing nothing,
 * when the caller must use JS.
 */
export function wasmCastF32ToBf16 (src: Uint8Array, dst: Uint8Array): boolean {
  if (kernel === undefined) kernel = load()
  if (kernel === null) return false
  const { toBf16, bytes } = kernel
  const n = src.length >> 2
  for (let i = 0; i < n; i += castChunk) {
    const cnt = Math.min(castChunk, n - i)
    bytes.set(src.subarray(i * 4, (i + cnt) * 4), 0)
    toBf16(0, bf16Base, cnt)
    dst.set(bytes.subarray(bf16Base, bf16Base + cnt * 2), i * 2)
  }
  return true
}
