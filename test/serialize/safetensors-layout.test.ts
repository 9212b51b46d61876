import t, { type Test } from 'tap'
import {
  computeSafetensorsLayout, compareUtf8, serdeJsonString, type LayoutInput
} from '../../src/serialize/safetensors-layout.js'
import { MATERIA_TO_SAFETENSORS, tensorByteSize } from '../../src/serialize/dtypes.js'
import { parseSafetensors, parseSafetensorsHeader } from '../../src/serialize/safetensors-reader.js'
import { fixture, manifest } from './fixtures.js'

function entry (name: string, dtype: LayoutInput['dtype'], shape: number[], tiedTo?: string): LayoutInput {
  const nbytes = tensorByteSize(MATERIA_TO_SAFETENSORS[dtype], shape)
  if (nbytes === null) throw new Error('bad test shape')
  return { name, dtype, shape, nbytes, tiedTo }
}

function jsonOf (layout: { header: Buffer, headerLength: number }): string {
  return layout.header.subarray(8).toString('utf8')
}

function rejects (tt: Test, fn: () => unknown, pattern: RegExp, msg: string): void {
  tt.throws(fn, { name: 'MateriaError', code: 'MATERIA_ERR_CHECKPOINT_UNSERIALIZABLE', statusCode: 400, message: pattern }, msg)
}

t.test('golden files: our layout + the raw tensor bytes reproduce safetensors 0.8.0 byte for byte', async t => {
  const m = manifest()
  t.equal(m.generator.safetensors, '0.8.0')
  for (const f of m.files) {
    const expected = fixture(f.file)
    const entries: LayoutInput[] = f.tensors.map(x => ({
      name: x.name,
      dtype: x.dtype,
      shape: x.shape,
      nbytes: x.hex.length / 2,
      tiedTo: x.tiedTo
    }))
    const layout = computeSafetensorsLayout(entries, {
      metadata: f.metadata,
      tiedAliasesInMetadata: f.tiedAliasesInMetadata === true
    })
    const bytes = new Map(f.tensors.map(x => [x.name, Buffer.from(x.hex, 'hex')]))
    const file = Buffer.concat([layout.header, ...layout.tensors.map(x => bytes.get(x.name)!)])
    t.equal(layout.totalSize, file.length, `${f.file}: totalSize`)
    t.equal(layout.totalSize, expected.length, `${f.file}: size matches`)
    t.ok(file.equals(expected), `${f.file}: byte-identical (${f.writer})`)
    if (!file.equals(expected)) {
      t.equal(jsonOf(layout), expected.subarray(8, 8 + layout.headerLength).toString('utf8'), `${f.file}: header diff`)
    }
    // the layout's offsets agree with what our reader finds in the reference file
    const parsed = parseSafetensors(expected)
    t.same(parsed.tensors.map(x => [x.name, x.begin, x.end, x.fileOffset]),
      layout.tensors.map(x => [x.name, x.begin, x.end, x.fileOffset]), `${f.file}: offsets agree with the reader`)
    t.equal(layout.headerLength % 8, 0)
    t.equal(layout.dataOffset, 8 + layout.headerLength)
  }
})

t.test('write order: dtype rank descending, then UTF-8 byte order of names', async t => {
  const layout = computeSafetensorsLayout([
    entry('b', 'bool', [1]),
    entry('z', 'uint8', [1]),
    entry('a', 'int8', [1]),
    entry('h', 'float16', [1]),
    entry('g', 'bfloat16', [1]),
    entry('s', 'int16', [1]),
    entry('i', 'int32', [1]),
    entry('f', 'float32', [1]),
    entry('d', 'float64', [1]),
    entry('l', 'int64', [1]),
    entry('\u{1F600}', 'float32', [1]),
    entry('\uE000', 'float32', [1]),
    entry('10', 'float32', [1]),
    entry('2', 'float32', [1]),
    entry('0', 'float32', [1])
  ])
  t.same(layout.tensors.map(x => x.name),
    ['l', 'd', '0', '10', '2', 'f', '\uE000', '\u{1F600}', 'i', 'g', 'h', 's', 'a', 'z', 'b'])
  // UTF-16 order would put the astral character first
  t.ok('\u{1F600}' < '\uE000', 'JS string order differs')
  t.ok(compareUtf8('\uE000', '\u{1F600}') < 0, 'UTF-8 order used')
  // every absolute offset is a multiple of the element size
  for (const x of layout.tensors) {
    t.equal(x.fileOffset % (x.nbytes), 0, `${x.name} aligned`)
  }
})

