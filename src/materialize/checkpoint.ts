// Loading a safetensors checkpoint into an arena, streamed: the header is read and checked against
// the module like load_state_dict(strict=...) before any memory is reserved, then each chunk of
// the body is copied straight to its tensor's place in the arena (no second buffer of the file).
import type { Readable } from 'node:stream'
import { materiaError } from '../errors.js'
import { DTYPES, type FloatDType } from '../tensor/dtype.js'
import { MAX_HEADER_LENGTH, SafetensorsHeaderReader, type ParsedSafetensorsHeader } from '../serialize/safetensors-reader.js'
import type { ArenaPlan } from './plan.js'
import { castBytes, itemSize } from '../init/storage.js'
import { sourceBytes, type CopySpan } from './fill.js'

/** Keys named in one list of a message; PyTorch names them all, which for a hostile file is megabytes. */
export const LISTED_KEYS = 20
/** Longest error message (characters); the figures stay in it. */
export const MAX_MESSAGE_LENGTH = 4096
/** Longest key shown in a message. */
const MAX_SHOWN_KEY = 200

const shown = (n: string): string => `"${n.length > MAX_SHOWN_KEY ? `${n.slice(0, MAX_SHOWN_KEY)}…` : n}"`
/** The first LISTED_KEYS keys, then "… and N more" */
const list = (names: string[]): string => names.slice(0, LISTED_KEYS).map(shown).join(', ') +
  (names.length > LISTED_KEYS ? `, … and ${names.length - LISTED_KEYS} more` : '')

/** Caps a message at MAX_MESSAGE_LENGTH characters, saying how much was cut. */
export function capMessage (message: string): string {
  if (message.length <= MAX_MESSAGE_LENGTH) return message
  const tail = ` … (${message.length - MAX_MESSAGE_LENGTH} more characters)`
  return message.slice(0, MAX_MESSAGE_LENGTH - tail.length) + tail
}

/**
 * What a checkpoint header may hold for a module of `tensors` state_dict names: at most
 * 2 × tensors + 1000 top-level entries (every name, `__metadata__`, and for strict=false as many
 * unexpected keys again plus 1000), each at most 64 KiB of name and 256 bytes of fields, within
 * the format's 100 MB. A larger header is refused from its length alone, one with more entries
 * as soon as the count passes the bound while it streams in: before it is parsed or read in full.
 */
export function checkpointHeaderLimits (tensors: number): { maxEntries: number, maxHeaderLength: number, limitReason: string } {
  const maxEntries = 2 * tensors + 1000
  const maxHeaderLength = Math.min(MAX_HEADER_LENGTH, maxEntries * (64 * 1024 + 256))
  return { maxEntries, maxHeaderLength, limitReason: `the module has ${tensors} tensors, so a checkpoint for it has at most 2 × ${tensors} + 1000 = ${maxEntries} entries of at most 64 KiB + 256 bytes each, and a header of at most ${maxHeaderLength} bytes` }
}

/** What load_state_dict returns (_IncompatibleKeys), plus the tensors no file byte lands in. */
export interface CheckpointKeys {
  missingKeys: string[]
  unexpectedKeys: string[]
  /** names of the tensors whose storage the file does not provide (missing keys and non-persistent buffers) */
  unloaded: Set<string>
}

/**
 * load_state_dict's checks, with PyTorch's wording for each list: missing and unexpected keys fail
 * only when `strict`; size (and dtype) mismatches always fail, as they do in PyTorch.
 */
