// parseSafetensorsHeaderAsync: a long header is parsed in a worker thread and gives what the
// synchronous parse gives (tensors, metadata, errors), while the event loop keeps turning.
import t from 'tap'
import { INLINE_PARSE_BYTES, parseSafetensorsHeader, parseSafetensorsHeaderAsync } from '../../src/serialize/safetensors-reader.js'

function file (entries: string[]): Uint8Array {
  const json = Buffer.from(`{${entries.join(',')}}`)
  const f = Buffer.alloc(8 + json.length)
  f.writeBigUInt64LE(BigInt(json.length), 0)
  json.copy(f, 8)
  return f
}

t.test('a long header parsed off the loop equals the synchronous parse', async (t) => {
  const entries = ['"__metadata__":{"format":"pt","note":"é\\u00e9"}']
  let off = 0
  for (let i = 0; i < 20000; i++) {
    entries.push(`"layers.${i}.w":{"dtype":"${i % 2 === 0 ? 'BF16' : 'F32'}","shape":[2,${i % 3}],"data_offsets":[${off},${off + (i % 2 === 0 ? 4 : 8) * (i % 3)}]}`)
    off += (i % 2 === 0 ? 4 : 8) * (i % 3)
  }
  const f = file(entries)
  t.ok(f.length > INLINE_PARSE_BYTES, `the header (${f.length} bytes) takes the worker path`)
  let ticks = 0
  const timer = setInterval(() => { ticks++ }, 1)
  const h = await parseSafetensorsHeaderAsync(f, { fileSize: f.length + off })
  clearInterval(timer)
  t.ok(ticks > 0, 'the event loop turned during the parse')
  t.same(h, parseSafetensorsHeader(f, { fileSize: f.length + off }))
  t.equal(Object.getPrototypeOf(h.metadata), null, 'metadata keeps its null prototype')
  t.ok(Object.isFrozen(h.tensors[0]))
})

t.test('errors from the worker are the same 400s', async (t) => {
  const entries: string[] = []
  for (let i = 0; i < 5000; i++) entries.push(`"w${i}":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`)
  entries.push('"bad":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}')
  const f = file(entries)
  await t.rejects(parseSafetensorsHeaderAsync(f), { code: 'MATERIA_ERR_CHECKPOINT_INVALID', message: /tensor "bad": unknown dtype "F33"/ })
  const wrongSize = file(entries.slice(0, 5000))
  await t.rejects(parseSafetensorsHeaderAsync(wrongSize, { fileSize: wrongSize.length + 1 }), { code: 'MATERIA_ERR_CHECKPOINT_INVALID', message: /trailing bytes/ })
})

t.test('a long header streamed in chunks is parsed in the worker as it arrives; a short body is refused', async (t) => {
  const { readCheckpointHeader } = await import('../../src/materialize/checkpoint.js')
  const entries: string[] = []
  let off = 0
  for (let i = 0; i < 4000; i++) { entries.push(`"w.${i}":{"dtype":"F16","shape":[3],"data_offsets":[${off},${off + 6}]}`); off += 6 }
  const head = file(entries)
  const whole = Buffer.concat([head, Buffer.alloc(off, 7)])
  const chunks = async function * (bytes: Buffer, size: number): AsyncGenerator<Uint8Array> { for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size) }
  for (const size of [1000, 16384, 65536 + 5]) {
    const { header, rest } = await readCheckpointHeader(chunks(whole, size), whole.length, 4000)
    t.same(header, parseSafetensorsHeader(whole, { fileSize: whole.length }), `chunks of ${size} bytes`)
    t.same(Buffer.from(rest), whole.subarray(head.length, head.length + rest.length), 'rest holds the data bytes that came with the header')
  }
  await t.rejects(readCheckpointHeader(chunks(Buffer.from(head.subarray(0, head.length - 10)), 16384), undefined, 4000), { code: 'MATERIA_ERR_CHECKPOINT_INVALID', message: /goes beyond the end of the data/ })
})
