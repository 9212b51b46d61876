// `npm run bench`: runs every bench in bench/ (a .ts file with a `// @bench` line in its first lines;
// bench/README.md, "Adding a bench") one after another, each in its own process, and writes
// BENCHMARKS.md: the machine, each figure beside its baseline from the same run and their ratio
// (from the `BENCH {json}` lines, bench/report.ts), every bench's full output, and how to reproduce.
//
//   npm run bench [-- --quick] [--out FILE] [--only name,name]
//
// --quick: a smoke run (each bench's `quick:` arguments, MATERIA_BENCH_QUICK=1): it checks that every
// bench still runs; its figures are not meant to be read. PyTorch baselines use PYTHON, else
// MATERIA_TEST_PYTHON, else python3, when it can import torch; otherwise they are reported as skipped.
import { execFileSync, spawn } from 'node:child_process'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, freemem, loadavg, totalmem } from 'node:os'
import { basename, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { RESULT_PREFIX, type Figure } from './report.js'

const here = fileURLToPath(new URL('.', import.meta.url))
const root = join(here, '..')

interface Bench { name: string, file: string, args: string[] }
interface Ran { bench: Bench, code: number | null, seconds: number, output: string, figures: Figure[] }

function option (name: string): string | undefined {
  const i = process.argv.indexOf(name)
  return i >= 0 ? process.argv[i + 1] : undefined
}

const quick = process.argv.includes('--quick')
const out = option('--out') ?? join(root, quick ? 'BENCHMARKS.quick.md' : 'BENCHMARKS.md')
const only = option('--only')?.split(',')

/** `// @bench [full: args] [quick: args]` in the first 5 lines makes a file a bench; the arguments of each mode. */
export function benchDirective (text: string): { full: string[], quick: string[] } | undefined {
  const line = text.split('\n').slice(0, 5).find((l) => /^\/\/ @bench\b/.test(l))
  if (line === undefined) return undefined
  const args = (mode: string): string[] => new RegExp(`${mode}:\\s*([^:]*?)(?=\\s+\\w+:|$)`).exec(line)?.[1]?.trim().split(/\s+/).filter((a) => a !== '') ?? []
  return { full: args('full'), quick: args('quick') }
}

function discover (): Bench[] {
  return readdirSync(here).filter((f) => f.endsWith('.ts')).sort().flatMap((f) => {
    const d = benchDirective(readFileSync(join(here, f), 'utf8'))
    const name = basename(f, '.ts')
    if (d === undefined || (only !== undefined && !only.includes(name))) return []
    return [{ name, file: join(here, f), args: quick ? d.quick : d.full }]
  })
}

function torchPython (): { python: string, torch?: string } {
  const python = process.env.PYTHON ?? process.env.MATERIA_TEST_PYTHON ?? 'python3'
  try {
    return { python, torch: execFileSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() }
  } catch {
    return { python }
  }
}

async function runOne (b: Bench, env: NodeJS.ProcessEnv): Promise<Ran> {
  const t0 = performance.now()
  // the runner's own loader flags (tsx), so each bench runs from its TypeScript source as `npx tsx` would
  const child = spawn(process.execPath, [...process.execArgv, b.file, ...b.args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const take = (d: Buffer): void => {
    const s = d.toString()
    output += s
    process.stdout.write(s.replace(/^(?=.)/gm, `[${b.name}] `))
  }
  child.stdout.on('data', take)
  child.stderr.on('data', take)
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  const figures = output.split('\n').filter((l) => l.startsWith(RESULT_PREFIX)).map((l) => JSON.parse(l.slice(RESULT_PREFIX.length)) as Figure)
  return { bench: b, code, seconds: (performance.now() - t0) / 1000, output, figures }
}

const fmt = (x: number): string => Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 1 ? x.toFixed(2) : x.toPrecision(3)

function figureRow (f: Figure): string {
  const b = f.baseline
  if (b === undefined) return `| ${f.figure} | ${fmt(f.value)} ${f.unit} | – | – | – |`
  if ('skipped' in b) return `| ${f.figure} | ${fmt(f.value)} ${f.unit} | ${b.name}: skipped (${b.skipped}) | – | – |`
  const ratio = f.value / b.value
  const met = f.target === undefined ? '' : (f.better === 'higher' ? ratio >= f.target : ratio <= f.target) ? ` (target ${f.better === 'higher' ? '≥' : '≤'} ${f.target}: **met**)` : ` (target ${f.better === 'higher' ? '≥' : '≤'} ${f.target}: **missed**)`
  return `| ${f.figure} | ${fmt(f.value)} ${f.unit} | ${b.name} | ${fmt(b.value)} ${f.unit} | ${fmt(ratio)}× (${f.better} is better)${met} |`
}

function git (...args: string[]): string {
  try { return execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() } catch { return 'unknown' }
}

async function main (): Promise<void> {
  const benches = discover()
  const py = torchPython()
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHON: py.python, ...(quick ? { MATERIA_BENCH_QUICK: '1' } : {}) }
  const cpu = cpus()
  const loadBefore = loadavg()
  const started = new Date()
  console.log(`${benches.length} benches: ${benches.map((b) => b.name).join(', ')}; PyTorch: ${py.torch ?? `none (${py.python} cannot import torch)`}`)
  const results: Ran[] = []
  for (const b of benches) results.push(await runOne(b, env))
  const loadAfter = loadavg()
  const failed = results.filter((r) => r.code !== 0)

  const dirty = git('status', '--porcelain', '--untracked-files=no') !== ''
  const lines: string[] = [
    `# Benchmarks${quick ? ' (quick smoke run: figures not meant to be read)' : ''}`,
    '',
    `Written by \`npm run bench${quick ? ' -- --quick' : ''}\` (bench/run.ts) on ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC, code at \`${git('rev-parse', '--short', 'HEAD')}\`${dirty ? ' with uncommitted changes' : ''}.`,
    'Each figure is beside its baseline, measured in the same run on the same machine; the ratio is figure/baseline.',
    'The machine is shared with other jobs, so absolute figures move from run to run (the load average below says how busy it was);',
    'ratios within one run are the figures to compare. Per-bench details and earlier runs: [bench/README.md](bench/README.md).',
    '',
    '## Machine',
    '',
    `- CPU: ${cpu.length} cores, ${cpu[0]?.model.trim() ?? 'unknown'}`,
    `- RAM: ${(totalmem() / 2 ** 30).toFixed(1)} GiB (${(freemem() / 2 ** 30).toFixed(1)} GiB free at the end)`,
    `- Node ${process.version}, ${process.platform} ${process.arch}; PyTorch: ${py.torch !== undefined ? `${py.torch} (\`${py.python}\`)` : `not installed (\`${py.python}\` cannot import torch): the PyTorch baselines are skipped`}`,
    `- Load average (1/5/15 min): ${loadBefore.map((x) => x.toFixed(1)).join(' / ')} before, ${loadAfter.map((x) => x.toFixed(1)).join(' / ')} after`,
    '',
    '## Reproduce',
    '',
    '```sh',
    `npm ci && PYTHON=/path/to/python-with-torch REDIS_URL=redis://127.0.0.1:6379 npm run bench${quick ? ' -- --quick' : ''}`,
    `npm run bench -- --only ${benches.map((b) => b.name).slice(0, 2).join(',')}   # some of them`,
    '```',
    '',
    'Without a Python that imports torch the PyTorch baselines are skipped; without a Redis at `REDIS_URL` store-latency skips its Redis row.',
    '',
    '## Figures',
    '',
    '| figure | value | baseline (same run) | baseline value | ratio |',
    '| --- | --- | --- | --- | --- |',
    ...results.flatMap((r) => r.figures.map(figureRow)),
    '',
    `Benches without \`BENCH\` lines print their own tables; see their output below. ${failed.length > 0 ? `**Failed:** ${failed.map((r) => `${r.bench.name} (exit ${String(r.code)})`).join(', ')}.` : 'Every bench ran to the end.'}`,
    ''
  ]
  for (const r of results) {
    lines.push(`## ${r.bench.name}`, '', `\`npx tsx bench/${r.bench.name}.ts${r.bench.args.length > 0 ? ' ' + r.bench.args.join(' ') : ''}\`: ${r.seconds.toFixed(0)} s, exit ${String(r.code)}`, '')
    lines.push('```text', r.output.split('\n').filter((l) => !l.startsWith(RESULT_PREFIX)).join('\n').trimEnd(), '```', '')
  }
  writeFileSync(out, lines.join('\n'))
  console.log(`wrote ${out}${failed.length > 0 ? `; failed: ${failed.map((r) => r.bench.name).join(', ')}` : ''}`)
  process.exitCode = failed.length > 0 ? 1 : 0
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main()