t.test('header bytes: compact JSON by concatenation, integer-like keys kept in place, padding', async t => {
  const layout = computeSafetensorsLayout([entry('10', 'float32', [2]), entry('2', 'float32', []), entry('0', 'int64', [0, 3])])
  t.equal(jsonOf(layout).trimEnd(),
    '{"__metadata__":{"format":"pt"},"0":{"dtype":"I64","shape":[0,3],"data_offsets":[0,0]},' +
    '"10":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"2":{"dtype":"F32","shape":[],"data_offsets":[8,12]}}')
  t.equal(layout.header.readBigUInt64LE(0), BigInt(layout.headerLength))
  t.equal(layout.dataSize, 12)

  const empty = computeSafetensorsLayout([], { metadata: null })
  t.same([...empty.header], [8, 0, 0, 0, 0, 0, 0, 0, ...Buffer.from('{}      ')])
  t.equal(empty.totalSize, 16)
  const emptyMeta = computeSafetensorsLayout([], { metadata: {} })
  t.equal(jsonOf(emptyMeta), '{"__metadata__":{}}     ')
})

t.test('serde escaping', async t => {
  t.equal(serdeJsonString('a"b\\c\n\t\b\f\r\u0001\u001f\u007f/<\u2028é\u{1F600}'),
    '"a\\"b\\\\c\\n\\t\\b\\f\\r\\u0001\\u001f\u007f/<\u2028é\u{1F600}"')
  const layout = computeSafetensorsLayout([entry('q"\n', 'uint8', [1])], { metadata: null })
  t.equal(jsonOf(layout).trimEnd(), '{"q\\"\\n":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}')
})

