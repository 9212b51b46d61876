// Sizes that flow straight into torch.empty/zeros/ones. PyTorch does not type-check them in
// __init__: a bad one surfaces as the tensor factory's TypeError, whose wording depends on where it
// sits in the size tuple. So a non-int size is carried along as a RawDim (typed as number for the
// module code) and parameter()/buffer() report it the way torch's argument parser does.

const RAW = Symbol('materia.nn.rawDim')

interface RawDim { readonly [RAW]: unknown }

/** A non-int size value; arithmetic on it yields NaN, comparisons are false. */
export function rawDim (value: unknown): number {
  const box: RawDim & { valueOf: () => number } = { [RAW]: value, valueOf: () => NaN }
  return box as unknown as number
}

export function isRawDim (d: unknown): boolean {
  return typeof d === 'object' && d !== null && RAW in d
}

function typeName (v: unknown): string {
  if (v === null || v === undefined) return 'NoneType'
  if (typeof v === 'boolean') return 'bool'
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float'
  if (typeof v === 'string') return 'str'
  if (Array.isArray(v)) return 'list'
  return 'dict'
}

/**
 * torch's TypeError for a size argument of `factory` ('empty', 'zeros', 'ones'), or undefined when
 * every element is an int. `scalar`: called as torch.empty(n) rather than torch.empty((a, b)).
 * Python bool is an int subclass, accepted everywhere but at position 0 of a tuple (and alone).
 */
export function sizeTypeError (factory: string, shape: readonly number[], scalar: boolean): string | undefined {
  const raw = (d: number): unknown => isRawDim(d) ? (d as unknown as RawDim)[RAW] : d
  const bad = (v: unknown, i: number): boolean =>
    typeof v === 'boolean' ? i === 0 : !(typeof v === 'number' && Number.isInteger(v))
  if (scalar) {
    const v = raw(shape[0] as number)
    return bad(v, 0) ? `${factory}(): argument 'size' (position 1) must be tuple of ints, not ${typeName(v)}` : undefined
  }
  for (let i = 0; i < shape.length; i++) {
    const v = raw(shape[i] as number)
    if (!bad(v, i)) continue
    return i === 0
      ? `${factory}(): argument 'size' (position 1) must be tuple of ints, but found element of type ${typeName(v)} at pos 0`
      : `${factory}(): argument 'size' failed to unpack the object at pos ${i + 1} with error "type must be tuple of ints,but got ${typeName(v)}"`
  }
  return undefined
}

/** The int a valid element stands for (bool → 0/1). */
export function dimValue (d: number): number {
  const v = isRawDim(d) ? (d as unknown as RawDim)[RAW] : d
  return typeof v === 'boolean' ? (v ? 1 : 0) : v as number
}
