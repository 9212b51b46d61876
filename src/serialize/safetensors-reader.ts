// Parse and validate a safetensors header (uploads). Streaming-friendly: the first 8 bytes give the
// header length (readHeaderLength), the next N bytes the header (parseSafetensorsHeader); the data
// buffer never needs to be in memory. SafetensorsHeaderReader does the buffering for a chunked body.
//
// Acceptance follows the reference reader (safetensors 0.8.0 Rust `Metadata` deserialization and
// `validate`), see docs/safetensors.md §4 and the conformance cases in
// test/fixtures/safetensors/reader-cases.json. Every rejection is a MATERIA_ERR_CHECKPOINT_INVALID
// (400) with a message naming the problem. Deliberate differences from the reference:
// - a repeated tensor name or a repeated `__metadata__` key is rejected (the reference silently keeps
//   the last one; an upload whose meaning depends on that is almost certainly broken);
// - dtypes that safetensors defines but materia does not support (U16/U32/U64, F8_*, F4, F6_*, C64)
//   are rejected by parseSafetensorsHeader (readSafetensorsHeader reads them, with dtype null);
// - offsets and sizes must be below 2^53 (the format's JSON schema caps them at 2^48 − 1 anyway).
// Like the reference we accept: unpadded or whitespace-padded headers (space, \t, \n, \r), leading
// whitespace, pretty-printed JSON, extra fields in a tensor entry, entries in any order,
// `"__metadata__": null`. Header JSON is parsed by strict-json.ts, which mirrors serde_json: no BOM,
// no trailing characters (so NUL padding fails), no lone surrogate escapes, integers only as plain
// non-negative decimals (`2.0`, `2e0`, `-0` are rejected as serde rejects them for usize).
import { setImmediate as yieldToLoop } from 'node:timers/promises'
import { MessageChannel, type MessagePort } from 'node:worker_threads'
import { Piscina } from 'piscina'
import { errorDefs, materiaError, MateriaError } from '../errors.js'
import {
  DTYPE_BITS, SAFETENSORS_TO_MATERIA, isSafetensorsDtype, tensorByteSize,
  type SafetensorsDtype
} from './dtypes.js'
import type { DType } from '../tensor/dtype.js'
import { JsonSyntaxError, parseStrictJson, type JValue } from './strict-json.js'

/** Rust safetensors MAX_HEADER_SIZE. */
export const MAX_HEADER_LENGTH = 100_000_000

export interface ReadOptions {
  /** Total body length when known: enables the "beyond body" and exact-length checks. */
  readonly fileSize?: number | undefined
  /** Largest accepted header length N (default 100,000,000 like the Rust reader). */
  readonly maxHeaderLength?: number | undefined
  /**
   * Most top-level entries (tensors and `__metadata__`) accepted. SafetensorsHeaderReader counts
   * them as the header streams in, so an oversized header is refused before it is all received.
   */
  readonly maxEntries?: number | undefined
  /** Why maxHeaderLength / maxEntries are what they are, appended to their error messages. */
  readonly limitReason?: string | undefined
}

export interface ParsedTensor {
  readonly name: string
  readonly stDtype: SafetensorsDtype
  /** The materia dtype, or null for a safetensors dtype materia does not support. */
  readonly dtype: DType | null
  readonly shape: readonly number[]
  readonly begin: number
  readonly end: number
  readonly nbytes: number
  /** Absolute file position of the first byte (dataOffset + begin). */
  readonly fileOffset: number
}

export interface ParsedSafetensorsHeader {
  /** N. */
  readonly headerLength: number
  /** 8 + N. */
  readonly dataOffset: number
  /** D: end of the last tensor. */
  readonly dataSize: number
  /** 8 + N + D: the only valid file length. */
  readonly totalSize: number
  /** `__metadata__` (null-prototype object), or null when absent or `null`. */
  readonly metadata: Readonly<Record<string, string>> | null
  /** Tensors in file (data offset) order. */
  readonly tensors: readonly ParsedTensor[]
}

