// /hub: every materialization of a transformers model as a Hugging Face model repository, so
// huggingface_hub (snapshot_download, hf_hub_download, get_safetensors_metadata) downloads it with
// `endpoint=http://HOST:PORT/hub` and repository id `SESSION_ID/MATERIALIZATION_ID`, and HF_TOKEN as the
// API key (docs/hub.md). The files are those of save_pretrained at its default max_shard_size.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { errorDefs } from '../src/errors.js'
import { errorResponses } from '../src/schemas/common.js'
import { pretrainedFileResponses, HubFileParams, HubModelInfo, HubRepoParams, HubRevisionParams, HubTreeEntry, HubTreeQuery } from '../src/schemas/hub.js'
import { sendBytes } from '../src/http/byte-response.js'
import { pretrainedFile, type PretrainedFiles } from '../src/plugins/app/materializer/pretrained-files.js'
import { hubModelInfo, hubTree, requireRevision } from '../src/plugins/app/materializer/hub-repo.js'
import type { Materialization } from '../src/materialize/registry.js'

// huggingface_hub's hf_raise_for_status reads X-Error-Code to raise RepositoryNotFoundError,
// RevisionNotFoundError or RemoteEntryNotFoundError (file_exists answers False on the last)
const HUB_ERROR_CODES: Readonly<Record<string, string>> = {
  [errorDefs.sessionNotFound.code]: 'RepoNotFound',
  [errorDefs.materializationNotFound.code]: 'RepoNotFound',
  [errorDefs.moduleNotFound.code]: 'RepoNotFound',
  [errorDefs.revisionNotFound.code]: 'RevisionNotFound',
  [errorDefs.tensorNotFound.code]: 'EntryNotFound'
}

export default async function hubRoutes (fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { materializer } = app

  // hooks of this plugin see only the /hub routes
  app.addHook('onError', async (_request, reply, error) => {
    const code = HUB_ERROR_CODES[(error as { code?: string }).code ?? '']
    if (code !== undefined) void reply.header('x-error-code', code)
  })

  const repoErrors = ['validation', 'sessionNotFound', 'materializationNotFound', 'moduleNotFound', 'materializationNotReady', 'pretrainedUnavailable', 'unauthorized'] as const

  /** The repository's materialization (ready) at `revision` (default main), its commit and its files. */
  async function repo (request: FastifyRequest, params: { sessionId: string, materializationId: string, revision?: string }): Promise<{ m: Materialization, sha: string, files: PretrainedFiles }> {
    const m = materializer.requireReady(await materializer.find(request, params.sessionId, params.materializationId))
    const sha = requireRevision(m, params.revision ?? 'main')
    return { m, sha, files: await materializer.pretrained(m) }
  }

  const infoSchema = <P extends typeof HubRepoParams | typeof HubRevisionParams>(operationId: string, summary: string, params: P) => ({
    operationId,
    tags: ['hub'],
    summary,
    description: 'What huggingface_hub\'s HfApi.model_info / repo_info read: the commit `sha`, `siblings` (the save_pretrained files) and ' +
      '`safetensors` (elements per dtype). The repository id is `SESSION_ID/MATERIALIZATION_ID`; query options of the Hub API are ignored.',
    params,
    response: {
      200: Type.Ref(HubModelInfo, { description: 'The model info.' }),
      ...errorResponses(...repoErrors, ...((params as unknown) === HubRevisionParams ? ['revisionNotFound'] as const : []))
    }
  })

  app.get('/hub/api/models/:sessionId/:materializationId', { schema: infoSchema('getHubModelInfo', 'Model info of a materialization as a Hub repository', HubRepoParams) },
    async (request) => {
      const { m, files } = await repo(request, request.params)
      return hubModelInfo(m, files)
    })

  app.get('/hub/api/models/:sessionId/:materializationId/revision/:revision', { schema: infoSchema('getHubModelInfoAtRevision', 'Model info at a revision (main or the commit sha)', HubRevisionParams) },
    async (request) => {
      const { m, files } = await repo(request, request.params)
      return hubModelInfo(m, files)
    })

  app.get('/hub/api/models/:sessionId/:materializationId/tree/:revision', {
    schema: {
      operationId: 'getHubTree',
      tags: ['hub'],
      summary: 'The files of a Hub repository (HfApi.list_repo_tree)',
      description: 'One page, no folders: the save_pretrained files with their sizes.',
      params: HubRevisionParams,
      querystring: HubTreeQuery,
      response: { 200: Type.Array(Type.Ref(HubTreeEntry), { description: 'The files.' }), ...errorResponses(...repoErrors, 'revisionNotFound') }
    }
  }, async (request) => {
    const { m, files } = await repo(request, request.params)
    return hubTree(m, files)
  })

  app.get('/hub/:sessionId/:materializationId/resolve/:revision/:file', {
    schema: {
      operationId: 'resolveHubFile',
      tags: ['hub'],
      summary: 'One file of a Hub repository (hf_hub_download)',
      description: 'The file as save_pretrained writes it, served directly (no redirect), with ETag, Content-Length, X-Repo-Commit, ' +
        'HEAD and Range, as huggingface_hub\'s get_hf_file_metadata and http_get read them. A lazy materialization\'s bytes are ' +
        'generated as they are read.',
      produces: ['application/octet-stream', 'application/json'],
      params: HubFileParams,
      response: { ...pretrainedFileResponses, ...errorResponses(...repoErrors, 'revisionNotFound', 'tensorNotFound', 'rangeNotSatisfiable', 'memoryBudget') }
    }
  }, async (request, reply) => {
    const { m, sha, files } = await repo(request, request.params)
    // huggingface_hub caches a missing file under the commit it is missing from
    void reply.header('x-repo-commit', sha)
    const f = pretrainedFile(files, request.params.file)
    return sendBytes(request, reply, f.segments, materializer.etag(m, `pretrained:default:${f.name}`), {}, f.contentType)
  })
}
