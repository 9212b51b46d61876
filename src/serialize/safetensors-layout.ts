// Canonical safetensors layout: the exact bytes the reference writer (safetensors 0.8.0, Rust
// `prepare()` behind `safetensors.torch.save_file` / `safetensors.numpy.save_file`) emits for the same
// tensors, computed from names, dtypes and shapes alone, so a file can be streamed (and served with
// Range requests) without materializing it. See docs/safetensors.md §1–3.
//
// Rules implemented here:
// - write order: dtype rank descending, ties by name in ascending UTF-8 byte order (Rust `String`
//   order) — compared with Buffer.compare, never `<`/localeCompare (UTF-16 order differs for astral
//   characters vs. U+E000–U+FFFF);
// - offsets assigned cumulatively from 0, no padding between tensors;
// - header JSON built by concatenation (a JS object would put integer-like keys such as "0", "10", "2"
//   first), compact, field order dtype/shape/data_offsets, strings escaped exactly as serde_json does
//   (JSON.stringify is serde-identical for well-formed strings), padded with spaces to a multiple of 8;
// - `__metadata__` first when metadata is given (`{}` is still written; `null` omits the key). The
//   reference writer orders metadata keys randomly per process (Rust HashMap); we sort them by UTF-8
//   bytes, so byte identity with Python holds for files with at most one metadata key, e.g. the
//   default {"format":"pt"}.
// - sizes are plain numbers: exact below 2^53 (safetensors' JSON schema caps offsets at 2^48 − 1),
//   so files beyond 4 GiB are fine.
//
// Tied tensors (several names on one storage, e.g. lm_head.weight = embed_tokens.weight):
// `safetensors.torch.save_file` refuses shared tensors outright; transformers' `save_pretrained`
// deletes the duplicate names from the state dict before writing (nothing recorded, the model re-ties
// on load); `safetensors.torch.save_model` deletes them too but records `{alias: kept}` in
// `__metadata__`. We write the storage ONCE, under the tie group's name that sorts first (save_model's choice), and
// omit the aliases from the file (transformers behaviour, the default). `omitted` lists every dropped
// alias with the name it was kept as. Option `tiedAliasesInMetadata: true` additionally records them
// in `__metadata__` the way `save_model` does (existing metadata keys win, like save_model's "do not
// override user data").
import { materiaError } from '../errors.js'
import {
  DTYPE_RANK, MATERIA_TO_SAFETENSORS, isMateriaDtype, tensorByteSize,
  type SafetensorsDtype
} from './dtypes.js'
import type { DType } from '../tensor/dtype.js'

/** One tensor to write. */
export interface LayoutInput {
  readonly name: string
  readonly dtype: DType
  readonly shape: readonly number[]
  /** Byte size of the data; must equal numel × element size. */
  readonly nbytes: number
  /**
   * Name of another entry sharing this one's storage. Ties are transitive; the group is written once
   * under the name that sorts first (UTF-8 byte order), as safetensors.torch.save_model keeps it.
   */
  readonly tiedTo?: string | undefined
}

export interface LayoutOptions {
  /** `__metadata__` content; default {"format":"pt"}; `null` writes no `__metadata__` key. */
  readonly metadata?: Readonly<Record<string, string>> | null
  /** Record omitted tied aliases as `{alias: kept}` in `__metadata__` (safetensors.torch.save_model). */
  readonly tiedAliasesInMetadata?: boolean
}

export interface LayoutTensor {
  readonly name: string
  readonly dtype: DType
  readonly stDtype: SafetensorsDtype
  readonly shape: readonly number[]
  readonly nbytes: number
  /** data_offsets[0]: start relative to the data buffer. */
  readonly begin: number
  /** data_offsets[1] (exclusive). */
  readonly end: number
  /** Absolute position of the first byte in the file (= dataOffset + begin). */
  readonly fileOffset: number
}

export interface OmittedAlias {
  readonly name: string
  /** The name under which the shared storage is written. */
  readonly keptAs: string
}

export interface SafetensorsLayout {
  /** Tensors in write (= file) order. */
  readonly tensors: readonly LayoutTensor[]
  readonly byName: ReadonlyMap<string, LayoutTensor>
  /** Everything before the data buffer: u64 LE header length N, the JSON, the space padding. */
  readonly header: Buffer
  /** N: JSON + padding length, a multiple of 8. */
  readonly headerLength: number
  /** 8 + N: where the data buffer starts. */
  readonly dataOffset: number
  /** D: total tensor bytes. */
  readonly dataSize: number
  /** 8 + N + D. */
  readonly totalSize: number
  /**
   * The metadata actually written (null: no `__metadata__` key). The file has its keys in ascending
   * UTF-8 order; this object is null-prototype and, being an object, lists integer-like keys first.
   */
  readonly metadata: Readonly<Record<string, string>> | null
  /** Tied aliases left out of the file, in input order. */
  readonly omitted: readonly OmittedAlias[]
}

