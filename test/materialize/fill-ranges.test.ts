// Any byte range of a fill (src/materialize/fill-range.ts) against the whole fill (fill-runner.ts):
// for every golden init case and seed, the whole fill equals PyTorch's bytes and an arena assembled
// from many ranges (random cuts, and ranges starting inside a normal_ 16-element block, inside
// each tensor at any byte, tied and cast tensors among them) equals the whole fill. Also rng
// "philox", the transformers init goldens (test/fixtures/transformers-init), and checkpoint copies
// from a random-access source against the streamed copy.
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { seededRandom } from '../seeded-random.js'
import t from 'tap'
import { buildModuleTree } from '../../src/nn/build.js'
import { parseOverrides } from '../../src/init/init-overrides.js'
import { castTensors, planArena, type ArenaPlan } from '../../src/materialize/plan.js'
import { planInit, type InitExec } from '../../src/materialize/init-plan.js'
import { runFill } from '../../src/materialize/fill-runner.js'
import { FillControl } from '../../src/materialize/fill-task.js'
import { produceRange, type Walk } from '../../src/materialize/fill-range.js'
import type { Fill } from '../../src/materialize/fill.js'
import { checkCheckpoint, checkpointCopies, copyStreamed, readCheckpointHeader } from '../../src/materialize/checkpoint.js'
import type { DType } from '../../src/tensor/dtype.js'

interface Entry { name: string, sha256: string, knownInexact?: unknown }
interface Case { id: string, spec: object, init?: string | { default?: string, overrides?: object }, dtype?: DType, results: Record<string, Entry[]> }
const golden = JSON.parse(readFileSync(new URL('../fixtures/init-golden/init-golden.json', import.meta.url), 'utf8')) as { seeds: number[], cases: Case[] }

function planCase (c: Case, seed: number, rng: 'torch' | 'philox'): { plan: ArenaPlan, exec: InitExec } {
  const { root, built } = buildModuleTree(c.spec)
  const plan = planArena(castTensors(built.tensors, c.dtype))
  const init = c.init ?? 'default'
  const base = typeof init === 'string' ? init : init.default ?? 'default'
  const overrides = typeof init === 'string' ? [] : parseOverrides(init.overrides ?? {})
  return { plan, exec: planInit(root, plan, { base: base as 'default', overrides, rng, seed }) }
}

async function whole (fill: Fill, size: number): Promise<Uint8Array> {
  const memory = new SharedArrayBuffer(Math.max(1, size))
  await runFill(fill, memory, { device: 'cpu' }, new FillControl(), new AbortController().signal)
  return new Uint8Array(memory, 0, size)
}

/** The ranges to check: a random partition of the arena, then ranges starting inside each tensor and inside normal_ blocks. */
function rangesOf (plan: ArenaPlan, exec: InitExec, rand: (n: number) => number, seen: Record<string, number>): Array<[number, number]> {
  const size = plan.arenaSize
  const out: Array<[number, number]> = []
  for (let a = 0; a < size;) {
    const b = Math.min(size, a + 1 + rand(Math.max(1, Math.floor(size / 12))))
    out.push([a, b])
    a = b
  }
  for (const p of plan.tensors) {
    if (p.nbytes === 0) continue
    const a = p.offset + rand(p.nbytes)
    out.push([a, Math.min(size, a + 1 + rand(2 * p.nbytes))])
    if (p.tiedTo !== undefined) seen.tied = (seen.tied ?? 0) + 1
    if (exec.outputs.some((o) => o.offset === p.offset && o.dtype !== o.srcDtype)) seen.cast = (seen.cast ?? 0) + 1
  }
  for (const v of exec.values) {
    const op = exec.ops[v.op]
    if (op?.dist.kind !== 'normal' || op.numel < 16) continue
    for (const i of v.outputs) {
      const o = exec.outputs[i]
      if (o === undefined) continue
      const elementSize = o.dtype === 'float64' ? 8 : o.dtype === 'float32' ? 4 : 2
      for (let k = 0; k < 8; k++) {
        const element = 16 * rand(Math.ceil(o.numel / 16)) + 1 + rand(15) // not a block start
        if (element >= o.numel) continue
        const a = o.offset + element * elementSize + rand(elementSize)
        out.push([a, Math.min(size, a + 1 + rand(64 * elementSize))])
        seen.normalBlock = (seen.normalBlock ?? 0) + 1
      }
    }
  }
  return out
}

function check (fill: Fill, bytes: Uint8Array, ranges: Array<[number, number]>): string[] {
  const wrong: string[] = []
  for (const [a, b] of ranges) {
    const into = new Uint8Array(b - a).fill(0xa5)
    produceRange(fill, a, into)
    if (!Buffer.from(into).equals(Buffer.from(bytes.subarray(a, b)))) wrong.push(`[${a}, ${b})`)
  }
  return wrong
}

