// @bench quick: 1
// Random access into the MT19937 stream: jump-ahead (src/init/mt19937-jump.ts) against the twisting
// discard (one twist per 624 skipped draws, in the WebAssembly kernel; the JS twist for reference).
//
//   npx tsx bench/mt19937-jump.ts [reps=7] [full=0]
//
// Prints the median of `reps` jumps of 10^6, 10^9 and 10^12 draws (with the split between
// x^J mod p and Horner's rule), the twisting discard of the same counts measured in the same run
// (10^12 extrapolated from the 10^9 rate unless full=1: about 4 minutes), the ratio, and the
// crossover behind mtJumpMinBlocks (twisting 2^14 .. 2^18 blocks).

import os from 'node:os'

import { MT19937, mtJumpMinBlocks } from '../src/init/mt19937.js'
import { jumpBlocks } from '../src/init/mt19937-jump-block.js'
import { powXModCharpoly } from '../src/init/mt19937-jump-poly.js'
import { mtTwistWasm } from '../src/init/mt-uniform-wasm.js'

const reps = Number(process.argv[2] ?? 7)
const full = process.argv[3] === '1'

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!
function timeMs (f: () => void, n = reps): number {
  const xs: number[] = []
  for (let i = 0; i < n; i++) {
    const t0 = performance.now()
    f()
    xs.push(performance.now() - t0)
  }
  return median(xs)
}
const fmt = (ms: number): string => ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(2)} ms`

console.log(`mt19937 jump-ahead, median of ${reps}; ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}, ` +
  `load ${os.loadavg().map(x => x.toFixed(2)).join(' ')}`)

const block = new MT19937(67280421310721).state
const blocksFor = (draws: number): number => Math.ceil(draws / 624)
if (!mtTwistWasm(block.slice(), 4)) console.log('(no WebAssembly kernel here: twisting is the JS loop)')
const twistWasm = (blocks: number): void => { const s = block.slice(); if (!mtTwistWasm(s, blocks)) throw new Error('no kernel') }
const twistJs = (blocks: number): void => { const e = new MT19937(1); for (let b = 0; b < blocks; b++) e.twist() }
timeMs(() => jumpBlocks(block, 1000n), 3) // warm-up

console.log('| draws | jump | of which x^J mod p | twisting discard (wasm) | twisting / jump |')
console.log('| --- | --- | --- | --- | --- |')
let nsPerDraw = 0
for (const draws of [1e6, 1e9, 1e12]) {
  const b = blocksFor(draws)
  const jump = timeMs(() => jumpBlocks(block, BigInt(b)))
  const pow = timeMs(() => powXModCharpoly(624n * BigInt(b) - 1n))
  let twist: number
  let note = ''
  if (draws <= 1e9 || full) {
    twist = timeMs(() => twistWasm(b), draws <= 1e6 ? reps : 1)
    nsPerDraw = twist * 1e6 / draws
  } else {
    twist = nsPerDraw * draws / 1e6
    note = ' (extrapolated)'
  }
  console.log(`| 10^${Math.log10(draws)} | ${fmt(jump)} | ${fmt(pow)} | ${fmt(twist)}${note} | ${(twist / jump).toFixed(twist / jump < 10 ? 2 : 0)}× |`)
}

console.log(`\ncrossover (discard jumps from ${mtJumpMinBlocks} blocks = ${Number(mtJumpMinBlocks) * 624} draws):`)
console.log('| blocks | twisting (wasm) | twisting (JS) | jump |')
console.log('| --- | --- | --- | --- |')
for (const b of [1 << 14, 1 << 15, 1 << 16, 1 << 17, 1 << 18]) {
  console.log(`| 2^${Math.log2(b)} | ${fmt(timeMs(() => twistWasm(b)))} | ${fmt(timeMs(() => twistJs(b), 3))} | ${fmt(timeMs(() => jumpBlocks(block, BigInt(b))))} |`)
}
