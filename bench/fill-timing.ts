// The timing harness of the single-threaded fill benches (init-fill.ts, philox-fill.ts): one
// SharedArrayBuffer target of [MiB=64] MiB, the best of [reps=5] runs by wall clock and by this
// process's CPU time (the fairer number on a shared, loaded machine).
export interface Timing { wall: number, cpu: number }

const mib = Number(process.argv[2] ?? 64)
export const reps = Number(process.argv[3] ?? 5)
export const bytes = mib * 1024 * 1024
export const arena = new Uint8Array(new SharedArrayBuffer(bytes))
export { mib }

export function best (fn: () => void): Timing {
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

/** One line: GB/s of `bytes` by wall and CPU time, and CPU ns per element for n elements. */
export function report (label: string, t: Timing, n: number, width = 26): void {
  console.log(`${label.padEnd(width)} wall ${(bytes / t.wall / 1e9).toFixed(3)} GB/s  cpu ${(bytes / t.cpu / 1e9).toFixed(3)} GB/s` +
    `  ${(t.cpu * 1e9 / n).toFixed(2)} ns/elem (cpu)`)
}
