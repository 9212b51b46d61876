// @bench quick: 4 1
// Single-thread throughput of rng: "philox" fills (src/init/philox.ts), against a baseline.
//
//   npx tsx bench/philox-fill.ts [MiB=64] [reps=5]     (MiB=1 keeps the target in L2: the upper bound)
//
// Fills a SharedArrayBuffer-backed Uint8Array (the arena case) and prints the best of `reps` runs in
// GB/s of tensor bytes written, by wall clock and by this process's CPU time (the fairer number on
// a shared, loaded machine). Baselines in the same run: a plain JS loop writing a constant into the
// same buffer (memory bandwidth as JS sees it, the ceiling for any fill), and the raw Philox block
// kernel (16 bytes of random words per block, no conversion).

import os from 'node:os'

import { philoxBlocks, philoxFill, type PhiloxDist } from '../src/init/philox.js'

import { arena, best, bytes, mib, reps, report as reportWidth, type Timing } from './fill-timing.js'
import { DTYPES, type FloatDType } from '../src/tensor/dtype.js'

const report = (label: string, t: Timing, n: number): void => { reportWidth(label, t, n, 26) }

console.log(`philox fill, ${mib} MiB per fill, best of ${reps}; ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}, ` +
  `load ${os.loadavg().map(x => x.toFixed(2)).join(' ')}`)

// Baseline: constant writes through a Float32Array view of the same buffer.
const f32 = new Float32Array(arena.buffer, 0, bytes / 4)
function constFill (dst: Float32Array, v: number): void {
  for (let i = 0; i < dst.length; i++) dst[i] = v
}
report('baseline const f32 loop', best(() => constFill(f32, 0.5)), bytes / 4)

// Raw Philox words (no conversion), in chunks like philoxFill.
const words = new Int32Array(512 * 4)
const blocks = bytes / 16
report('raw philox4x32-10 words', best(() => {
  for (let b = 0; b < blocks; b += 512) philoxBlocks(words, 512, b, 0, 1, 0x12345678, 0x9abcdef0)
}), bytes / 4)

const cases: Array<[FloatDType, PhiloxDist]> = [
  ['float32', { kind: 'uniform', low: -0.05, high: 0.05 }],
  ['float32', { kind: 'normal', mean: 0, std: 0.02 }],
  ['bfloat16', { kind: 'uniform', low: -0.05, high: 0.05 }],
  ['float16', { kind: 'normal', mean: 0, std: 0.02 }],
  ['float64', { kind: 'uniform', low: -0.05, high: 0.05 }],
  ['float64', { kind: 'normal', mean: 0, std: 0.02 }]
]
for (const [dtype, dist] of cases) {
  report(`${dtype} ${dist.kind}`, best(() => philoxFill(arena, dtype, dist, { seed: 0, name: 'bench.weight' }, 0)), bytes / DTYPES[dtype].bytes)
}
// A shard far into a big tensor costs the same as one at the start.
report('float32 uniform @ 2^40', best(() => philoxFill(arena, 'float32', { kind: 'uniform', low: -1, high: 1 }, { seed: 0, name: 'w' }, 2 ** 40)), bytes / 4)