t.test('every golden case: ranges assemble the whole fill, which is PyTorch\'s', async (t) => {
  const seen: Record<string, number> = {}
  let checked = 0
  for (const c of golden.cases) {
    for (const seed of golden.seeds) {
      const { plan, exec } = planCase(c, seed, 'torch')
      const fill: Fill = { constants: exec.constants, init: exec }
      const bytes = await whole(fill, plan.arenaSize)
      const problems: string[] = []
      for (const w of c.results[String(seed)] ?? []) {
        const p = plan.byName.get(w.name)
        if (p === undefined) { problems.push(`${w.name}: not planned`); continue }
        const sha = createHash('sha256').update(bytes.subarray(p.offset, p.offset + p.nbytes)).digest('hex')
        if (sha !== w.sha256 && w.knownInexact === undefined) problems.push(`${w.name}: whole fill differs from PyTorch`)
      }
      const ranges = rangesOf(plan, exec, seededRandom(seed + checked), seen)
      problems.push(...check(fill, bytes, ranges).map((r) => `range ${r} differs from the whole fill`))
      if (problems.length > 0) t.same(problems, [], `${c.id} seed ${seed}`)
      checked += ranges.length
    }
  }
  t.ok(checked > 10000, `${checked} ranges`)
  t.ok((seen.normalBlock ?? 0) > 100, `${seen.normalBlock} ranges start inside a normal_ 16-block`)
  t.ok((seen.tied ?? 0) > 10, `${seen.tied} ranges start inside a tied tensor`)
  t.ok((seen.cast ?? 0) > 10, `${seen.cast} ranges start inside a cast tensor`)
})

t.test('transformers golden cases: ranges (torch and philox) assemble the whole fill, which is transformers\' init', async (t) => {
  const hf = JSON.parse(readFileSync(new URL('../fixtures/transformers-init/transformers-init.json', import.meta.url), 'utf8')) as
    { seeds: number[], cases: Array<{ id: string, spec: object, dtype?: DType, results: Record<string, Array<[string, string, number[], string]>> }> }
  let checked = 0
  for (const h of hf.cases) {
    for (const seed of hf.seeds) {
      for (const rng of ['torch', 'philox'] as const) {
        const c: Case = { id: h.id, spec: h.spec, ...(h.dtype !== undefined ? { dtype: h.dtype } : {}), results: {} }
        const { plan, exec } = planCase(c, seed, rng)
        const fill: Fill = { constants: exec.constants, init: exec }
        const bytes = await whole(fill, plan.arenaSize)
        const problems: string[] = []
        for (const [name, , , sha256] of rng === 'torch' ? h.results[String(seed)] ?? [] : []) {
          const p = plan.byName.get(name)
          if (p === undefined) { problems.push(`${name}: not planned`); continue }
          if (createHash('sha256').update(bytes.subarray(p.offset, p.offset + p.nbytes)).digest('hex') !== sha256) problems.push(`${name}: whole fill differs from transformers`)
        }
        const ranges = rangesOf(plan, exec, seededRandom(seed + checked), {})
        problems.push(...check(fill, bytes, ranges).map((r) => `range ${r} differs from the whole fill`))
        if (problems.length > 0) t.same(problems, [], `${h.id} seed ${seed} ${rng}`)
        checked += ranges.length
      }
    }
  }
  t.ok(checked > 5000, `${checked} ranges`)
})

/** Reads the arena in order, chunk j by lane j % lanes, each lane carrying its walk: as a lazy stream reads it. */
function streamed (fill: Fill, size: number, chunk: number, lanes: number): Uint8Array {
  const out = new Uint8Array(size)
  const walks: Walk[] = Array.from({ length: lanes }, () => ({}))
  for (let a = 0, j = 0; a < size; a += chunk, j++) {
    const into = new Uint8Array(Math.min(chunk, size - a)).fill(0xa5)
    produceRange(fill, a, into, { walk: walks[j % lanes] })
    out.set(into, a)
  }
  return out
}

