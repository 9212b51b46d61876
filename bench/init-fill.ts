// Fill throughput of the torch-exact initialisers, single-threaded.
//
//   npx tsx bench/init-fill.ts [MiB=64] [reps=5]
//
// Fills a SharedArrayBuffer-backed Uint8Array (the arena case) with uniform_ and normal_ in
// float32 (the default dtype), plus float16/bfloat16/float64 for reference, and times MT19937 draws
// and skip-ahead. Prints the best of `reps` runs, in GB/s of tensor bytes written, by wall clock
// and by this process's CPU time (the latter is the fairer number on a shared, loaded machine).

import os from 'node:os'

import { normalFill, uniformFill, type FloatDtype } from '../src/init/distributions.js'
import { CpuGenerator } from '../src/init/mt19937.js'

const mib = Number(process.argv[2] ?? 64)
const reps = Number(process.argv[3] ?? 5)
const bytes = mib * 1024 * 1024
const arena = new Uint8Array(new SharedArrayBuffer(bytes))

interface Timing { wall: number, cpu: number }

function best (fn: () => void): Timing {
  const r: Timing = { wall: Infinity, cpu: Infinity }
  for (let i = 0; i < reps; i++) {
    const c0 = process.cpuUsage()
    const t0 = process.hrtime.bigint()
    fn()
    r.wall = Math.min(r.wall, Number(process.hrtime.bigint() - t0) / 1e9)
    const c = process.cpuUsage(c0)
    r.cpu = Math.min(r.cpu, (c.user + c.system) / 1e6)
  }
  return r
}

function report (label: string, t: Timing, n: number): void {
  console.log(`${label.padEnd(20)} wall ${(bytes / t.wall / 1e9).toFixed(3)} GB/s  cpu ${(bytes / t.cpu / 1e9).toFixed(3)} GB/s` +
    `  ${(t.cpu * 1e9 / n).toFixed(2)} ns/elem (cpu)`)
}

const gen = new CpuGenerator(0)
const cases: Array<[string, FloatDtype, 'uniform' | 'normal']> = [
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
