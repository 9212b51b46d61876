// Seeded integers for tests that pick random ranges: the same picks on every run.
import { mulberry32 } from './init/helpers.js'

/** Integers in [0, n) from `seed`. */
export function seededRandom (seed: number): (n: number) => number {
  const next = mulberry32(seed)
  return (n) => Math.floor(next() * n)
}