export function checkCheckpoint (header: ParsedSafetensorsHeader, plan: ArenaPlan, qualname: string, strict = true): CheckpointKeys {
  const inFile = new Map(header.tensors.map((t) => [t.name, t]))
  // any member of a tie group may be left out of a file (save_model keeps one name) when another is present
  const storageIn = new Set(plan.tensors.filter((t) => t.persistent && inFile.has(t.name)).map((t) => t.offset))
  const expected = plan.tensors.filter((t) => t.persistent)
  const tieTargets = new Set(plan.tensors.map((o) => o.tiedTo).filter((n) => n !== undefined))
  const tied = (t: { name: string, tiedTo?: string }): boolean => t.tiedTo !== undefined || tieTargets.has(t.name)
  const missing = expected.filter((t) => !inFile.has(t.name) && !(tied(t) && storageIn.has(t.offset))).map((t) => t.name)
  const known = new Set(expected.map((t) => t.name))
  const unexpected = header.tensors.filter((t) => !known.has(t.name)).map((t) => t.name)
  const problems: string[] = []
  if (strict && missing.length > 0) problems.push(`Missing key(s) in state_dict: ${list(missing)}. `)
  if (strict && unexpected.length > 0) problems.push(`Unexpected key(s) in state_dict: ${list(unexpected)}. `)
  for (const t of expected) {
    const f = inFile.get(t.name)
    if (f === undefined) continue
    if (f.shape.length !== t.shape.length || f.shape.some((d, i) => d !== t.shape[i])) {
      problems.push(`size mismatch for ${t.name}: copying a param with shape torch.Size([${f.shape.join(', ')}]) from checkpoint, the shape in current model is torch.Size([${t.shape.join(', ')}]).`)
    } else if (f.dtype !== t.dtype && !(f.dtype !== null && DTYPES[f.dtype].floating && DTYPES[t.dtype].floating)) {
      // floating tensors are cast on the way in, as param.copy_() does; other kinds must match
      problems.push(`dtype mismatch for ${t.name}: the checkpoint has ${f.dtype ?? f.stDtype}, the module has ${t.dtype} (only floating tensors are cast on load).`)
    }
  }
  if (problems.length > 0) {
    // as PyTorch words it, but at most LISTED_KEYS keys per list and MAX_MESSAGE_LENGTH characters in all
    const more = problems.length > LISTED_KEYS + 2 ? [`… and ${problems.length - LISTED_KEYS - 2} more problems`] : []
    const text = [...problems.slice(0, LISTED_KEYS + 2), ...more].join('\n\t')
    throw materiaError('checkpointMismatch', { message: capMessage(`Error(s) in loading state_dict for ${qualname.replace(/^torch\.nn\./, '')}:\n\t${text}`) })
  }
  const unloaded = new Set(plan.tensors.filter((t) => !t.persistent || !storageIn.has(t.offset)).map((t) => t.name))
  return { missingKeys: missing, unexpectedKeys: unexpected, unloaded }
}

/**
 * Reads chunks until the header is complete; returns it and the data bytes that came with it. With
 * the module's tensor count the header is held to checkpointHeaderLimits as it arrives; a long
 * header is parsed off the event loop.
 */
export async function readCheckpointHeader (body: AsyncIterator<Uint8Array>, fileSize: number | undefined, tensors?: number): Promise<{ header: ParsedSafetensorsHeader, rest: Uint8Array }> {
  const reader = new SafetensorsHeaderReader({ fileSize, ...(tensors !== undefined ? checkpointHeaderLimits(tensors) : {}) })
  try {
    for (;;) {
      const { value, done } = await body.next()
      if (done === true) return { header: reader.end(), rest: new Uint8Array(0) }
      const header = await reader.pushAsync(value)
      if (header !== null) return { header, rest: reader.rest }
    }
  } finally {
    reader.close() // a body that failed (timeout, reset) also ends a parse under way in the worker
  }
}

/** The fill's copies for a checked checkpoint: each file tensor the module keeps, to its storage (unexpected keys are skipped). */
export function checkpointCopies (header: ParsedSafetensorsHeader, plan: ArenaPlan): CopySpan[] {
  const out: CopySpan[] = []
  for (const t of [...header.tensors].sort((x, y) => x.begin - y.begin)) {
    const target = plan.byName.get(t.name)
    // unexpected keys (strict=false) are skipped, also one named like a non-persistent buffer
    if (target?.persistent !== true || t.dtype === null) continue
    out.push({ offset: target.offset, nbytes: target.nbytes, dtype: target.dtype, begin: t.begin, srcDtype: t.dtype })
  }
  return out
}