export const DEFAULT_METADATA: Readonly<Record<string, string>> = Object.freeze({ format: 'pt' })

const LONE_SURROGATE = /[\uD800-\uDFFF]/u

/** Ascending UTF-8 byte order (= Unicode code point order = Rust `String` order). */
export function compareUtf8 (a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

/** A JSON string literal escaped exactly as serde_json writes it. The string must be well-formed. */
export function serdeJsonString (s: string): string {
  // JSON.stringify escapes `"`, `\`, \b \f \n \r \t, other U+0000–U+001F as \u00xx (lowercase), and
  // leaves everything else raw — the same as serde_json for strings without lone surrogates.
  return JSON.stringify(s)
}

export function isWellFormed (s: string): boolean {
  return !LONE_SURROGATE.test(s)
}

function checkShape (name: string, shape: readonly number[]): void {
  if (!Array.isArray(shape)) throw materiaError('layoutShapeNotArray', { name: JSON.stringify(name) })
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw materiaError('layoutShapeNegative', { name: JSON.stringify(name), shape: shape.join(', ') })
    }
  }
}

interface Resolved { input: LayoutInput, index: number, keep: boolean, root: number }

/** Union-find over `tiedTo`; every group is represented by its first member in input order. */
function resolveTies (entries: readonly LayoutInput[], indexByName: Map<string, number>): number[] {
  const parent = entries.map((_, i) => i)
  const find = (i: number): number => {
    let r = i
    while (parent[r] !== r) r = parent[r]!
    while (parent[i] !== r) { const next = parent[i]!; parent[i] = r; i = next }
    return r
  }
  entries.forEach((e, i) => {
    if (e.tiedTo === undefined) return
    const j = indexByName.get(e.tiedTo)
    if (j === undefined) throw materiaError('layoutTieUnknown', { name: JSON.stringify(e.name), target: JSON.stringify(e.tiedTo) })
    const other = entries[j]!
    if (other.dtype !== e.dtype || other.shape.length !== e.shape.length ||
        other.shape.some((d, k) => d !== e.shape[k])) {
      throw materiaError('layoutTieMismatch', {
        name: JSON.stringify(e.name), dtype: e.dtype, shape: e.shape.join(', '), target: JSON.stringify(e.tiedTo), targetDtype: other.dtype, targetShape: other.shape.join(', ')
      })
    }
    const a = find(i)
    const b = find(j)
    if (a !== b) parent[b] = a
  })
  // like safetensors.torch.save_model (_remove_duplicate_names): the name that sorts first is kept
  const keep = new Map<number, number>()
  entries.forEach((e, i) => {
    const r = find(i)
    const k = keep.get(r)
    if (k === undefined || compareUtf8(e.name, entries[k]!.name) < 0) keep.set(r, i)
  })
  return entries.map((_, i) => keep.get(find(i))!)
}

/**
 * Compute the canonical safetensors layout for `entries` (in state-dict order).
 * Throws MATERIA_ERR_CHECKPOINT_UNSERIALIZABLE (400) for duplicate names, the reserved name
 * `__metadata__`, names or metadata that are not well-formed Unicode, unknown dtypes, bad shapes,
 * `nbytes ≠ numel × element size`, bad ties, or non-string metadata values.
 */
