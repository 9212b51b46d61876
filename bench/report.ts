// The line a bench prints for each figure it measures, for `npm run bench` (bench/run.ts) to collect
// into BENCHMARKS.md: `BENCH {json}` on stdout, one per figure, beside the rest of its output.
// The convention is in bench/README.md ("Adding a bench").

export interface Figure {
  /** what was measured, e.g. "GET module metadata, requests/s" */
  figure: string
  value: number
  unit: string
  /** the baseline measured in the same run, or why there is none */
  baseline?: { name: string, value: number } | { name: string, skipped: string } | undefined
  /** which way is better, so the ratio reads "of the baseline" the right way round */
  better: 'higher' | 'lower'
  /** the ratio value/baseline that counts as met (≥ for higher, ≤ for lower), if the bench has one */
  target?: number | undefined
}

export const RESULT_PREFIX = 'BENCH '

export function report (f: Figure): void {
  console.log(RESULT_PREFIX + JSON.stringify(f))
}

/** Whether the bench runs in the runner's quick (smoke) mode: few iterations, figures not meant to be read. */
export const quick = process.env.MATERIA_BENCH_QUICK === '1'