/** A checkpoint's data section as it streams in: the bytes that came with the header, then the rest of the body. */
export interface StreamedSource {
  first: Uint8Array
  body: AsyncIterator<Uint8Array>
  /** the data section's length, from the header */
  size: number
}

/**
 * Copies the data section, as it streams in, to the copies' places in the arena. The reader has
 * checked that the data is contiguous from 0 and that the tensors tile it.
 */
export async function copyStreamed (copies: readonly CopySpan[], source: StreamedSource, memory: ArrayBufferLike,
  signal: AbortSignal, progress: (bytes: number) => void): Promise<void> {
  let ci = 0
  let pos = 0 // position in the data section
  const cast = new ElementCast()
  const write = (chunk: Uint8Array): void => {
    if (pos + chunk.length > source.size) {
      throw materiaError('checkpointExtraData', { extra: pos + chunk.length - Math.max(pos, source.size) })
    }
    const end = pos + chunk.length
    let written = 0
    while (ci < copies.length && (copies[ci] as CopySpan).begin + sourceBytes(copies[ci] as CopySpan) <= pos) ci++
    for (let j = ci; j < copies.length; j++) {
      const c = copies[j] as CopySpan
      if (c.begin >= end) break
      const from = Math.max(pos, c.begin)
      const to = Math.min(end, c.begin + sourceBytes(c))
      if (from >= to) continue
      const bytes = chunk.subarray(from - pos, to - pos)
      // progress counts the arena bytes written (cast: the target's element size), so it ends at the fill's total
      const scale = c.nbytes / sourceBytes(c)
      written += Math.floor((to - c.begin) * scale) - Math.floor((from - c.begin) * scale)
      if (c.dtype === c.srcDtype) new Uint8Array(memory, c.offset + (from - c.begin), bytes.length).set(bytes)
      else cast.write(c.srcDtype as FloatDType, c.dtype as FloatDType, memory, c.offset, from - c.begin, bytes)
    }
    pos = end
    progress(written)
  }
  write(source.first)
  for (;;) {
    if (signal.aborted) throw new Error('cancelled')
    const { value, done } = await source.body.next()
    if (done === true) break
    write(value)
  }
  if (pos !== source.size) {
    throw materiaError('checkpointBodyEnded', { received: pos, size: source.size })
  }
}

export function bodyIterator (stream: Readable): AsyncIterator<Uint8Array> {
  return stream[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>
}

/**
 * Casts a floating tensor while its bytes stream in (param.copy_(): float32 → float16/bfloat16 rounds
 * to nearest even, float64 goes through float32 as static_cast does). An element split across two
 * chunks waits in `carry`; tensors arrive one after another, so one carry serves them all.
 */
class ElementCast {
  private readonly carry = new Uint8Array(8)
  private carried = 0

  /** `bytes` are the source tensor's bytes from byte `at` on; the target tensor starts at byte `offset` of `memory`. */
  write (src: FloatDType, dst: FloatDType, memory: ArrayBufferLike, offset: number, at: number, bytes: Uint8Array): void {
    const es = itemSize(src)
    let b = bytes
    let from = at
    if (from % es === 0) this.carried = 0 // a new element (or tensor) starts here
    if (this.carried > 0) {
      const take = Math.min(es - this.carried, b.length)
      this.carry.set(b.subarray(0, take), this.carried)
      this.carried += take
      b = b.subarray(take)
      from += take
      if (this.carried < es) return
      this.convert(src, dst, memory, offset, (from - es) / es, this.carry.subarray(0, es))
      this.carried = 0
    }
    const whole = Math.floor(b.length / es)
    if (whole > 0) this.convert(src, dst, memory, offset, from / es, b.subarray(0, whole * es))
    if (b.length > whole * es) {
      this.carry.set(b.subarray(whole * es))
      this.carried = b.length - whole * es
    }
  }

  private convert (src: FloatDType, dst: FloatDType, memory: ArrayBufferLike, offset: number, index: number, bytes: Uint8Array): void {
    const out = castBytes(src, dst, bytes)
    new Uint8Array(memory, offset + index * itemSize(dst), out.length).set(out)
  }
}