/** A name in a message, at most 200 characters of it: names can be megabytes long, error bodies stay small. */
const q = (s: string): string => JSON.stringify(s.length > 200 ? `${s.slice(0, 200)}…` : s)
const because = (options: ReadOptions): string => options.limitReason !== undefined ? ` (${options.limitReason})` : ''

/**
 * What torch.save wrote, when the file starts as its formats do (the usual mistake: uploading a
 * `.pt`/`.bin` checkpoint): a zip archive (`PK\x03\x04`, torch.save since PyTorch 1.6) or a pickle
 * (PROTO opcode 0x80 and protocol 2-5, the legacy format). A safetensors file whose header length
 * happens to start with those bytes has its JSON header at offset 8, so a `{` there rules them out.
 */
function torchSaveFormat (prefix: Uint8Array): string | undefined {
  if (prefix.length > 8 && prefix[8] === 0x7b) return undefined
  if (prefix.length >= 4 && prefix[0] === 0x50 && prefix[1] === 0x4b && prefix[2] === 0x03 && prefix[3] === 0x04) return 'a zip archive'
  if (prefix.length >= 2 && prefix[0] === 0x80 && (prefix[1] ?? 0) >= 2 && (prefix[1] ?? 0) <= 5) return 'a pickle'
  return undefined
}

/**
 * Read and check the u64 little-endian header length N from the first 8 bytes of the file.
 * Rejects N > maxHeaderLength and, when `fileSize` is given, 8 + N > fileSize.
 */
export function readHeaderLength (prefix: Uint8Array, options: ReadOptions = {}): number {
  const torchSave = torchSaveFormat(prefix)
  if (torchSave !== undefined) throw materiaError('stTorchSave', { format: torchSave })
  if (prefix.length < 8) {
    throw materiaError('stTooShort', { length: prefix.length })
  }
  const view = new DataView(prefix.buffer, prefix.byteOffset, 8)
  const n = view.getBigUint64(0, true)
  const max = options.maxHeaderLength ?? MAX_HEADER_LENGTH
  if (n > BigInt(max)) throw materiaError('stHeaderOverLimit', { length: String(n), max, because: because(options) })
  const len = Number(n)
  if (options.fileSize !== undefined && 8 + len > options.fileSize) {
    throw materiaError('stHeaderBeyondFile', { length: len, size: options.fileSize, most: Math.max(0, options.fileSize - 8) })
  }
  return len
}

function describe (v: JValue): string {
  switch (v.t) {
    case 'obj': return 'an object'
    case 'arr': return 'an array'
    case 'str': return `the string ${q(v.v)}`
    case 'num': return `the number ${v.raw}`
    case 'lit': return String(v.v)
  }
}

function uint (v: JValue, what: string): number {
  if (v.t !== 'num') throw materiaError('stNotUint', { field: what, value: describe(v) })
  if (!/^(?:0|[1-9][0-9]*)$/.test(v.raw)) throw materiaError('stNotUint', { field: what, value: v.raw })
  const n = Number(v.raw)
  if (!Number.isSafeInteger(n)) throw materiaError('stUintTooLarge', { field: what, value: v.raw })
  return n
}

// ---------------------------------------------------------------------------------------------------

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/**
 * Parse and validate the header as the safetensors format defines it: every safetensors dtype is
 * read, those materia has no equivalent for with `dtype` null. `bytes` starts at file offset 0 and
 * holds at least 8 + N bytes (extra bytes after the header are ignored, so the first chunk(s) of an
 * upload can be passed as is). With `fileSize` the file length must be exactly 8 + N + D; without
 * it, call checkFileSize() once the body length is known.
 */
