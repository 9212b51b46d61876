// The README's shell examples run as pasted, in order, in one bash (variables carry from block to
// block), against the service listening on loopback, in a fresh directory: each command must exit 0,
// and where the README shows its output in a `# …` comment, the output must have that shape.
// The one change to the text: `localhost:8080` becomes the test service's address.
// `python` lines run with MATERIA_TEST_PYTHON (a Python with torch and safetensors; .ci/run makes
// one); without it they are skipped, and said so.
import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { build } from './helper.js'

/** A command (continuation lines joined) and the output the README shows for it, if any. */
interface Step { command: string, expected?: string | undefined, line: number }
interface Block { line: number, steps: Step[] }

const SKIP_MARK = '<!-- not run by test/readme.test.ts'
/** A comment that shows output (JSON, an HTTP status line, a Prometheus sample) rather than prose. */
const OUTPUT = /^(\{|\[|HTTP\/|[a-z_]+ [\d.]+$)/

export function readmeBlocks (text: string): Block[] {
  const lines = text.split('\n')
  const blocks: Block[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(sh|bash)\s*$/.exec(lines[i] as string)
    if (open === null) continue
    const indent = (open[1] as string).length
    let before = i - 1
    while (before >= 0 && (lines[before] as string).trim() === '') before--
    const skipped = before >= 0 && (lines[before] as string).trim().startsWith(SKIP_MARK)
    const body: string[] = []
    let j = i + 1
    for (; j < lines.length && !/^\s*```\s*$/.test(lines[j] as string); j++) body.push((lines[j] as string).slice(indent))
    if (!skipped) blocks.push({ line: i + 1, steps: blockSteps(body, i + 2) })
    i = j
  }
  return blocks
}

function blockSteps (body: string[], firstLine: number): Step[] {
  const steps: Step[] = []
  let last: Step | undefined
  let output = false // the comment lines just read are output, so an indented one continues it
  for (let k = 0; k < body.length; k++) {
    const line = body[k] as string
    if (line.trim() === '') { output = false; continue }
    const comment = /^#(.*)$/.exec(line)
    if (comment !== null) {
      const text = (comment[1] as string).replace(/^ /, '')
      if (last !== undefined && output && /^\s/.test(text)) last.expected += text.trim()
      else if (last !== undefined && (output || last.expected === undefined) && OUTPUT.test(text)) {
        last.expected = last.expected === undefined ? text : `${last.expected}\n${text}`
        output = true
      } else output = false
      continue
    }
    let command = line
    const start = k
    while (command.endsWith('\\') && k + 1 < body.length) command += '\n' + (body[++k] as string)
    const inline = /\S\s{2,}# (.*)$/.exec(command)
    last = { command, line: firstLine + start, expected: inline !== null && OUTPUT.test(inline[1] as string) ? inline[1] : undefined }
    steps.push(last)
    output = last.expected !== undefined
  }
  return steps
}

/** The shown output as a pattern: its pieces between `…` (anything), in order; lines and wide gaps split pieces too. */
export function shapeMatches (expected: string, actual: string): boolean {
  const pieces = expected.split(/…|\n|\s{2,}/).map((p) => p.trim()).filter((p) => p !== '')
  let at = 0
  for (const p of pieces) {
    const found = actual.indexOf(p, at)
    if (found < 0) return false
    at = found + p.length
  }
  return true
}

function run (script: string, cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['--noprofile', '--norc', '-c', script], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    child.on('error', reject)
    child.on('close', (code) => { resolve({ code, stdout, stderr }) })
  })
}

t.test('the README\'s shell blocks parse into commands, with the outputs they show', async (t) => {
  const blocks = readmeBlocks(readFileSync(new URL('../README.md', import.meta.url), 'utf8'))
  t.ok(blocks.length >= 8, `${blocks.length} blocks`)
  const all = blocks.flatMap((b) => b.steps)
  t.ok(all.filter((s) => s.expected !== undefined).length >= 10, 'outputs shown')
  t.notOk(all.some((s) => /(^|\s)…(\s|$)|\$ curl/.test(s.command)), 'no elided command and no prompt: each line pastes')
  t.ok(shapeMatches('{"a":1,…,"c":3}', '{"a":1,"b":2,"c":3}'))
  t.notOk(shapeMatches('{"a":1,…,"c":3}', '{"c":3,"a":1}'), 'pieces in order')
  t.notOk(shapeMatches('{"status":"ok"}', '{"status":"not ok"}'))
})

t.test('the README\'s shell blocks run as pasted, in order, against the service on loopback', async (t) => {
  const app = await build(t)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = `127.0.0.1:${(app.server.address() as { port: number }).port}`
  const dir = mkdtempSync(join(tmpdir(), 'materia-readme-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const python = process.env.MATERIA_TEST_PYTHON
  const env: NodeJS.ProcessEnv = { ...process.env }
  if (python !== undefined && python !== '') {
    // `python` as the README writes it: the given interpreter, first on PATH (a script, not a symlink:
    // a venv's python finds its packages from the path it was started by)
    const bin = join(dir, '.bin')
    mkdirSync(bin)
    writeFileSync(join(bin, 'python'), `#!/bin/sh\nexec '${python.replaceAll("'", "'\\''")}' "$@"\n`, { mode: 0o755 })
    env.PATH = `${bin}:${env.PATH ?? ''}`
  }
  const blocks = readmeBlocks(readFileSync(new URL('../README.md', import.meta.url), 'utf8'))
  const steps = blocks.flatMap((b, bi) => b.steps.map((s, si) => ({ ...s, id: `${bi}.${si}`, block: b })))
  const skipped = (s: Step): boolean => python === undefined && /(^|[\s;(])python(3)? /.test(s.command)
  const script = steps.map((s) => [
    `printf '\\n@@start ${s.id}@@\\n'`,
    skipped(s) ? 'true' : s.command.replaceAll('localhost:8080', address),
    `printf '\\n@@end ${s.id} %s@@\\n' "$?"`
  ].join('\n')).join('\n')
  const { code, stdout, stderr } = await run(script, dir, env)
  t.equal(code, 0, 'bash ran to the end')
  for (const s of steps) {
    const where = `README.md:${s.line}: ${s.command.split('\n')[0] as string}`
    if (skipped(s)) {
      t.pass(where, { skip: 'set MATERIA_TEST_PYTHON to a Python with torch and safetensors' })
      continue
    }
    const m = new RegExp(`\\n@@start ${s.id.replace('.', '\\.')}@@\\n([\\s\\S]*?)\\n@@end ${s.id.replace('.', '\\.')} (\\d+)@@`).exec(stdout)
    if (m === null) {
      t.fail(`${where}: did not run`, { stderr })
      continue
    }
    const out = m[1] as string
    t.equal(m[2], '0', `${where}: exit 0`, { output: out.slice(0, 2000), stderr: stderr.slice(-2000) })
    if (s.expected !== undefined) t.ok(shapeMatches(s.expected, out), `${where}: output has the shape shown`, { expected: s.expected, actual: out.slice(0, 2000) })
  }
})
