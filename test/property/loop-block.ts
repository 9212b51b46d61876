// The longest time the main thread spent running without returning to the event loop. Timer-based
// delay (perf_hooks.monitorEventLoopDelay) also counts time the thread sat descheduled, which on a
// loaded 2-core CI machine running tests in parallel is often >100 ms of nothing; so each gap between
// ticks is counted as the CPU time the thread used in it (process.threadCpuUsage, Node >= 23.9; on
// older Node the process's CPU time, which also counts worker threads: an overestimate).
const TICK_MS = 5

type CpuNow = () => number
const threadCpu = (process as { threadCpuUsage?: () => NodeJS.CpuUsage }).threadCpuUsage
const cpuNow: CpuNow = threadCpu !== undefined
  ? () => { const u = threadCpu.call(process); return (u.user + u.system) / 1000 }
  : () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000 }

export const measuresThreadCpu = threadCpu !== undefined

export class LoopBlockMonitor {
  private timer: NodeJS.Timeout | undefined
  private lastWall = 0
  private lastCpu = 0
  /** longest block (ms) since the last take() */
  private longest = 0

  start (): void {
    this.lastWall = performance.now()
    this.lastCpu = cpuNow()
    this.timer = setInterval(() => {
      const wall = performance.now()
      const cpu = cpuNow()
      const blocked = Math.min(wall - this.lastWall, cpu - this.lastCpu)
      if (blocked > this.longest) this.longest = blocked
      this.lastWall = wall
      this.lastCpu = cpu
    }, TICK_MS)
  }

  /** The longest block since the last call, and a fresh start. */
  take (): number {
    const l = this.longest
    this.longest = 0
    return l
  }

  stop (): void { clearInterval(this.timer) }
}
