// Random access into the MT19937 stream: the engine position `draws` draws ahead, by jump-ahead
// (mt19937-jump-block.ts), whatever the distance. A pure function of plain data (a Uint32Array and
// two numbers in, the same out), so it can run in a worker thread: a jump is ~10 ms of CPU.

import { jumpBlocks } from './mt19937-jump-block.js'
import { mtStateWords, positionAfter } from './mt19937.js'

/** What MT19937 carries: its 624-word block and torch's `left_` / `next_`. */
export interface MtPosition { state: Uint32Array, left: number, next: number }

/**
 * The engine `draws` draws after `from`: what MT19937.discard(draws) leaves (state, left and next),
 * always by jumping over whole blocks. `from` is not modified.
 */
export function mtJump (from: MtPosition, draws: bigint): MtPosition {
  if (from.state.length !== mtStateWords || !(from.left >= 1 && from.left <= mtStateWords)) {
    throw new RangeError('not an MT19937 position')
  }
  const to = positionAfter(from, draws)
  return { state: jumpBlocks(from.state, to.twists), left: to.left, next: to.next }
}
