// safetensors dtype names, their bit widths and write-order ranks, and the mapping to materia dtypes.
// Source: docs/safetensors.md §2–3 (checked against safetensors 0.8.0).

import { DTYPE_NAMES, DTYPES, type DType } from '../tensor/dtype.js'

// whether a string names one of materia's dtypes
export { isDType as isMateriaDtype } from '../tensor/dtype.js'

/**
 * Every dtype the safetensors format defines, in **rank order ascending** (the Rust `Dtype` enum
 * order). The canonical writer emits tensors by rank descending.
 */
export const SAFETENSORS_DTYPES = [
  'BOOL', 'F4', 'F6_E2M3', 'F6_E3M2', 'U8', 'I8', 'F8_E5M2', 'F8_E4M3', 'F8_E8M0', 'F8_E4M3FNUZ',
  'F8_E5M2FNUZ', 'I16', 'U16', 'F16', 'BF16', 'I32', 'U32', 'F32', 'C64', 'F64', 'I64', 'U64'
] as const

export type SafetensorsDtype = typeof SAFETENSORS_DTYPES[number]

/** Bits per element. */
export const DTYPE_BITS: Readonly<Record<SafetensorsDtype, number>> = {
  BOOL: 8,
  F4: 4,
  F6_E2M3: 6,
  F6_E3M2: 6,
  U8: 8,
  I8: 8,
  F8_E5M2: 8,
  F8_E4M3: 8,
  F8_E8M0: 8,
  F8_E4M3FNUZ: 8,
  F8_E5M2FNUZ: 8,
  I16: 16,
  U16: 16,
  F16: 16,
  BF16: 16,
  I32: 32,
  U32: 32,
  F32: 32,
  C64: 64,
  F64: 64,
  I64: 64,
  U64: 64
}

/** Rank of each dtype (index in SAFETENSORS_DTYPES): higher ranks are written first. */
export const DTYPE_RANK: Readonly<Record<SafetensorsDtype, number>> = Object.fromEntries(
  SAFETENSORS_DTYPES.map((d, i) => [d, i])
) as Record<SafetensorsDtype, number>

// the table's spellings are the format's: one that is not is a compile error here
const safetensorsName = (d: DType): SafetensorsDtype => DTYPES[d].safetensors

/** materia's dtypes (src/tensor/dtype.ts) as the format spells them. */
export const MATERIA_TO_SAFETENSORS: Readonly<Record<DType, SafetensorsDtype>> = Object.fromEntries(
  DTYPE_NAMES.map((d) => [d, safetensorsName(d)])
) as Record<DType, SafetensorsDtype>

export const SAFETENSORS_TO_MATERIA: Readonly<Partial<Record<SafetensorsDtype, DType>>> = Object.fromEntries(
  DTYPE_NAMES.map((d) => [safetensorsName(d), d])
) as Partial<Record<SafetensorsDtype, DType>>

export function isSafetensorsDtype (s: string): s is SafetensorsDtype {
  return Object.hasOwn(DTYPE_BITS, s)
}

/**
 * Byte size of a tensor, or null when `numel × bits` is not a whole number of bytes (sub-byte dtypes)
 * or is not a safe integer. Exact for any shape (BigInt arithmetic).
 */
export function tensorByteSize (dtype: SafetensorsDtype, shape: readonly number[]): number | null {
  let bits = BigInt(DTYPE_BITS[dtype])
  for (const d of shape) bits *= BigInt(d)
  if (bits % 8n !== 0n) return null
  const bytes = bits / 8n
  return bytes <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(bytes) : null
}
