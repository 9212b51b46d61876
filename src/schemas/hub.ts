// Schemas of the save_pretrained files of a materialization and of the /hub model repositories
// (docs/hub.md): the shapes huggingface_hub reads (hf_api.py ModelInfo, RepoFile).
import { Type } from '@sinclair/typebox'
import { byteResponses, MaterializationId } from './materializations.js'
import { SessionId } from './sessions.js'

export const PretrainedFileInfo = Type.Object({
  name: Type.String({ description: 'File name, as save_pretrained names it.' }),
  size: Type.Integer({ description: 'Bytes.' }),
  href: Type.String({ description: 'Where to GET it (with the same maxShardBytes).' })
}, { $id: 'PretrainedFileInfo', title: 'PretrainedFileInfo', description: 'One file of the save_pretrained directory.', additionalProperties: false })

export const PretrainedListing = Type.Object({
  files: Type.Array(Type.Ref(PretrainedFileInfo), { description: 'config.json, generation_config.json when the model can generate, then the weights files and the index when there are shards.' })
}, {
  $id: 'PretrainedListing',
  title: 'PretrainedListing',
  description: 'The directory model.save_pretrained(dir, max_shard_size=maxShardBytes) writes (transformers 5.18).',
  examples: [{ files: [{ name: 'config.json', size: 712, href: '/v1/sessions/ses_1/materializations/mat_1/pretrained/config.json' }] }]
})

export const PretrainedQuery = Type.Object({
  maxShardBytes: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'save_pretrained(max_shard_size=…) in bytes; default 50000000000 ("50GB", transformers 5\'s default).' }))
})

export const PretrainedFileParams = Type.Object({
  sessionId: SessionId,
  materializationId: MaterializationId,
  file: Type.String({ maxLength: 100, description: 'A file name from the listing.' })
})

const HubSibling = Type.Object({
  rfilename: Type.String({ description: 'File name in the repository.' }),
  size: Type.Integer({ description: 'Bytes.' })
}, { additionalProperties: false })

export const HubModelInfo = Type.Object({
  id: Type.String({ description: 'The repository id, `SESSION_ID/MATERIALIZATION_ID`.' }),
  modelId: Type.String({ description: 'Same as id.' }),
  sha: Type.String({ description: 'The commit of the one revision, 40 hex digits; it changes only with the bytes.' }),
  private: Type.Boolean({ description: 'Always true: a repository is its tenant\'s.' }),
  createdAt: Type.String({ format: 'date-time', description: 'When the materialization was made.' }),
  lastModified: Type.String({ format: 'date-time', description: 'Same as createdAt: the files never change.' }),
  library_name: Type.Literal('transformers'),
  pipeline_tag: Type.Optional(Type.String({ description: '`text-generation` for a model that can generate.' })),
  tags: Type.Array(Type.String()),
  config: Type.Object({ architectures: Type.Array(Type.String()), model_type: Type.String() }, { description: 'From config.json.' }),
  siblings: Type.Array(HubSibling, { description: 'The files, as save_pretrained writes them at its default max_shard_size.' }),
  safetensors: Type.Object({
    parameters: Type.Record(Type.String(), Type.Integer(), { description: 'Elements per safetensors dtype (F32, BF16 …) in the weights files.' }),
    total: Type.Integer({ description: 'Their sum.' })
  })
}, {
  $id: 'HubModelInfo',
  title: 'HubModelInfo',
  description: 'The model info the Hugging Face Hub API answers (huggingface_hub HfApi.model_info reads it as ModelInfo).'
})

export const HubTreeEntry = Type.Object({
  type: Type.Literal('file'),
  path: Type.String(),
  size: Type.Integer(),
  oid: Type.String({ description: 'git blob id of a JSON file; for a weights file, an id derived from what determines its bytes (it is not hashed).' })
}, { $id: 'HubTreeEntry', title: 'HubTreeEntry', description: 'One file of a repository tree (huggingface_hub RepoFile).', additionalProperties: false })

export const HubRepoParams = Type.Object({ sessionId: SessionId, materializationId: MaterializationId })
export const HubRevisionParams = Type.Object({ sessionId: SessionId, materializationId: MaterializationId, revision: Type.String({ maxLength: 100, description: '`main` or the commit sha.' }) })
export const HubFileParams = Type.Object({
  sessionId: SessionId,
  materializationId: MaterializationId,
  revision: Type.String({ maxLength: 100, description: '`main` or the commit sha.' }),
  file: Type.String({ maxLength: 100, description: 'A file name from the repository.' })
})
export const HubTreeQuery = Type.Object({
  recursive: Type.Optional(Type.Union([Type.Boolean(), Type.String()], { description: 'Accepted and ignored: the tree has no folders.' })),
  expand: Type.Optional(Type.Union([Type.Boolean(), Type.String()], { description: 'Accepted and ignored.' })),
  cursor: Type.Optional(Type.String({ description: 'Accepted and ignored: one page holds the tree.' }))
})

/** The success answers of a route serving one save_pretrained file: JSON or safetensors bytes. */
export const pretrainedFileResponses = {
  ...byteResponses,
  200: {
    description: 'The file: JSON text or safetensors bytes.',
    content: {
      'application/json': { schema: { type: 'string' } },
      'application/octet-stream': { schema: { type: 'string', format: 'binary' } }
    }
  }
}

export const hubSchemas = [PretrainedFileInfo, PretrainedListing, HubModelInfo, HubTreeEntry]