export function readSafetensorsHeader (bytes: Uint8Array, options: ReadOptions = {}): ParsedSafetensorsHeader {
  const n = readHeaderLength(bytes, options)
  if (bytes.length < 8 + n) {
    throw materiaError('stHeaderBeyondData', { length: n, size: bytes.length, most: Math.max(0, bytes.length - 8) })
  }
  let text: string
  try {
    text = decoder.decode(bytes.subarray(8, 8 + n))
  } catch {
    throw materiaError('stHeaderUtf8', {})
  }
  let root: JValue
  try {
    root = parseStrictJson(text)
  } catch (err) {
    if (err instanceof JsonSyntaxError) throw materiaError('stHeaderJson', { reason: err.message })
    throw err
  }
  if (root.t !== 'obj') throw materiaError('stHeaderNotObject', { value: describe(root) })

  let metadata: Record<string, string> | null = null
  let sawMetadata = false
  const names = new Set<string>()
  const tensors: Array<Omit<ParsedTensor, 'fileOffset'>> = []
  for (const [key, v] of root.entries) {
    if (key === '__metadata__') {
      if (sawMetadata) throw materiaError('stMetadataTwice', {})
      sawMetadata = true
      if (v.t === 'lit' && v.v === null) continue
      if (v.t !== 'obj') throw materiaError('stMetadataNotObject', { value: describe(v) })
      metadata = Object.create(null) as Record<string, string>
      const seen = new Set<string>()
      for (const [mk, mv] of v.entries) {
        if (mv.t !== 'str') throw materiaError('stMetadataValue', { key: q(mk), value: describe(mv) })
        if (seen.has(mk)) throw materiaError('stMetadataKeyTwice', { key: q(mk) })
        seen.add(mk)
        metadata[mk] = mv.v
      }
      continue
    }
    const name = q(key)
    const what = `tensor ${name}`
    if (names.has(key)) throw materiaError('stTensorTwice', { name })
    names.add(key)
    if (v.t !== 'obj') throw materiaError('stTensorNotObject', { name, value: describe(v) })
    const fields = new Map<string, JValue>()
    for (const [fk, fv] of v.entries) {
      if (fk === 'dtype' || fk === 'shape' || fk === 'data_offsets') {
        if (fields.has(fk)) throw materiaError('stFieldTwice', { name, field: q(fk) })
        fields.set(fk, fv)
      } // other fields are ignored, as by the reference reader
    }
    const dt = fields.get('dtype')
    const sh = fields.get('shape')
    const off = fields.get('data_offsets')
    if (dt === undefined) throw materiaError('stMissingField', { name, field: 'dtype' })
    if (sh === undefined) throw materiaError('stMissingField', { name, field: 'shape' })
    if (off === undefined) throw materiaError('stMissingField', { name, field: 'data_offsets' })
    if (dt.t !== 'str') throw materiaError('stDtypeNotString', { name, value: describe(dt) })
    const stDtype = dt.v
    if (!isSafetensorsDtype(stDtype)) {
      throw materiaError('stUnknownDtype', { name, dtype: q(stDtype), dtypes: Object.keys(DTYPE_BITS).join(', ') })
    }
    const dtype = SAFETENSORS_TO_MATERIA[stDtype] ?? null
    if (sh.t !== 'arr') throw materiaError('stShapeNotArray', { name, value: describe(sh) })
    const shape = sh.items.map((d, i) => uint(d, `${what}: shape[${i}]`))
    if (off.t !== 'arr') throw materiaError('stOffsetsNotArray', { name, value: describe(off) })
    if (off.items.length !== 2) throw materiaError('stOffsetsLength', { name, count: off.items.length })
    const begin = uint(off.items[0]!, `${what}: data_offsets[0]`)
    const end = uint(off.items[1]!, `${what}: data_offsets[1]`)
    if (end < begin) throw materiaError('stOffsetsReversed', { name, begin, end })
    const nbytes = tensorByteSize(stDtype, shape)
    if (nbytes === null) {
      if (DTYPE_BITS[stDtype] % 8 !== 0) throw materiaError('stPartialBytes', { name, dtype: stDtype, shape: shape.join(', ') })
      throw materiaError('stShapeTooLarge', { name, shape: shape.join(', ') })
    }
    if (end - begin !== nbytes) {
      throw materiaError('stOffsetsSpan', { name, begin, end, span: end - begin, dtype: stDtype, shape: shape.join(', '), nbytes })
    }
    tensors.push({ name: key, stDtype, dtype, shape, begin, end, nbytes })
  }

  // contiguity: sorted by (begin, end), each tensor starts where the previous one ended
  tensors.sort((a, b) => (a.begin - b.begin) || (a.end - b.end))
  let pos = 0
  let prev: (typeof tensors)[number] | undefined
  for (const t of tensors) {
    if (t.begin !== pos) {
      if (prev === undefined) throw materiaError('stDataStart', { name: q(t.name), begin: t.begin })
      if (t.begin > pos) throw materiaError('stDataGap', { gap: t.begin - pos, before: q(prev.name), end: pos, name: q(t.name), begin: t.begin })
      throw materiaError('stDataOverlap', { name: q(t.name), begin: t.begin, end: t.end, other: q(prev.name), otherBegin: prev.begin, otherEnd: prev.end })
    }
    pos = t.end
    prev = t
  }

  const dataOffset = 8 + n
  const dataSize = pos
  const totalSize = dataOffset + dataSize
  if (!Number.isSafeInteger(totalSize)) throw materiaError('stFileTooLarge', {})
  const header: ParsedSafetensorsHeader = {
    headerLength: n,
    dataOffset,
    dataSize,
    totalSize,
    metadata,
    tensors: tensors.map(t => Object.freeze({ ...t, fileOffset: dataOffset + t.begin }))
  }
  if (options.fileSize !== undefined) checkFileSize(header, options.fileSize)
  return header
}