export function computeSafetensorsLayout (
  entries: readonly LayoutInput[],
  options: LayoutOptions = {}
): SafetensorsLayout {
  const indexByName = new Map<string, number>()
  entries.forEach((e, i) => {
    if (typeof e.name !== 'string') throw materiaError('layoutNameNotString', { index: i })
    if (e.name === '__metadata__') throw materiaError('layoutReservedName', {})
    if (!isWellFormed(e.name)) throw materiaError('layoutNameUnicode', { name: JSON.stringify(e.name) })
    if (indexByName.has(e.name)) throw materiaError('layoutDuplicateName', { name: JSON.stringify(e.name) })
    indexByName.set(e.name, i)
    if (!isMateriaDtype(e.dtype)) throw materiaError('layoutDtype', { name: JSON.stringify(e.name), dtype: JSON.stringify(e.dtype) })
    checkShape(e.name, e.shape)
    const expected = tensorByteSize(MATERIA_TO_SAFETENSORS[e.dtype], e.shape)
    if (expected === null) throw materiaError('layoutShapeTooLarge', { name: JSON.stringify(e.name), shape: e.shape.join(', ') })
    if (e.nbytes !== expected) {
      throw materiaError('layoutNbytes', { name: JSON.stringify(e.name), nbytes: e.nbytes, dtype: e.dtype, shape: e.shape.join(', '), expected })
    }
  })

  const roots = resolveTies(entries, indexByName)
  const resolved: Resolved[] = entries.map((input, index) => ({ input, index, keep: roots[index] === index, root: roots[index]! }))
  const omitted: OmittedAlias[] = resolved
    .filter(r => !r.keep)
    .map(r => ({ name: r.input.name, keptAs: entries[r.root]!.name }))

  // metadata: keys written in ascending UTF-8 byte order (kept as an ordered list: a JS object would
  // move integer-like keys first)
  let metaPairs: Array<[string, string]> | null = null
  const given = options.metadata === undefined ? DEFAULT_METADATA : options.metadata
  const aliasesInMeta = options.tiedAliasesInMetadata === true && omitted.length > 0
  if (given !== null || aliasesInMeta) {
    const merged = new Map<string, string>()
    if (aliasesInMeta) for (const o of omitted) merged.set(o.name, o.keptAs)
    for (const [k, v] of Object.entries(given ?? {})) merged.set(k, v) // given keys win
    for (const [k, v] of merged) {
      if (typeof v !== 'string') throw materiaError('layoutMetadataValue', { key: JSON.stringify(k), type: v === null ? 'null' : typeof v })
      if (!isWellFormed(k) || !isWellFormed(v)) throw materiaError('layoutMetadataUnicode', { key: JSON.stringify(k) })
    }
    metaPairs = [...merged]
      .map(([k, v]) => ({ k, v, b: Buffer.from(k, 'utf8') }))
      .sort((x, y) => Buffer.compare(x.b, y.b))
      .map(({ k, v }): [string, string] => [k, v])
  }
  let metadata: Record<string, string> | null = null
  if (metaPairs !== null) {
    metadata = Object.create(null) as Record<string, string>
    for (const [k, v] of metaPairs) metadata[k] = v
  }

  // write order
  const kept = resolved.filter(r => r.keep).map(r => ({
    e: r.input,
    st: MATERIA_TO_SAFETENSORS[r.input.dtype],
    key: Buffer.from(r.input.name, 'utf8')
  }))
  kept.sort((a, b) => (DTYPE_RANK[b.st] - DTYPE_RANK[a.st]) || Buffer.compare(a.key, b.key))

  // header JSON by concatenation
  const parts: string[] = []
  if (metaPairs !== null) {
    const m = metaPairs.map(([k, v]) => `${serdeJsonString(k)}:${serdeJsonString(v)}`)
    parts.push(`"__metadata__":{${m.join(',')}}`)
  }
  let offset = 0
  const placed: Array<{ e: LayoutInput, st: SafetensorsDtype, begin: number, end: number }> = []
  for (const { e, st } of kept) {
    const begin = offset
    const end = begin + e.nbytes
    if (!Number.isSafeInteger(end)) throw materiaError('layoutDataTooLarge', {})
    offset = end
    placed.push({ e, st, begin, end })
    parts.push(`${serdeJsonString(e.name)}:{"dtype":"${st}","shape":[${e.shape.join(',')}],"data_offsets":[${begin},${end}]}`)
  }
  const json = Buffer.from(`{${parts.join(',')}}`, 'utf8')
  const headerLength = Math.ceil(json.length / 8) * 8
  const header = Buffer.alloc(8 + headerLength, 0x20)
  header.writeBigUInt64LE(BigInt(headerLength), 0)
  json.copy(header, 8)
  const dataOffset = 8 + headerLength
  const dataSize = offset
  const totalSize = dataOffset + dataSize
  if (!Number.isSafeInteger(totalSize)) throw materiaError('layoutFileTooLarge', {})

  const tensors: LayoutTensor[] = placed.map(({ e, st, begin, end }) => Object.freeze({
    name: e.name,
    dtype: e.dtype,
    stDtype: st,
    shape: [...e.shape],
    nbytes: e.nbytes,
    begin,
    end,
    fileOffset: dataOffset + begin
  }))
  return {
    tensors,
    byName: new Map(tensors.map(t => [t.name, t])),
    header,
    headerLength,
    dataOffset,
    dataSize,
    totalSize,
    metadata,
    omitted
  }
}
