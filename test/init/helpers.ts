// Shared helpers for the src/init tests: fixtures, byte views, hashing.
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'

import { allocDense, itemSize, type InitProfile, profile113, profile2x } from '../../src/init/distributions.js'
import { f32FromBits } from '../../src/init/fp.js'
import type { FloatDType } from '../../src/tensor/dtype.js'

export function loadFixture<T = any> (name: string): T {
  return JSON.parse(readFileSync(new URL(`../fixtures/init/${name}`, import.meta.url), 'utf8')) as T
}

export function profileOf (version: string): InitProfile {
  return version === '1.13' ? profile113 : profile2x
}

/** Little-endian bytes of a typed array (these tests run on little-endian hosts). */
export function bytesOf (a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength)
}

export function hexOf (a: ArrayBufferView): string {
  return Buffer.from(bytesOf(a)).toString('hex')
}

export function sha256Of (a: ArrayBufferView): string {
  return createHash('sha256').update(bytesOf(a)).digest('hex')
}

/** Compare bytes with a fixture entry holding either `hex` or `sha256`. */
export function matchesEntry (a: ArrayBufferView, entry: { hex?: string, sha256?: string }): boolean {
  if (entry.hex !== undefined) return hexOf(a) === entry.hex
  return sha256Of(a) === entry.sha256
}

export function alloc (dtype: FloatDType, n: number): Float32Array | Float64Array | Uint16Array {
  return allocDense(dtype, n)
}

/** Python float.hex() -> number. */
export function fromPyHex (s: string): number {
  const m = /^(-)?0x([01])\.([0-9a-f]+)p([+-]\d+)$/.exec(s)
  if (m === null) {
    if (s === '0x0.0p+0') return 0
    if (s === '-0x0.0p+0') return -0
    throw new Error(`bad hex float ${s}`)
  }
  const [, sign, lead, frac, exp] = m as unknown as [string, string | undefined, string, string, string]
  let mant = BigInt(lead)
  for (const ch of frac) mant = mant * 16n + BigInt(parseInt(ch, 16))
  const e = Number(exp) - 4 * frac.length
  // mant * 2^e, exact for doubles (including subnormals via two steps).
  let v = Number(mant) * 2 ** Math.max(e, -1000) * 2 ** Math.min(0, e + 1000)
  if (sign === '-') v = -v
  return v
}

export function f32OfHex (h: string): number {
  return f32FromBits(parseInt(h, 16))
}

/** Element-wise count of differing elements between bytes and an expected hex string. */
export function countElementDiffs (a: ArrayBufferView, expectedHex: string, dtype: FloatDType): number {
  const got = hexOf(a)
  const w = itemSize(dtype) * 2
  let d = 0
  for (let i = 0; i < got.length; i += w) if (got.slice(i, i + w) !== expectedHex.slice(i, i + w)) d++
  return d
}

/** mulberry32: a small deterministic generator for the test cases (uniform in [0, 1)). */
export function mulberry32 (s: number): () => number {
  return () => {
    s = (s + 0x6D2B79F5) | 0
    let x = Math.imul(s ^ (s >>> 15), 1 | s)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32
  }
}

/** A byte target of nBytes at byte offset off, in an ArrayBuffer or a SharedArrayBuffer, prefilled with 0xa5. */
export function makeTarget (nBytes: number, off: number, shared: boolean): Uint8Array {
  const buf = shared ? new SharedArrayBuffer(nBytes + off + 8) : new ArrayBuffer(nBytes + off + 8)
  new Uint8Array(buf).fill(0xa5)
  return new Uint8Array(buf, off, nBytes)
}

/** The first index where a and b differ, or -1 when they are equal. */
export function firstDiff (a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i
  return a.length === b.length ? -1 : Math.min(a.length, b.length)
}