t.test('metadata: default {"format":"pt"}, keys sorted by UTF-8 bytes, null omits', async t => {
  const one = [entry('w', 'float32', [1])]
  t.match(jsonOf(computeSafetensorsLayout(one)), /^\{"__metadata__":\{"format":"pt"\},"w":/)
  t.same(computeSafetensorsLayout(one).metadata, { format: 'pt' })
  t.notMatch(jsonOf(computeSafetensorsLayout(one, { metadata: null })), /__metadata__/)
  t.equal(computeSafetensorsLayout(one, { metadata: null }).metadata, null)
  const sorted = computeSafetensorsLayout(one, { metadata: { zeta: '1', '\u{1F600}': '3', '\uE000': '4', format: 'pt', 10: 'x', 2: 'y' } })
  t.match(jsonOf(sorted), /^\{"__metadata__":\{"10":"x","2":"y","format":"pt","zeta":"1","\uE000":"4","\u{1F600}":"3"\},/u)
  rejects(t, () => computeSafetensorsLayout(one, { metadata: { n: 1 as unknown as string } }), /must be a string/, 'non-string metadata value')
  rejects(t, () => computeSafetensorsLayout(one, { metadata: { '\uD800': 'x' } }), /not valid Unicode/, 'lone surrogate key')
})

t.test('offsets and sizes beyond 4 GiB', async t => {
  const big = 3 * 2 ** 31 // 6 GiB of float32 = 1.5 Gi elements
  const layout = computeSafetensorsLayout([
    { name: 'a', dtype: 'float32', shape: [big / 4], nbytes: big },
    { name: 'b', dtype: 'float32', shape: [1024, 1024, 1024], nbytes: 4 * 2 ** 30 },
    { name: 'c', dtype: 'uint8', shape: [3], nbytes: 3 }
  ])
  t.match(jsonOf(layout), '"a":{"dtype":"F32","shape":[1610612736],"data_offsets":[0,6442450944]}')
  t.match(jsonOf(layout), '"b":{"dtype":"F32","shape":[1024,1024,1024],"data_offsets":[6442450944,10737418240]}')
  t.match(jsonOf(layout), '"c":{"dtype":"U8","shape":[3],"data_offsets":[10737418240,10737418243]}')
  t.equal(layout.dataSize, 10737418243)
  t.equal(layout.totalSize, 8 + layout.headerLength + 10737418243)
  t.equal(layout.byName.get('c')!.fileOffset, layout.dataOffset + 10737418240)
  // our reader parses the header back without the data in memory
  const parsed = parseSafetensorsHeader(layout.header, { fileSize: layout.totalSize })
  t.same(parsed.tensors.map(x => [x.name, x.begin, x.end]), layout.tensors.map(x => [x.name, x.begin, x.end]))
  t.equal(parsed.totalSize, layout.totalSize)
})

t.test('tied tensors: storage written once under the name that sorts first (save_model), aliases omitted and reported', async t => {
  const entries = [
    entry('model.embed.weight', 'float32', [4, 2]),
    entry('model.norm', 'float32', [2]),
    entry('lm_head.weight', 'float32', [4, 2], 'model.embed.weight'),
    entry('extra.alias', 'float32', [4, 2], 'lm_head.weight')
  ]
  const layout = computeSafetensorsLayout(entries)
  t.same(layout.tensors.map(x => x.name), ['extra.alias', 'model.norm'])
  t.same(layout.omitted, [
    { name: 'model.embed.weight', keptAs: 'extra.alias' },
    { name: 'lm_head.weight', keptAs: 'extra.alias' }
  ])
  t.equal(layout.dataSize, 40)
  t.same(layout.metadata, { format: 'pt' }, 'nothing recorded by default (transformers save_pretrained)')

  // the sorted-first name wins whatever the input order and whichever entry carries tiedTo
  const reversed = computeSafetensorsLayout([entry('b', 'float32', [2], 'a'), entry('a', 'float32', [2])])
  t.same(reversed.tensors.map(x => x.name), ['a'])
  t.same(reversed.omitted, [{ name: 'b', keptAs: 'a' }])

  // cycles are harmless
  const cyc = computeSafetensorsLayout([entry('x', 'int8', [1], 'y'), entry('y', 'int8', [1], 'x')])
  t.same(cyc.tensors.map(x => x.name), ['x'])

  // save_model style
  const rec = computeSafetensorsLayout(entries, { tiedAliasesInMetadata: true })
  t.match(jsonOf(rec), /^\{"__metadata__":\{"format":"pt","lm_head\.weight":"extra\.alias","model\.embed\.weight":"extra\.alias"\},/)
  const userWins = computeSafetensorsLayout(entries, { tiedAliasesInMetadata: true, metadata: { 'lm_head.weight': 'mine' } })
  t.same(userWins.metadata, { 'lm_head.weight': 'mine', 'model.embed.weight': 'extra.alias' })

  rejects(t, () => computeSafetensorsLayout([entry('a', 'float32', [2], 'nope')]), /tied to unknown tensor "nope"/, 'unknown tie target')
  rejects(t, () => computeSafetensorsLayout([entry('a', 'float32', [2]), entry('b', 'float32', [3], 'a')]), /same dtype and shape/, 'shape mismatch')
  rejects(t, () => computeSafetensorsLayout([entry('a', 'float32', [2]), entry('b', 'int32', [2], 'a')]), /same dtype and shape/, 'dtype mismatch')
})

t.test('writer rejections', async t => {
  rejects(t, () => computeSafetensorsLayout([entry('a', 'float32', [1]), entry('a', 'float32', [1])]), /duplicate tensor name "a"/, 'duplicate name')
  rejects(t, () => computeSafetensorsLayout([entry('__metadata__', 'float32', [1])]), /__metadata__/, 'reserved name')
  rejects(t, () => computeSafetensorsLayout([entry('x\uDC00', 'float32', [1])]), /not valid Unicode/, 'lone surrogate')
  rejects(t, () => computeSafetensorsLayout([{ name: 'a', dtype: 'complex64' as 'float32', shape: [1], nbytes: 8 }]), /unsupported dtype "complex64"/, 'unknown dtype')
  rejects(t, () => computeSafetensorsLayout([{ name: 'a', dtype: 'float32', shape: [2], nbytes: 4 }]), /nbytes 4 does not match float32 \[2\] \(8 bytes\)/, 'size mismatch')
  rejects(t, () => computeSafetensorsLayout([{ name: 'a', dtype: 'float32', shape: [-1], nbytes: 4 }]), /non-negative integers/, 'negative dim')
  rejects(t, () => computeSafetensorsLayout([{ name: 'a', dtype: 'float32', shape: [1.5], nbytes: 4 }]), /non-negative integers/, 'fractional dim')
  rejects(t, () => computeSafetensorsLayout([{ name: 'a', dtype: 'uint8', shape: [2 ** 30, 2 ** 30, 2 ** 30], nbytes: 0 }]), /too large/, 'shape beyond 2^53 bytes')
  rejects(t, () => computeSafetensorsLayout([
    { name: 'a', dtype: 'uint8', shape: [2 ** 52], nbytes: 2 ** 52 },
    { name: 'b', dtype: 'uint8', shape: [2 ** 52], nbytes: 2 ** 52 }
  ]), /exceeds 2\^53/, 'total beyond 2^53')
})
