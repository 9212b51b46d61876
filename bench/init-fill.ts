// @bench quick: 4 1
// Fill throughput of the torch-exact initialisers, single-threaded.
//
//   npx tsx bench/init-fill.ts [MiB=64] [reps=5]
//
// Fills a SharedArrayBuffer-backed Uint8Array (the arena case) with uniform_ and normal_ in
// float32 (the default dtype), plus float16/bfloat16/float64 for reference, and times MT19937 draws
// and skip-ahead. Prints the best of `reps` runs, in GB/s of tensor bytes written, by wall clock
// and by this process's CPU time (the latter is the fairer number on a shared, loaded machine).

import os from 'node:os'

import { normalFill, uniformFill } from '../src/init/distributions.js'
import { CpuGenerator } from '../src/init/mt19937.js'

import { arena, best, bytes, mib, reps, report as reportWidth, type Timing } from './fill-timing.js'
import type { FloatDType } from '../src/tensor/dtype.js'

const report = (label: string, t: Timing, n: number): void => { reportWidth(label, t, n, 20) }

const gen = new CpuGenerator(0)
const cases: Array<[string, FloatDType, 'uniform' | 'normal']> = [
  ['uniform_ float32', 'float32', 'uniform'],
  ['normal_  float32', 'float32', 'normal'],
  ['uniform_ bfloat16', 'bfloat16', 'uniform'],
  ['normal_  float16', 'float16', 'normal'],
  ['uniform_ float64', 'float64', 'uniform'],
  ['normal_  float64', 'float64', 'normal']
]
console.log(`${mib} MiB target, best of ${reps}, node ${process.version}, load ${os.loadavg()[0]!.toFixed(2)}`)
for (const [label, dtype, op] of cases) {
  const size = dtype === 'float64' ? 8 : dtype === 'float32' ? 4 : 2
  const target = { dtype, data: arena }
  const s = best(() => {
    gen.manualSeed(0)
    if (op === 'uniform') uniformFill(gen, target, -0.1, 0.1)
    else normalFill(gen, target, 0, 0.02)
  })
  report(label, s, bytes / size)
}

// Raw engine throughput and skip-ahead cost.
const draws = new Uint32Array(1 << 16)
const nDraws = 1e8
const sDraw = best(() => {
  gen.manualSeed(0)
  for (let i = 0; i < nDraws; i += draws.length) gen.fillU32(draws, 0, draws.length)
})
console.log(`mt19937 fillU32      ${(sDraw.wall * 1e9 / nDraws).toFixed(2)} ns/draw wall, ${(sDraw.cpu * 1e9 / nDraws).toFixed(2)} cpu`)
const sSkip = best(() => {
  gen.manualSeed(0)
  gen.discard(1e8)
})
console.log(`discard(1e8)         ${(sSkip.wall * 1e3).toFixed(1)} ms wall, ${(sSkip.cpu * 1e3).toFixed(1)} ms cpu ` +
  `(${(sSkip.cpu * 1e9 / 1e8).toFixed(3)} ns per skipped draw)`)
