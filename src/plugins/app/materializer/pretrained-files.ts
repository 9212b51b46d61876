// A materialization of a transformers model as the directory `model.save_pretrained(dir)` writes
// (transformers 5.18, docs/hub.md): config.json, generation_config.json when the model can generate,
// and model.safetensors, or model-0000k-of-0000n.safetensors shards with model.safetensors.index.json,
// split at max_shard_size (default "50GB"). The tied aliases are left out of every file, as
// remove_tied_weights_from_state_dict leaves them out; from_pretrained ties them again.
import { createHash } from 'node:crypto'
import { materiaError } from '../../../errors.js'
import type { Segment } from '../../../http/byte-response.js'
import type { Materialization } from '../../../materialize/registry.js'
import type { ModuleNode } from '../../../nn/index.js'
import { configJson, generationConfigJson, pretrainedModel, savedTensors } from '../../../nn/transformers/save-pretrained.js'
import { DTYPES, type DType } from '../../../tensor/dtype.js'
import { INDEX_FILE_NAME, planShards, TRANSFORMERS_MAX_SHARD_SIZE } from '../../../serialize/sharding.js'
import { MATERIA_TO_SAFETENSORS } from '../../../serialize/dtypes.js'
import { fileSegments } from './shard-files.js'

export interface PretrainedFile {
  readonly name: string
  readonly size: number
  readonly contentType: string
  /** the bytes: a JSON file's text, or a safetensors file's header and tensor bytes */
  readonly segments: readonly Segment[]
  /** git's blob id of a JSON file (sha1 of "blob <size>\0" + bytes); undefined for a weights file, which is not hashed */
  readonly blobId?: string
}

export interface PretrainedFiles {
  readonly files: readonly PretrainedFile[]
  /** parameters per safetensors dtype of the written tensors (the Hub's `safetensors.parameters`) */
  readonly parameters: Readonly<Record<string, number>>
  readonly total: number
  /** config.json's model_type and architectures */
  readonly modelType: string
  readonly architectures: readonly string[]
}

const JSON_TYPE = 'application/json; charset=utf-8'

function gitBlobId (bytes: Buffer): string {
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex')
}

function jsonFile (name: string, text: string): PretrainedFile {
  const bytes = Buffer.from(text, 'utf8')
  return { name, size: bytes.length, contentType: JSON_TYPE, segments: [{ buffer: bytes }], blobId: gitBlobId(bytes) }
}

/** PreTrainedModel.dtype: the dtype of its first floating parameter. */
function modelDtype (m: Materialization): DType {
  const t = m.plan.tensors.find((x) => x.kind === 'parameter' && DTYPES[x.dtype].floating)
  return t?.dtype ?? 'float32'
}

/** The files save_pretrained writes for the materialization `m` of the module `root`, at shards of at most `maxShardBytes`. */
export function pretrainedFiles (m: Materialization, root: ModuleNode, maxShardBytes = TRANSFORMERS_MAX_SHARD_SIZE): PretrainedFiles {
  const model = pretrainedModel(root)
  const dtype = modelDtype(m)
  const files: PretrainedFile[] = [jsonFile('config.json', configJson(model, dtype))]
  const generation = generationConfigJson(model, dtype)
  if (generation !== undefined) files.push(jsonFile('generation_config.json', generation))

  const written = m.plan.tensors.filter((t) => t.persistent && t.tiedTo === undefined)
  const parameters: Record<string, number> = {}
  let numParameters = 0
  for (const t of written) {
    const st = MATERIA_TO_SAFETENSORS[t.dtype]
    parameters[st] = (parameters[st] ?? 0) + t.numel
    if (t.kind === 'parameter') numParameters += t.numel
  }
  const saved = savedTensors(model, written)
  const bytesOf = new Map(saved.map((t) => [t.name, { offset: (m.plan.byName.get(t.source)?.offset ?? 0) + t.byteOffset }]))
  // views of one storage, which huggingface_hub's split keeps in one shard
  const storageBytes = new Map<string, number>()
  for (const t of saved) if (t.storage !== undefined) storageBytes.set(t.storage, (storageBytes.get(t.storage) ?? 0) + t.nbytes)
  const storageOf = new Map(saved.flatMap((t) => t.storage !== undefined ? [[t.name, { id: t.storage, nbytes: storageBytes.get(t.storage) as number }] as const] : []))
  const plan = planShards(saved.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, nbytes: t.nbytes })),
    { maxShardSize: maxShardBytes, totalParameters: numParameters, storageOf })
  for (const shard of plan.shards) {
    files.push({ name: shard.file, size: shard.layout.totalSize, contentType: 'application/octet-stream', segments: fileSegments(m, shard.layout, (name) => bytesOf.get(name)) })
  }
  // transformers writes an index only for more than one shard
  if (plan.sharded) files.push(jsonFile(INDEX_FILE_NAME, plan.indexJson))
  return {
    files,
    parameters,
    total: Object.values(parameters).reduce((a, b) => a + b, 0),
    modelType: model.config.def.modelType,
    architectures: [model.className]
  }
}

/** The file `name` of `files`, or a 404 naming the files there are. */
export function pretrainedFile (files: PretrainedFiles, name: string): PretrainedFile {
  const f = files.files.find((x) => x.name === name)
  if (f === undefined) throw materiaError('pretrainedFileNotFound', { file: name, files: files.files.map((x) => x.name).join(', ') })
  return f
}