/**
 * readSafetensorsHeader for an upload: a tensor whose dtype materia does not support (U16/U32/U64,
 * F8_*, F4, F6_*, C64) is refused, the first in file order.
 */
export function parseSafetensorsHeader (bytes: Uint8Array, options: ReadOptions = {}): ParsedSafetensorsHeader {
  const header = readSafetensorsHeader(bytes, options)
  const other = header.tensors.find((t) => t.dtype === null)
  if (other !== undefined) throw materiaError('stDtypeUnsupported', { name: q(other.name), dtype: other.stDtype })
  return header
}

/** The file must be exactly 8 + N + D bytes: no trailing bytes, no truncated data. */
export function checkFileSize (header: ParsedSafetensorsHeader, fileSize: number): void {
  if (fileSize > header.totalSize) {
    throw materiaError('stTrailingBytes', { extra: fileSize - header.totalSize, headerLength: header.headerLength, dataSize: header.dataSize, total: header.totalSize, size: fileSize })
  }
  if (fileSize < header.totalSize) {
    throw materiaError('stTruncated', { headerLength: header.headerLength, dataSize: header.dataSize, total: header.totalSize, size: fileSize })
  }
}

/** Parse a complete in-memory file (header checks plus the exact-length check). */
export function parseSafetensors (file: Uint8Array, options: Omit<ReadOptions, 'fileSize'> = {}): ParsedSafetensorsHeader {
  return parseSafetensorsHeader(file, { ...options, fileSize: file.length })
}

/**
 * Counts the top-level entries of a header as its bytes stream in, without parsing it: commas at
 * depth 1 outside strings, plus one. Works on UTF-8 bytes (multi-byte sequences never hold a byte
 * below 0x80, so never a quote, backslash or bracket) and skips string contents with indexOf
 * (memchr), so a pass costs little more than the copy of the bytes. Malformed JSON is left for the
 * parser to word; the count only has to be an upper bound on what the parser would accept.
 */
export class HeaderEntryCounter {
  private depth = 0
  private inString = false
  /** inside a string, the bytes so far end with an odd run of backslashes (a chunk may end there) */
  private escaped = false
  private nonEmpty = false
  private commas = 0