t.test('ranges read in order carry a walk: every golden case, chunk sizes and lanes, seeks back and forth', async (t) => {
  let checked = 0
  let resumed = 0
  for (const c of golden.cases) {
    const seed = golden.seeds[0] as number
    const { plan, exec } = planCase(c, seed, 'torch')
    const fill: Fill = { constants: exec.constants, init: exec }
    const bytes = await whole(fill, plan.arenaSize)
    const rand = seededRandom(checked)
    const problems: string[] = []
    for (const lanes of [1, 3]) {
      const chunk = 1 + rand(Math.max(1, Math.floor(plan.arenaSize / 5)))
      if (!Buffer.from(streamed(fill, plan.arenaSize, chunk, lanes)).equals(Buffer.from(bytes))) problems.push(`chunks of ${chunk} bytes on ${lanes} lanes`)
      checked++
    }
    // one walk over ranges in random order: resumes when a range is ahead of its point, starts from the seed when behind
    const walk: Walk = {}
    for (const [a, b] of rangesOf(plan, exec, rand, {})) {
      const into = new Uint8Array(b - a).fill(0xa5)
      const before = walk.point
      produceRange(fill, a, into, { walk })
      if (before !== undefined && walk.point !== before) resumed++
      if (!Buffer.from(into).equals(Buffer.from(bytes.subarray(a, b)))) problems.push(`walked range [${a}, ${b})`)
      checked++
    }
    if (problems.length > 0) t.same(problems, [], c.id)
  }
  t.ok(checked > 1000, `${checked} reads`)
  t.ok(resumed > 100, `${resumed} reads moved a walk's point`)
})

t.test('rng philox: ranges assemble the whole fill', async (t) => {
  let n = 0
  for (const c of golden.cases) {
    let planned
    try { planned = planCase(c, 7, 'philox') } catch { continue } // trunc_normal_ needs rng torch
    const { plan, exec } = planned
    const fill: Fill = { constants: exec.constants, init: exec }
    const bytes = await whole(fill, plan.arenaSize)
    const wrong = check(fill, bytes, rangesOf(plan, exec, seededRandom(n), {}))
    if (wrong.length > 0) t.same(wrong, [], c.id)
    n++
  }
  t.ok(n > 100, `${n} cases`)
})

t.test('a range inside a large trunc_normal_ or ragged normal_ tensor', async (t) => {
  // 1000 × 37 elements: not a multiple of 16, so the last 16 are redrawn by the ragged tail
  for (const fn of [{ fn: 'trunc_normal_', std: 0.5, a: -0.2, b: 0.3 }, { fn: 'normal_' }]) {
    const c: Case = { id: 'x', spec: { class: 'Sequential', args: [{ class: 'Linear', args: [37, 1000] }, { class: 'Linear', args: [3, 3] }] }, init: { overrides: { '0.weight': fn } }, results: {} }
    const { plan, exec } = planCase(c, 3, 'torch')
    const fill: Fill = { constants: exec.constants, init: exec }
    const bytes = await whole(fill, plan.arenaSize)
    const w = plan.byName.get('0.weight')
    if (w === undefined) throw new Error('no 0.weight')
    const end = w.offset + w.nbytes
    t.same(check(fill, bytes, [[w.offset + 4 * 1234 + 2, w.offset + 4 * 1300], [end - 4 * 20 + 1, end - 4 * 3], [end - 4 * 5, end + 8], [w.offset, end]]), [], fn.fn)
  }
})

t.test('checkpoint copies read from a random-access source equal the streamed copy, casts included', async (t) => {
  const dir = new URL('../fixtures/partial-checkpoint/', import.meta.url)
  const cases = JSON.parse(readFileSync(new URL('cases.json', dir), 'utf8')) as { cases: Array<{ id: string, spec: object, input: string }> }
  for (const id of ['mlp-bfloat16-file', 'linear-float64-file-into-float16']) {
    const c = cases.cases.find((x) => x.id === id)
    if (c === undefined) throw new Error(id)
    const file = readFileSync(new URL(c.input, dir))
    const plan = planArena(buildModuleTree(c.spec).built.tensors)
    const body = (async function * () { yield file })()
    const { header, rest } = await readCheckpointHeader(body, file.length)
    checkCheckpoint(header, plan, 'X')
    const fill: Fill = { constants: [], copies: checkpointCopies(header, plan) }
    const streamed = new SharedArrayBuffer(plan.arenaSize)
    await copyStreamed(fill.copies ?? [], { first: rest, body, size: header.dataSize }, streamed, new AbortController().signal, () => {})
    const source = { read: (position: number, into: Uint8Array) => { into.set(file.subarray(header.dataOffset + position, header.dataOffset + position + into.length)) } }
    const rand = seededRandom(1)
    for (let i = 0; i < 200; i++) {
      const a = rand(plan.arenaSize)
      const into = new Uint8Array(1 + rand(plan.arenaSize - a))
      produceRange(fill, a, into, { source })
      if (!Buffer.from(into).equals(Buffer.from(streamed, a, into.length))) t.fail(`${id}: range at ${a} of ${into.length} bytes`)
    }
    t.pass(id)
  }
})
