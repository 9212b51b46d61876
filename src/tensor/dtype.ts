// The dtype table and the shape arithmetic every tensor description needs.
// Sizes are JS numbers: exact below 2^53, so every product is checked and an inexact one is a 400
// rather than a silently wrong byte count.
import { materiaError } from '../errors.js'

export interface DTypeInfo {
  /** bytes per element */
  readonly bytes: number
  /** PyTorch spelling, e.g. 'torch.float32' */
  readonly torch: string
  /** safetensors header spelling, e.g. 'F32' */
  readonly safetensors: string
  readonly floating: boolean
}

// The one dtype table: the DType union, the floating ones, their byte sizes and spellings all come from it.
export const DTYPES = {
  float32: { bytes: 4, torch: 'torch.float32', safetensors: 'F32', floating: true },
  float64: { bytes: 8, torch: 'torch.float64', safetensors: 'F64', floating: true },
  float16: { bytes: 2, torch: 'torch.float16', safetensors: 'F16', floating: true },
  bfloat16: { bytes: 2, torch: 'torch.bfloat16', safetensors: 'BF16', floating: true },
  int64: { bytes: 8, torch: 'torch.int64', safetensors: 'I64', floating: false },
  int32: { bytes: 4, torch: 'torch.int32', safetensors: 'I32', floating: false },
  int16: { bytes: 2, torch: 'torch.int16', safetensors: 'I16', floating: false },
  int8: { bytes: 1, torch: 'torch.int8', safetensors: 'I8', floating: false },
  uint8: { bytes: 1, torch: 'torch.uint8', safetensors: 'U8', floating: false },
  bool: { bytes: 1, torch: 'torch.bool', safetensors: 'BOOL', floating: false }
} as const satisfies Readonly<Record<string, DTypeInfo>>

export type DType = keyof typeof DTYPES

/** The floating-point dtypes: the ones init draws into and casts apply to. */
export type FloatDType = { [D in DType]: typeof DTYPES[D]['floating'] extends true ? D : never }[DType]

export const DTYPE_NAMES: readonly DType[] = Object.keys(DTYPES) as DType[]

/** torch.get_default_dtype() */
export const DEFAULT_DTYPE: DType = 'float32'

// PyTorch's own aliases (torch.float is float32, torch.long is int64, ...).
const ALIASES: Readonly<Record<string, DType>> = {
  float: 'float32',
  double: 'float64',
  half: 'float16',
  long: 'int64',
  int: 'int32',
  short: 'int16'
}

export function isDType (value: unknown): value is DType {
  return typeof value === 'string' && Object.hasOwn(DTYPES, value)
}

export function isFloatDType (value: unknown): value is FloatDType {
  return isDType(value) && DTYPES[value].floating
}

/** 'float32', 'torch.float32', 'torch.float' → 'float32'; anything else → undefined. */
export function parseDType (value: unknown): DType | undefined {
  if (typeof value !== 'string') return undefined
  const bare = value.startsWith('torch.') ? value.slice('torch.'.length) : value
  if (isDType(bare)) return bare
  return Object.hasOwn(ALIASES, bare) ? ALIASES[bare] : undefined
}

export function isSafeInt (value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value)
}

/** a * b, or a 400 when the product is not exactly representable. */
export function checkedMul (a: number, b: number, what = 'size'): number {
  const p = a * b
  if (!Number.isSafeInteger(p)) {
    throw materiaError('sizeOverflow', { what, a, b })
  }
  return p
}

export function numelOf (shape: readonly number[]): number {
  let n = 1
  for (const d of shape) n = checkedMul(n, d, 'numel')
  return n
}

export function nbytesOf (shape: readonly number[], dtype: DType): number {
  return checkedMul(numelOf(shape), DTYPES[dtype].bytes, 'nbytes')
}

/** C-order strides, as torch.empty gives them (a size-0/1 dim still gets the running product). */
export function contiguousStrides (shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length)
  let acc = 1
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = acc
    acc = checkedMul(acc, Math.max(shape[i] ?? 1, 1), 'stride')
  }
  return strides
}