  constructor (private readonly max: number, private readonly options: ReadOptions = {}) {}

  get entries (): number { return this.commas + (this.nonEmpty ? 1 : 0) }

  push (b: Uint8Array): void {
    let i = 0
    const n = b.length
    while (i < n) {
      if (this.inString) {
        // the next quote ends the string unless an odd run of backslashes precedes it: one memchr
        // per quote, and each backslash is looked at once at most
        // short strings (most names) by hand: a call to indexOf costs more than a few bytes' loop
        let qi = -1
        const near = Math.min(n, i + 64)
        for (let j = i; j < near; j++) if (b[j] === 0x22) { qi = j; break }
        if (qi === -1 && near < n) qi = b.indexOf(0x22, near)
        const stop = qi === -1 ? n : qi
        let k = stop
        while (k > i && b[k - 1] === 0x5c) k--
        let odd = ((stop - k) & 1) === 1
        if (k === i && this.escaped) odd = !odd // the run began before i
        if (qi === -1) { this.escaped = odd; return }
        this.escaped = false
        if (!odd) this.inString = false
        i = qi + 1
        continue
      }
      const c = b[i] as number
      if (c === 0x22) {
        this.inString = true
        if (this.depth === 1) this.nonEmpty = true
      } else if (c === 0x7b || c === 0x5b) {
        if (this.depth === 1) this.nonEmpty = true
        this.depth++
      } else if (c === 0x7d || c === 0x5d) {
        this.depth--
      } else if (c === 0x2c && this.depth === 1) {
        this.commas++
        if (this.commas + 1 > this.max) {
          throw materiaError('stTooManyEntries', { max: this.max, because: because(this.options), count: this.commas })
        }
      }
      i++
    }
  }
}

/** Headers at least this long are parsed in a worker thread: the parse takes about 10 ms per 64 KiB on a busy 2-vCPU machine. */
export const INLINE_PARSE_BYTES = 64 * 1024
/** Tensors rebuilt per turn of the event loop from the worker's answer, and name bytes decoded per turn. */
const REBUILD_SLICE = 1024
const REBUILD_BYTES = 4 << 20
/** Bytes copied to the worker per message (one copy each; fresh memory is slow to touch on small VMs). */
const SEND_SLICE = 1 << 20
const DTYPE_CODES = Object.keys(DTYPE_BITS) as SafetensorsDtype[]

/**
 * The worker's answer: columns in transferred buffers, so that receiving it copies nothing and
 * costs no object per tensor; names are UTF-8, decoded a slice at a time on the main thread.
 */
interface ColumnarHeader {
  headerLength: number
  /** `__metadata__` as UTF-8 JSON, or null: decoded only if someone reads header.metadata */
  metadata: Uint8Array | null
  names: Uint8Array
  nameEnds: Float64Array
  dtypes: Uint8Array
  shapeLens: Uint32Array
  dims: Float64Array
  offsets: Float64Array
}

function toColumns (h: ParsedSafetensorsHeader): ColumnarHeader {
  const k = h.tensors.length
  const nameEnds = new Float64Array(k)
  const dtypes = new Uint8Array(k)
  const shapeLens = new Uint32Array(k)
  const offsets = new Float64Array(2 * k)
  let dimCount = 0
  for (const t of h.tensors) dimCount += t.shape.length
  const dims = new Float64Array(dimCount)
  let end = 0; let d = 0
  h.tensors.forEach((t, i) => {
    end += Buffer.byteLength(t.name)
    nameEnds[i] = end
    dtypes[i] = DTYPE_CODES.indexOf(t.stDtype)
    shapeLens[i] = t.shape.length
    for (const x of t.shape) dims[d++] = x
    offsets[2 * i] = t.begin
    offsets[2 * i + 1] = t.end
  })
  const names = new Uint8Array(Buffer.from(h.tensors.map((t) => t.name).join('')))
  const metadata = h.metadata !== null ? new Uint8Array(Buffer.from(JSON.stringify(h.metadata))) : null
  return { headerLength: h.headerLength, metadata, names, nameEnds, dtypes, shapeLens, dims, offsets }
}

