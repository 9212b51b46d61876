import t, { type Test } from 'tap'
import {
  MAX_HEADER_LENGTH, SafetensorsHeaderReader, checkFileSize, parseSafetensors, parseSafetensorsHeader,
  readHeaderLength, readSafetensorsHeader, type ParsedSafetensorsHeader
} from '../../src/serialize/safetensors-reader.js'
import { fixture, manifest, readerCases } from './fixtures.js'

function rejects (tt: Test, fn: () => unknown, pattern: RegExp, msg: string): void {
  tt.throws(fn, { name: 'MateriaError', code: 'MATERIA_ERR_CHECKPOINT_INVALID', statusCode: 400, message: pattern }, msg)
}

function framed (json: string | Buffer, data: Buffer = Buffer.alloc(0), n?: number): Buffer {
  const h = typeof json === 'string' ? Buffer.from(json, 'utf8') : json
  const len = Buffer.alloc(8)
  len.writeBigUInt64LE(BigInt(n ?? h.length))
  return Buffer.concat([len, h, data])
}

/** The message our reader gives for each reference-rejected case of reader-cases.json. */
const EXPECTED_REJECTION: Record<string, RegExp> = {
  'too short for the length field': /3 bytes long, too short for the 8-byte header length/,
  'header length too large': /header length 100000001 is larger than the limit of 100000000 bytes/,
  'header length beyond body': /header length 64 goes beyond the end of the file \(16 bytes, so at most 8\)/,
  'header length zero': /not valid JSON: empty header/,
  'invalid UTF-8': /not valid UTF-8/,
  'byte order mark': /not valid JSON: byte order mark/,
  'invalid JSON': /not valid JSON: unexpected end of header inside an object/,
  'trailing garbage after JSON': /not valid JSON: trailing characters "x"/,
  'NUL padding': /NUL byte after the JSON \(padding must be spaces\)/,
  'top level array': /header must be a JSON object, got an array/,
  'top level string': /header must be a JSON object, got the string "abc"/,
  'top level null': /header must be a JSON object, got null/,
  'entry not an object': /tensor "a" must be an object .* got the number 5/,
  'entry missing dtype': /tensor "a": missing field "dtype"/,
  'entry missing shape': /tensor "a": missing field "shape"/,
  'entry missing data_offsets': /tensor "a": missing field "data_offsets"/,
  'entry duplicate field': /tensor "a": field "dtype" appears twice/,
  'dtype not a string': /dtype must be a string, got the number 4/,
  'dtype lowercase': /unknown dtype "f32" \(dtypes are case-sensitive/,
  'dtype unknown': /unknown dtype "F128"/,
  'dtype materia name': /unknown dtype "float32"/,
  'shape not an array': /shape must be an array, got the number 2/,
  'shape negative': /shape\[0\] must be a non-negative integer, got -2/,
  'shape fractional': /shape\[0\] must be a non-negative integer, got 2\.0/,
  'shape exponent': /shape\[0\] must be a non-negative integer, got 2e0/,
  'shape string': /shape\[0\] must be a non-negative integer, got the string "2"/,
  'shape minus zero': /shape\[0\] must be a non-negative integer, got -0/,
  'data_offsets one number': /data_offsets must have exactly 2 numbers, got 1/,
  'data_offsets three numbers': /data_offsets must have exactly 2 numbers, got 3/,
  'data_offsets end before begin': /data_offsets \[8, 0\] end before begin/,
  'size does not match shape': /data_offsets \[0, 8\] span 8 bytes but F32 \[3\] needs 12/,
  'sub-byte dtype misaligned': /F4 \[3\] is not a whole number of bytes/,
  'first tensor not at 0': /data must start at offset 0, but the first tensor "a" starts at 4/,
  'gap between tensors': /gap of 4 bytes between tensor "a" \(ends at 4\) and tensor "b" \(starts at 8\)/,
  overlap: /tensor "b" \[4, 12\) overlaps tensor "a" \[0, 8\)/,
  'same range twice': /tensor "b" \[0, 8\) overlaps tensor "a" \[0, 8\)/,
  'empty tensor inside another': /tensor "e" \[4, 4\) overlaps tensor "a" \[0, 8\)/,
  'empty tensor past the end': /gap of 4 bytes between tensor "a" \(ends at 8\) and tensor "e" \(starts at 12\)/,
  'trailing bytes': /4 trailing bytes after the data \(the file must be exactly 8 \+ 56 \+ 8 = 72 bytes, got 76\)/,
  'truncated data': /data is truncated: the header describes 8 \+ 112 \+ 12 = 132 bytes, got 130/,
  'metadata number value': /"__metadata__" values must be strings; "n" is the number 1/,
  'metadata nested object': /"__metadata__" values must be strings; "format" is an object/,
  'metadata not an object': /"__metadata__" must be an object of strings, got the string "pt"/,
  'metadata shaped like a tensor': /"__metadata__" values must be strings; "dtype" is the string "F32"|"__metadata__" values must be strings; "shape" is an array/,
  'lone surrogate escape in name': /lone surrogate in \\u escape/,
  'raw control character in name': /raw control character in a string/,
  'offset beyond 2^53': /data_offsets\[0\] 9007199254740993 is too large/
}

/** Cases where we deliberately differ from the reference reader (documented in safetensors-reader.ts). */
const DELIBERATE: Record<string, RegExp> = {
  'duplicate tensor name': /tensor "a" appears twice/
}

t.test('conformance with the reference reader (safetensors 0.8.0 deserialize)', async t => {
  const cases = readerCases()
  t.ok(cases.length >= 60, `${cases.length} cases`)
  const covered = new Set<string>()
  for (const c of cases) {
    const bytes = Buffer.from(c.hex, 'hex')
    const run = (): ParsedSafetensorsHeader => readSafetensorsHeader(bytes, { fileSize: bytes.length })
    const deliberate = DELIBERATE[c.description]
    if (deliberate !== undefined) {
      t.equal(c.python.ok, true, `${c.description}: the reference accepts`)
      rejects(t, run, deliberate, `${c.description}: we reject (deliberate)`)
      covered.add(c.description)
      continue
    }
    if (c.python.ok) {
      t.doesNotThrow(run, `${c.description}: accepted like the reference`)
      continue
    }
    const pattern = EXPECTED_REJECTION[c.description]
    t.ok(pattern, `${c.description}: has an expected message (reference: ${c.python.error ?? ''})`)
    rejects(t, run, pattern ?? /./, `${c.description}: rejected like the reference`)
    covered.add(c.description)
  }
  for (const d of [...Object.keys(EXPECTED_REJECTION), ...Object.keys(DELIBERATE)]) {
    t.ok(covered.has(d), `expected rejection "${d}" is exercised by a fixture`)
  }
})

t.test('accepted variants parse to the same tensors', async t => {
  const byDesc = new Map(readerCases().map(c => [c.description, Buffer.from(c.hex, 'hex')]))
  const p = (d: string): ParsedSafetensorsHeader => readSafetensorsHeader(byDesc.get(d)!, { fileSize: byDesc.get(d)!.length })
  const simple = [{ name: 'a', stDtype: 'F32', dtype: 'float32', shape: [2], begin: 0, end: 8, nbytes: 8 }]
  for (const d of ['valid unpadded', 'valid pretty-printed', 'valid newline padding', 'valid leading space', 'valid extra entry field']) {
    t.match(p(d).tensors, simple, d)
    t.equal(p(d).metadata, null, `${d}: no metadata`)
  }
  t.same(p('valid entries in reverse order').tensors.map(x => x.name), ['a', 'b'], 'file order')
  t.same(p('valid with metadata').metadata, { format: 'pt' })
  t.equal(p('valid metadata null').metadata, null)
  t.same(p('valid empty').tensors, [])
  t.equal(p('valid empty').totalSize, 16)
  t.same(p('valid empty tensors first, middle and last').tensors.map(x => `${x.name}@${x.begin}`), ['e0@0', 'a@0', 'e1@4', 'b@4', 'e2@8'])
  t.same(p('valid scalar').tensors[0]?.shape, [])
  t.equal(p('valid escaped name').tensors[0]?.name, 'q"é\u{1F600}\n')
  t.match(p('valid non-materia dtype F8_E4M3').tensors[0], { stDtype: 'F8_E4M3', dtype: null, nbytes: 3 })
  t.match(p('valid sub-byte dtype F4').tensors[0], { stDtype: 'F4', dtype: null, nbytes: 2 })
  // an upload's parse refuses non-materia dtypes
  rejects(t, () => parseSafetensors(byDesc.get('valid non-materia dtype F8_E4M3')!), /dtype F8_E4M3 is valid safetensors but not supported by materia/, 'F8 refused by default')
  for (const d of ['U16', 'U32', 'U64', 'C64', 'F8_E5M2']) {
    rejects(t, () => parseSafetensors(framed(`{"x":{"dtype":"${d}","shape":[0],"data_offsets":[0,0]}}`)), new RegExp(`dtype ${d} is valid safetensors but not supported`), `${d} refused by default`)
  }
})

/** A test-name-safe rendering (TAP treats U+2028 and friends as line breaks). */
const show = (s: string): string => JSON.stringify(s).replace(/[^\x20-\x7e]/g, c => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'))

t.test('golden files parse with the manifest names, dtypes, shapes and bytes', async t => {
  for (const f of manifest().files) {
    const file = fixture(f.file)
    const h = parseSafetensors(file)
    t.equal(h.totalSize, file.length, f.file)
    const written = f.tensors.filter(x => x.tiedTo === undefined)
    t.equal(h.tensors.length, written.length, `${f.file}: tensor count`)
    const byName = new Map(h.tensors.map(x => [x.name, x]))
    for (const x of written) {
      const p = byName.get(x.name)
      t.ok(p, `${f.file}: ${show(x.name)} present`)
      if (p === undefined) continue
      t.equal(p.dtype, x.dtype)
      t.same(p.shape, x.shape)
      t.equal(file.subarray(p.fileOffset, p.fileOffset + p.nbytes).toString('hex'), x.hex, `${f.file}: ${show(x.name)} bytes`)
    }
    if (f.tiedAliasesInMetadata === true) t.same(h.metadata, { 'b.weight': 'a.weight' })
    else t.same(h.metadata, f.metadata, `${f.file}: metadata`)
  }
})

t.test('streaming: length first, then header, then the file-size check', async t => {
  const file = fixture('mixed-torch.safetensors')
  const n = readHeaderLength(file.subarray(0, 8), { fileSize: file.length })
  t.equal(n, file.readUInt32LE(0))
  const h = parseSafetensorsHeader(file.subarray(0, 8 + n))
  t.equal(h.totalSize, file.length)
  t.doesNotThrow(() => checkFileSize(h, file.length))
  rejects(t, () => checkFileSize(h, file.length + 1), /1 trailing bytes/, 'trailing')
  rejects(t, () => checkFileSize(h, file.length - 1), /data is truncated/, 'truncated')
  rejects(t, () => parseSafetensorsHeader(file.subarray(0, 8 + n - 1)), /goes beyond the end of the data/, 'partial header')
  // extra bytes after the header are ignored when fileSize is not given
  t.same(parseSafetensorsHeader(file.subarray(0, 8 + n + 5)).tensors, h.tensors)
  // custom header limit
  rejects(t, () => readHeaderLength(file, { maxHeaderLength: 64 }), /larger than the limit of 64 bytes/, 'maxHeaderLength')
  t.equal(MAX_HEADER_LENGTH, 100_000_000)
  // u64 beyond 2^53 in the length field
  const huge = Buffer.alloc(8, 0xff)
  rejects(t, () => readHeaderLength(huge), /header length 18446744073709551615 is larger than the limit/, 'u64 max')
})

t.test('SafetensorsHeaderReader assembles the header from chunks of any size', async t => {
  for (const name of ['mixed-torch.safetensors', 'empty-nometa.safetensors', 'tied-save-model.safetensors']) {
    const file = fixture(name)
    const whole = parseSafetensors(file)
    for (const size of [1, 3, 8, 9, 64, file.length]) {
      const r = new SafetensorsHeaderReader({ fileSize: file.length })
      let got: ParsedSafetensorsHeader | null = null
      let fed = 0
      while (got === null && fed < file.length) {
        got = r.push(file.subarray(fed, fed + size))
        fed += Math.min(size, file.length - fed)
      }
      t.ok(got, `${name} / ${size}: complete`)
      t.same(got, whole, `${name} / ${size}: same result as parseSafetensors`)
      t.equal(r.header, got)
      t.same(Buffer.from(r.rest), file.subarray(whole.dataOffset, fed), `${name} / ${size}: rest is the start of the data`)
      t.equal(r.end(), got)
    }
  }
  const file = fixture('mixed-torch.safetensors')
  const short = new SafetensorsHeaderReader()
  short.push(file.subarray(0, 5))
  rejects(t, () => short.end(), /5 bytes long, too short/, 'body ended inside the length field')
  const partial = new SafetensorsHeaderReader()
  t.equal(partial.push(file.subarray(0, 100)), null)
  rejects(t, () => partial.end(), /goes beyond the end of the file \(100 bytes/, 'body ended inside the header')
  const wrongSize = new SafetensorsHeaderReader({ fileSize: file.length + 3 })
  rejects(t, () => wrongSize.push(file), /3 trailing bytes/, 'declared body size checked as soon as the header is known')
  const tooBig = new SafetensorsHeaderReader({ fileSize: 20 })
  rejects(t, () => tooBig.push(file.subarray(0, 8)), /goes beyond the end of the file \(20 bytes/, 'length checked before buffering the header')
})

t.test('more header rejections', async t => {
  const F = (s: string, b: number, e: number): string => `{"dtype":"F32","shape":[${s}],"data_offsets":[${b},${e}]}`
  rejects(t, () => parseSafetensors(framed('{"__metadata__":{},"__metadata__":{}}')), /"__metadata__" appears twice/, 'metadata twice')
  rejects(t, () => parseSafetensors(framed('{"__metadata__":{"a":"1","a":"2"}}')), /"__metadata__" key "a" appears twice/, 'metadata key twice')
  rejects(t, () => parseSafetensors(framed('['.repeat(100) + ']'.repeat(100))), /nesting deeper than 64/, 'deep nesting')
  rejects(t, () => parseSafetensors(framed(`{"a":${F('1', 0, 4)},}`, Buffer.alloc(4))), /expected a string key/, 'trailing comma')
  rejects(t, () => parseSafetensors(framed('{\'a\':1}')), /expected a string key/, 'single quotes')
  rejects(t, () => parseSafetensors(framed('{"a\\x":1}')), /invalid escape \\x/, 'bad escape')
  rejects(t, () => parseSafetensors(framed('{"\\ud83d\\u0041":1}')), /lone surrogate/, 'high surrogate + non-low')
  rejects(t, () => parseSafetensors(framed('{"\\udc00":1}')), /lone surrogate/, 'lone low surrogate')
  rejects(t, () => parseSafetensors(framed(`{"a":${F('1', 0, 4)}`)), /unexpected end of header inside an object/, 'unterminated')
  rejects(t, () => parseSafetensors(framed(`{"a":${F('1', 0, 4)} "b":1}`)), /expected ',' or '}'/, 'missing comma')
  rejects(t, () => parseSafetensors(framed(Buffer.from([0x7b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x3a, 0x31, 0x7d]))), /not valid UTF-8/, 'UTF-8 encoded surrogate')
  rejects(t, () => parseSafetensors(framed('{"a":{"dtype":"U8","shape":[9007199254740993],"data_offsets":[0,1]}}', Buffer.alloc(1))), /shape\[0\] 9007199254740993 is too large/, 'huge dim')
  rejects(t, () => parseSafetensors(framed('{"a":{"dtype":"F32","shape":[4503599627370496,4],"data_offsets":[0,4]}}', Buffer.alloc(4))), /shape \[4503599627370496, 4\] is too large/, 'byte size beyond 2^53')
  rejects(t, () => parseSafetensors(framed('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', Buffer.alloc(4), 1000)), /goes beyond the end of the file/, 'length field larger than the file')
  // keys that are JS object-prototype names are ordinary tensor names
  const proto = parseSafetensors(framed(`{"__proto__":${F('1', 0, 4)},"constructor":${F('1', 4, 8)}}`, Buffer.alloc(8)))
  t.same(proto.tensors.map(x => x.name), ['__proto__', 'constructor'])
  const meta = parseSafetensors(framed('{"__metadata__":{"__proto__":"x","format":"pt"}}'))
  const protoKey = '__proto__'
  t.equal(meta.metadata?.[protoKey], 'x')
  t.equal(Object.getPrototypeOf(meta.metadata), null)
})

t.test('torch.save formats are named; a header length that starts with the same bytes is still a length', async (t) => {
  t.throws(() => readHeaderLength(Buffer.from('504b030414000000', 'hex')), /torch\.save file \(a zip archive\)/)
  t.throws(() => readHeaderLength(Buffer.from('80028a0a6cfc9c46', 'hex')), /torch\.save file \(a pickle\)/)
  t.throws(() => readHeaderLength(Buffer.from('504b0304', 'hex')), /torch\.save file/, 'even when shorter than a header length')
  // 8 + N bytes whose N begins PK\x03\x04, followed by the JSON header's '{'
  const prefix = Buffer.from('504b0304000000007b', 'hex')
  t.equal(readHeaderLength(prefix), 0x04034b50)
})
