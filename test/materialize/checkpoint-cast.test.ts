// Casting floating tensors while a checkpoint streams in, with elements split across chunks of any
// size; and the dtype mismatches that stay errors (non-floating tensors are not cast).
import t from 'tap'
import { readFileSync } from 'node:fs'
import { buildModuleTree } from '../../src/nn/index.js'
import { Arena } from '../../src/materialize/arena.js'
import { planArena } from '../../src/materialize/plan.js'
import { checkCheckpoint, checkpointCopies, copyStreamed, readCheckpointHeader } from '../../src/materialize/checkpoint.js'
import { safetensorsTensors } from '../helper.js'

const dir = new URL('../fixtures/partial-checkpoint/', import.meta.url)
const golden = JSON.parse(readFileSync(new URL('cases.json', dir), 'utf8')) as { cases: Array<{ id: string, spec: object, input: string, expected: string }> }

async function * chunks (file: Buffer, sizes: readonly number[]): AsyncGenerator<Uint8Array> {
  let at = 0
  for (let i = 0; at < file.length; i++) {
    const n = sizes[i % sizes.length] as number
    yield file.subarray(at, at + n)
    at += n
  }
}

t.test('cast on load gives PyTorch\'s copy_() bytes for any chunking of the body', async (t) => {
  for (const id of ['mlp-bfloat16-file', 'linear-float64-file-into-float16']) {
    const c = golden.cases.find((x) => x.id === id) as (typeof golden.cases)[0]
    const input = readFileSync(new URL(c.input, dir))
    const expected = safetensorsTensors(readFileSync(new URL(c.expected, dir)))
    const plan = planArena(buildModuleTree(c.spec).built.tensors)
    for (const sizes of [[input.length], [1], [3, 5, 7], [2, 6], [4096, 13]]) {
      const body = chunks(input, sizes)
      const { header, rest } = await readCheckpointHeader(body, input.length)
      const keys = checkCheckpoint(header, plan, 'X')
      t.same(keys.missingKeys, [])
      const arena = new Arena(plan.arenaSize)
      await copyStreamed(checkpointCopies(header, plan), { first: rest, body, size: header.dataSize }, arena.memory, new AbortController().signal, () => {})
      const wrong = plan.tensors.filter((p) => p.persistent && !arena.view(p.offset, p.nbytes).equals(expected.get(p.name) as Buffer)).map((p) => p.name)
      t.same(wrong, [], `${id}, chunks of ${sizes.join('/')} bytes`)
    }
  }
})

function safetensorsFile (tensors: Array<{ name: string, dtype: string, shape: number[], data: Buffer }>): Buffer {
  let at = 0
  const header: Record<string, unknown> = {}
  for (const x of tensors) { header[x.name] = { dtype: x.dtype, shape: x.shape, data_offsets: [at, at + x.data.length] }; at += x.data.length }
  let json = JSON.stringify(header)
  json += ' '.repeat((8 - (json.length % 8)) % 8)
  const len = Buffer.alloc(8)
  len.writeBigUInt64LE(BigInt(json.length))
  return Buffer.concat([len, Buffer.from(json), ...tensors.map((x) => x.data)])
}

t.test('non-floating tensors are not cast: a mismatch is an error naming both dtypes', async (t) => {
  const plan = planArena(buildModuleTree({ class: 'BatchNorm1d', args: [2] }).built.tensors)
  const f32 = (n: number): Buffer => Buffer.from(new Float32Array(n).fill(0.5).buffer)
  const file = safetensorsFile([
    { name: 'weight', dtype: 'F64', shape: [2], data: Buffer.from(new Float64Array([1, 2]).buffer) },
    { name: 'bias', dtype: 'F32', shape: [2], data: f32(2) },
    { name: 'running_mean', dtype: 'F32', shape: [2], data: f32(2) },
    { name: 'running_var', dtype: 'F32', shape: [2], data: f32(2) },
    { name: 'num_batches_tracked', dtype: 'I32', shape: [], data: Buffer.alloc(4) }
  ])
  const { header } = await readCheckpointHeader(chunks(file, [file.length]), file.length)
  t.throws(() => checkCheckpoint(header, plan, 'torch.nn.BatchNorm1d'), {
    code: 'MATERIA_ERR_CHECKPOINT_MISMATCH',
    message: 'Error(s) in loading state_dict for BatchNorm1d:\n\tdtype mismatch for num_batches_tracked: the checkpoint has int32, the module has int64 (only floating tensors are cast on load).'
  })
})