const utf8 = new TextDecoder()

async function fromColumns (c: ColumnarHeader): Promise<ParsedSafetensorsHeader> {
  const dataOffset = 8 + c.headerLength
  const tensors: ParsedTensor[] = []
  let start = 0; let d = 0; let decoded = 0
  for (let i = 0; i < c.nameEnds.length; i++) {
    const end = c.nameEnds[i] as number
    if (i % REBUILD_SLICE === REBUILD_SLICE - 1 || decoded > REBUILD_BYTES) { await yieldToLoop(); decoded = 0 }
    decoded += end - start
    const stDtype = DTYPE_CODES[c.dtypes[i] as number] as SafetensorsDtype
    const shape = Array.from(c.dims.subarray(d, d + (c.shapeLens[i] as number)))
    d += shape.length
    const begin = c.offsets[2 * i] as number
    const stop = c.offsets[2 * i + 1] as number
    tensors.push(Object.freeze({ name: utf8.decode(c.names.subarray(start, end)), stDtype, dtype: SAFETENSORS_TO_MATERIA[stDtype] ?? null, shape, begin, end: stop, nbytes: stop - begin, fileOffset: dataOffset + begin }))
    start = end
  }
  const dataSize = tensors.length > 0 ? (tensors[tensors.length - 1] as ParsedTensor).end : 0
  const header = { headerLength: c.headerLength, dataOffset, dataSize, totalSize: dataOffset + dataSize, tensors } as Omit<ParsedSafetensorsHeader, 'metadata'>
  let metadata: Record<string, string> | null | undefined
  // decoded when read (the checkpoint path never reads it): a 99 MB metadata value costs nothing until then
  Object.defineProperty(header, 'metadata', {
    enumerable: true,
    get: () => {
      metadata ??= c.metadata === null ? null : Object.assign(Object.create(null) as Record<string, string>, JSON.parse(utf8.decode(c.metadata)) as Record<string, string>)
      return metadata
    }
  })
  return header as ParsedSafetensorsHeader
}

type WorkerAnswer = { ok: ColumnarHeader } | { error: string, code: string }

let pool: Piscina | undefined
/**
 * One thread at most, started on the first long header and ended when idle: piscina loads this
 * module in it (under tsx too, which a bare Worker on a .ts file does not do on Node 20).
 */
function headerPool (): Piscina {
  pool ??= new Piscina({ filename: import.meta.url, minThreads: 0, maxThreads: 1, idleTimeout: 2000, atomics: 'disabled' })
  return pool
}

/**
 * A header parsed in the worker thread while it streams in: its bytes are posted as they arrive
 * (never joined on the main thread), and the answer comes back on the same port.
 */
class OffThreadParse {
  private readonly port: MessagePort
  private readonly answer: Promise<WorkerAnswer>
  private sent = 0

  constructor (readonly length: number, options: ReadOptions) {
    const { port1, port2 } = new MessageChannel()
    this.port = port1
    const { fileSize: _fileSize, ...rest } = options
    this.answer = new Promise<WorkerAnswer>((resolve, reject) => {
      port1.once('message', resolve)
      port1.once('close', () => { reject(new Error('the header parse was abandoned')) })
    })
    this.answer.catch(() => {}) // abandoned parses are nobody's error
    void headerPool().run({ port: port2, length, options: rest }, { name: 'parseHeaderTask', transferList: [port2] }).catch(() => {})
  }

