// A materialization as a Hugging Face model repository (docs/hub.md): one revision, `main`, whose
// commit is derived from what determines the bytes, so two materializations of the same thing (any
// replica) are the same commit and huggingface_hub's cache serves either for the other.
import { createHash } from 'node:crypto'
import { materiaError } from '../../../errors.js'
import type { Materialization } from '../../../materialize/registry.js'
import type { HubModelInfo, HubTreeEntry } from '../../../schemas/hub.js'
import type { PretrainedFile, PretrainedFiles } from './pretrained-files.js'

/** The commit sha of the repository of `m`: 40 hex digits, as huggingface_hub's REGEX_COMMIT_HASH takes. */
export function hubCommit (m: Materialization): string {
  return createHash('sha1').update(`materia hub commit\0${m.identity ?? m.id}`).digest('hex')
}

/** Refuses any revision but `main` and the commit itself. */
export function requireRevision (m: Materialization, revision: string): string {
  const sha = hubCommit(m)
  if (revision !== 'main' && revision !== sha) throw materiaError('hubRevisionNotFound', { revision, sha })
  return sha
}

/** The blob id a tree entry gives a file: git's for JSON, else one derived from the commit (a weights file is not hashed). */
function oidOf (m: Materialization, f: PretrainedFile): string {
  return f.blobId ?? createHash('sha1').update(`${hubCommit(m)}\0${f.name}`).digest('hex')
}

export function hubModelInfo (m: Materialization, files: PretrainedFiles): typeof HubModelInfo.static {
  const repoId = `${m.sessionId}/${m.id}`
  const created = new Date(m.createdAt).toISOString()
  const canGenerate = files.files.some((f) => f.name === 'generation_config.json')
  return {
    id: repoId,
    modelId: repoId,
    sha: hubCommit(m),
    private: true,
    createdAt: created,
    lastModified: created,
    library_name: 'transformers',
    ...(canGenerate ? { pipeline_tag: 'text-generation' } : {}),
    tags: ['transformers', 'safetensors', files.modelType],
    config: { architectures: [...files.architectures], model_type: files.modelType },
    siblings: files.files.map((f) => ({ rfilename: f.name, size: f.size })),
    safetensors: { parameters: { ...files.parameters }, total: files.total }
  }
}

export function hubTree (m: Materialization, files: PretrainedFiles): Array<typeof HubTreeEntry.static> {
  return files.files.map((f) => ({ type: 'file' as const, path: f.name, size: f.size, oid: oidOf(m, f) }))
}
