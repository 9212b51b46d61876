// The one description of how an arena is filled: plain data (a worker thread receives it as is),
// from which fill-runner.ts writes the whole arena and fill-range.ts produces any byte range of it.
// Every byte of the arena is, in this order of precedence (later wins):
//   zero (a new arena is; a recycled one is cleared where nothing below writes),
//   a random init's drawn value (init: draws, their deep copies, cast to the stored dtype),
//   a padding_idx row of it (init patches),
//   bytes copied from a source, cast to the stored dtype (copies: a checkpoint's data section),
//   a constant (buffers, ones/zeros, constant_).
import { DTYPES, type DType } from '../tensor/dtype.js'
import type { FillRange } from './constant-fill.js'
import { drawnSpans, type InitExec } from './init-plan.js'

/** Arena bytes [offset, offset + nbytes) hold `dtype` elements read from source bytes begin.. of `srcDtype` (same element count). */
export interface CopySpan {
  readonly offset: number
  readonly nbytes: number
  readonly dtype: DType
  readonly begin: number
  readonly srcDtype: DType
}

export interface Fill {
  readonly constants: readonly FillRange[]
  readonly init?: InitExec | undefined
  /** sorted by `begin` (the order a streamed source delivers them) */
  readonly copies?: readonly CopySpan[] | undefined
}

/** The arena spans a fill writes whole (all but its zeros and patches): what a recycled arena need not clear. */
export function writtenSpans (fill: Fill): Array<{ offset: number, nbytes: number }> {
  return [...fill.constants, ...(fill.init !== undefined ? drawnSpans(fill.init) : []), ...(fill.copies ?? [])]
}

/**
 * Bytes writing `fill` takes (after the zeros `clear` of a recycled arena): the progress total, the
 * same bytes fill-runner.ts counts as it writes them. Not the arena's size: a fill skips what stays
 * zero, and a constant or a copy of a tensor is its only write, not one more after the init's.
 */
export function fillBytes (fill: Fill, clear: readonly FillRange[] = []): number {
  return [...clear, ...writtenSpans(fill)].reduce((n, r) => n + r.nbytes, 0)
}

/** Source bytes a copy span reads. */
export function sourceBytes (c: CopySpan): number {
  return c.nbytes / DTYPES[c.dtype].bytes * DTYPES[c.srcDtype].bytes
}