  /** Posts the header bytes of `bytes`, copied a slice at a time with a turn of the loop between slices. */
  async send (bytes: Uint8Array): Promise<void> {
    const n = Math.min(bytes.length, this.length - this.sent)
    for (let i = 0; i < n; i += SEND_SLICE) {
      if (i > 0) await yieldToLoop()
      // a copy of our own to transfer (Buffer#slice would share, and transferring would detach the caller's memory)
      const slice = new Uint8Array(bytes.subarray(i, Math.min(n, i + SEND_SLICE)))
      this.port.postMessage(slice, [slice.buffer])
    }
    this.sent += n
  }

  async result (options: ReadOptions): Promise<ParsedSafetensorsHeader> {
    const answer = await this.answer
    this.port.close()
    if ('error' in answer) {
      // the worker built the message from the registry: raised again as it is
      if (answer.code === errorDefs.checkpointInvalid.code) throw materiaError('checkpointFailed', { message: answer.error })
      throw new Error(answer.error)
    }
    const header = await fromColumns(answer.ok)
    if (options.fileSize !== undefined) checkFileSize(header, options.fileSize)
    return header
  }

  close (): void { this.port.close() }
}

/**
 * parseSafetensorsHeader without blocking the event loop: a header of INLINE_PARSE_BYTES or more
 * is parsed in a worker thread and its tensors rebuilt a slice at a time. Same result (metadata
 * decoded when read) and the same errors as the synchronous parse.
 */
export async function parseSafetensorsHeaderAsync (bytes: Uint8Array, options: ReadOptions = {}): Promise<ParsedSafetensorsHeader> {
  const n = readHeaderLength(bytes, options)
  if (n < INLINE_PARSE_BYTES || bytes.length < 8 + n) return parseSafetensorsHeader(bytes, options)
  const remote = new OffThreadParse(8 + n, options)
  try {
    await remote.send(bytes)
    return await remote.result(options)
  } finally {
    remote.close()
  }
}

/** The worker side: gathers `length` bytes from the port, parses, answers on the port (errors as values, with their code). */
export async function parseHeaderTask (task: { port: MessagePort, length: number, options: ReadOptions }): Promise<void> {
  const { port, length } = task
  const buf = new Uint8Array(length)
  let got = 0
  const complete = await new Promise<boolean>((resolve) => {
    port.on('message', (chunk: Uint8Array) => {
      buf.set(chunk.subarray(0, length - got), got)
      got += Math.min(chunk.length, length - got)
      if (got === length) resolve(true)
    })
    port.once('close', () => { resolve(false) })
  })
  if (!complete) return
  let answer: WorkerAnswer
  try {
    answer = { ok: toColumns(parseSafetensorsHeader(buf, task.options)) }
  } catch (err) {
    answer = { error: (err as Error).message, code: err instanceof MateriaError ? err.code : '' }
  }
  const transfer = 'ok' in answer ? [answer.ok.names, answer.ok.nameEnds, answer.ok.dtypes, answer.ok.shapeLens, answer.ok.dims, answer.ok.offsets, answer.ok.metadata].filter((a) => a !== null).map((a) => a.buffer as ArrayBuffer) : []
  port.postMessage(answer, transfer)
  port.close()
}

/**
 * Incremental header reader for a chunked upload: push() chunks until it returns the parsed header;
 * `rest` then holds the bytes of the pushed chunks that follow the header (the start of the data
 * buffer). Bytes pushed after the header is complete are not retained. Call end() when the body is
 * finished before the header was complete: it throws the appropriate 400.
 */
export class SafetensorsHeaderReader {
  private chunks: Uint8Array[] = []
  private size = 0
  private need = 8
  private result: ParsedSafetensorsHeader | null = null
  private readonly counter: HeaderEntryCounter | undefined
  private remote: OffThreadParse | undefined
  /** header bytes (file offsets 8 … need) already given to the counter */
  private counted = 8
  /** Data bytes received together with the header. */
  rest: Uint8Array = new Uint8Array(0)

  constructor (private readonly options: ReadOptions = {}) {
    if (options.maxEntries !== undefined) this.counter = new HeaderEntryCounter(options.maxEntries, options)
  }

