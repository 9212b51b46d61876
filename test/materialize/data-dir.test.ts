// The data directory on real files (src/materialize/data-dir.ts): reservations as temporary files
// counted by every instance sharing the directory, commit and abandon, idempotent removal, and the
// bounded sweep.
import t, { type Test } from 'tap'
import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DataDir } from '../../src/materialize/data-dir.js'
import { errorDefs } from '../../src/errors.js'
import { until } from '../helper.js'

function tempDir (t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'materia-data-dir-unit-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  return dir
}

const files = (dir: string): string[] => readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name).sort()

t.test('commit writes the pieces under the final name with their sha256; nothing of the temporary file is left', async (t) => {
  const root = tempDir(t)
  const dir = new DataDir(root, 1 << 20)
  await dir.init()
  const pieces = [Buffer.from('header--'), Buffer.alloc(5000, 7), Buffer.from('tail')]
  const total = pieces.reduce((n, p) => n + p.length, 0)
  const r = await dir.reserve('ses_a', 'mat_1', total)
  t.same(files(root), [`mat_1.${total}.tmp`], 'the reservation is its temporary file')
  t.equal(await dir.used(), total)
  const file = await r.commit(pieces, new AbortController().signal)
  t.same(file, { name: `mat_1.${total}.safetensors`, bytes: total, sha256: createHash('sha256').update(Buffer.concat(pieces)).digest('hex') })
  t.same(files(root), [file.name])
  t.ok(readFileSync(dir.path('ses_a', file.name)).equals(Buffer.concat(pieces)))
  await r.abandon()
  t.same(files(root), [file.name], 'abandon after commit keeps the file')
  await t.rejects(r.commit(pieces, new AbortController().signal), /already settled/)
})

t.test('a commit that is cancelled, or given the wrong length, removes its temporary file', async (t) => {
  const root = tempDir(t)
  const dir = new DataDir(root, 1 << 20)
  await dir.init()
  const abort = new AbortController()
  abort.abort()
  await t.rejects((await dir.reserve('ses_a', 'mat_1', 10)).commit([Buffer.alloc(10)], abort.signal), /cancelled/)
  await t.rejects((await dir.reserve('ses_a', 'mat_2', 10)).commit([Buffer.alloc(9)], new AbortController().signal), /wrote 9 bytes of a 10-byte file/)
  t.same(files(root), [])
  t.equal(await dir.used(), 0)
})

t.test('replicas reserving at once never pass the budget together, and a refusal gives the figures and leaves nothing', async (t) => {
  const root = tempDir(t)
  const a = new DataDir(root, 2500)
  const b = new DataDir(root, 2500)
  await a.init()
  const tries = await Promise.allSettled(Array.from({ length: 12 }, async (_, i) => await (i % 2 === 0 ? a : b).reserve(`ses_${i % 3}`, `mat_${i}`, 1000)))
  const held = tries.filter((x) => x.status === 'fulfilled')
  t.ok(held.length <= 2, `${held.length} of 12 reservations of 1000 bytes within 2500`)
  t.equal(await a.used(), held.length * 1000, 'only the reservations held are counted')
  for (const x of tries) {
    if (x.status === 'rejected') t.equal((x.reason as { code: string }).code, errorDefs.dataBudget.code)
  }
  for (const x of held) await (x as PromiseFulfilledResult<Awaited<ReturnType<DataDir['reserve']>>>).value.abandon()
  t.same(files(root), [])
  const one = await a.reserve('ses_x', 'mat_x', 2000)
  await t.rejects(b.reserve('ses_y', 'mat_y', 1000), {
    statusCode: 507,
    message: 'The checkpoint file needs 1000 bytes (0.00 GiB); the data budget is 2500 bytes (0.00 GiB) with 2000 in use by the replicas sharing the data directory and 500 free (MATERIA_DATA_BUDGET)'
  })
  await t.rejects(b.reserve('ses_y', 'mat_z', 3000), { message: /needs 3000 bytes/ }, 'larger than the whole budget: refused before any file is made')
  t.same(files(root), ['mat_x.2000.tmp'])
  await one.abandon()
})

t.test('removal is idempotent and finds files from their ids', async (t) => {
  const root = tempDir(t)
  const dir = new DataDir(root, 1 << 20)
  await dir.init()
  for (const id of ['mat_1', 'mat_2']) await (await dir.reserve('ses_a', id, 3)).commit([Buffer.from('abc')], new AbortController().signal)
  await dir.remove('ses_a', 'mat_1')
  await dir.remove('ses_a', 'mat_1')
  await dir.remove('ses_nothing', 'mat_1')
  await dir.remove('../etc', 'passwd')
  t.same(files(root), ['mat_2.3.safetensors'])
  await dir.removeSession('ses_a')
  await dir.removeSession('ses_a')
  t.same(readdirSync(root), [])
})

t.test('a sweep looks at a bounded number of files and goes round the sessions; a writer keeps its temporary file alive', async (t) => {
  const root = tempDir(t)
  const dir = new DataDir(root, 1 << 20, { touchMs: 20 })
  await dir.init()
  const old = new Date(Date.now() - 3600_000)
  for (let s = 0; s < 3; s++) {
    mkdirSync(join(root, `ses_${s}`))
    for (let i = 0; i < 10; i++) {
      const path = join(root, `ses_${s}`, `mat_${i}.1.${i % 2 === 0 ? 'tmp' : 'safetensors'}`)
      writeFileSync(path, 'x')
      utimesSync(path, old, old)
    }
  }
  const writing = await dir.reserve('ses_0', 'mat_writing', 1)
  const temp = join(root, 'ses_0', 'mat_writing.1.tmp')
  utimesSync(temp, old, old)
  await until('the writer touches its file', () => Date.now() - statSync(temp).mtimeMs < 60_000)
  // only materialization 1 of each session still exists
  const exists = async (_s: string, id: string): Promise<boolean> => id === 'mat_1'
  // another replica's sweeper: it knows the temporary file only by its age
  const sweeper = new DataDir(root, 1 << 20, { sweepBatch: 10 })
  const first = await sweeper.sweep(exists)
  t.ok(first.length > 0 && first.length <= 10, `the first sweep removed ${first.length} of at most 10 files looked at`)
  const removed = [...first]
  for (let i = 0; i < 5; i++) removed.push(...await sweeper.sweep(exists))
  t.equal(new Set(removed).size, removed.length, 'nothing removed twice')
  t.same(removed.sort(), [0, 1, 2].flatMap((s) => Array.from({ length: 10 }, (_, i) => i).filter((i) => i !== 1).map((i) => `ses_${s}/mat_${i}.1.${i % 2 === 0 ? 'tmp' : 'safetensors'}`)).sort(),
    'every stale temporary file and every orphan, after a few sweeps')
  t.same(files(root).sort(), ['mat_1.1.safetensors', 'mat_1.1.safetensors', 'mat_1.1.safetensors', 'mat_writing.1.tmp'], 'the live files and the one being written stay')
  await writing.abandon()
  const emptied = join(root, 'ses_empty')
  mkdirSync(emptied)
  utimesSync(emptied, old, old)
  t.ok((await sweeper.sweep(exists)).includes('ses_empty/'), 'an old empty session directory is removed')
  t.notOk(readdirSync(root).includes('ses_empty'))
})