  get header (): ParsedSafetensorsHeader | null { return this.result }

  push (chunk: Uint8Array): ParsedSafetensorsHeader | null {
    if (this.result !== null) return this.result
    const buf = this.collect(chunk)
    if (buf === null) return null
    this.result = parseSafetensorsHeader(buf.subarray(0, this.need), { ...this.options, fileSize: undefined })
    if (this.options.fileSize !== undefined) checkFileSize(this.result, this.options.fileSize)
    this.rest = buf.subarray(this.need)
    return this.result
  }

  /**
   * push(), with a header of INLINE_PARSE_BYTES or more streamed to a worker thread as it arrives
   * and parsed there: the main thread never joins or parses it. Call close() when giving up early.
   */
  async pushAsync (chunk: Uint8Array): Promise<ParsedSafetensorsHeader | null> {
    if (this.result !== null) return this.result
    try {
      if (this.remote === undefined) {
        const buf = this.collect(chunk)
        if (this.need - 8 < INLINE_PARSE_BYTES || this.need === 8) {
          if (buf === null) return null
          this.result = parseSafetensorsHeader(buf.subarray(0, this.need), { ...this.options, fileSize: undefined })
          if (this.options.fileSize !== undefined) checkFileSize(this.result, this.options.fileSize)
          this.rest = buf.subarray(this.need)
          return this.result
        }
        // a long header: what came so far goes to the worker, and so will the rest as it arrives
        const sofar = buf ?? this.joined()
        this.chunks = []
        this.remote = new OffThreadParse(this.need, this.options)
        await this.remote.send(sofar)
        if (this.size < this.need) return null
        this.rest = sofar.subarray(this.need)
      } else {
        const from = this.size
        this.size += chunk.length
        this.count(chunk, from)
        await this.remote.send(chunk)
        if (this.size < this.need) return null
        this.rest = chunk.subarray(this.need - from)
      }
      this.result = await this.remote.result(this.options)
      return this.result
    } catch (err) {
      this.close()
      throw err
    }
  }

  /** Ends a parse under way in the worker thread (the upload failed or was refused first). */
  close (): void { this.remote?.close() }

  /** Keeps the chunk; the whole file prefix once the header is complete, else null. Counts entries as they arrive. */
  private collect (chunk: Uint8Array): Uint8Array | null {
    const from = this.size
    this.chunks.push(chunk)
    this.size += chunk.length
    if (this.need === 8) {
      if (this.size < 8) return null
      this.need = 8 + readHeaderLength(this.joined(), this.options)
      this.count(this.joined(), 0)
    } else {
      this.count(chunk, from)
    }
    if (this.size < this.need) return null
    // concatenates at most twice: once for the length field, once for the whole header
    const buf = this.joined()
    this.chunks = []
    return buf
  }

  /** Feeds the header bytes of `bytes` (which start at file offset `at`) to the entry counter. */
  private count (bytes: Uint8Array, at: number): void {
    if (this.counter === undefined) return
    const end = Math.min(this.need, at + bytes.length)
    if (end <= this.counted) return
    this.counter.push(bytes.subarray(this.counted - at, end - at))
    this.counted = end
  }

  private joined (): Uint8Array {
    const only = this.chunks.length === 1 ? this.chunks[0] : undefined
    const buf = only ?? Buffer.concat(this.chunks, this.size)
    this.chunks = [buf]
    return buf
  }

  /** Signal the end of the body; throws if the header never completed. */
  end (): ParsedSafetensorsHeader {
    if (this.result !== null) return this.result
    if (this.remote !== undefined) {
      this.close()
      throw materiaError('stHeaderBeyondData', { length: this.need - 8, size: this.size, most: Math.max(0, this.size - 8) })
    }
    const buf = this.joined()
    // reproduces the precise error (too short / header beyond body)
    return parseSafetensorsHeader(buf, { ...this.options, fileSize: this.size })
  }
}
