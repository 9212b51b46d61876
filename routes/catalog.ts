// The catalog of torch.nn classes and memory estimates; no session needed.
import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { buildModuleTree, getModuleClass, listModuleClasses } from '../src/nn/index.js'
import { estimateModule } from '../src/nn/estimate.js'
import { bodyErrorResponses, errorResponses } from '../src/schemas/common.js'
import { AnyModuleSpec, Estimate, EstimateQuery, ModuleClass, ModuleClassList, ModuleClassParams } from '../src/schemas/nn.js'

const specErrors = bodyErrorResponses('validation', 'constructorArgs', 'pythonSyntax', 'notAModule', 'badTie', 'specTooLarge', 'unknownClass', 'bodyTooLarge', 'moduleTooLarge', 'unauthorized')

export default async function catalogRoutes (fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()

  app.get('/v1/modules', {
    schema: {
      operationId: 'listModuleClasses',
      tags: ['catalog'],
      summary: 'List the torch.nn and transformers classes materia can build',
      description: 'Every class with its full constructor signature (PyTorch 2.x), whether it takes `device`, and its doc. transformers ' +
        'models (`transformers.LlamaForCausalLM`, …) take a config; each config class (`transformers.LlamaConfig`, …) is listed too, its ' +
        'fields as keyword parameters with transformers\' defaults (the same definition validates configs).',
      response: { 200: Type.Ref(ModuleClassList, { description: 'The catalog.' }), ...errorResponses('unauthorized') }
    }
  }, async () => ({ modules: listModuleClasses() }))

  app.get('/v1/modules/:name', {
    schema: {
      operationId: 'getModuleClass',
      tags: ['catalog'],
      summary: 'Describe one torch.nn class',
      description: 'Accepts `Linear`, `nn.Linear` or `torch.nn.Linear`. An unknown name is a 404 listing close matches.',
      params: ModuleClassParams,
      response: { 200: Type.Ref(ModuleClass, { description: 'The class.' }), ...errorResponses('unknownClass', 'unauthorized') }
    }
  }, async (request) => getModuleClass(request.params.name))

  app.post('/v1/estimate', {
    schema: {
      operationId: 'estimateMemory',
      tags: ['catalog'],
      summary: 'Estimate the memory of a module',
      description: 'Builds the module on the meta device and reports what PyTorch would allocate: totals, per-dtype sizes, ' +
        'the largest tensor, and training with Adam. Tied storage is counted once; buffers (also non-persistent) are included. ' +
        'The spec is JSON or written as Python; the answer carries `python`, the canonical expression. `calculator` is the table ' +
        '`accelerate estimate-memory` prints for it; a transformers decoder (from a class or `{"config": …}`) also gets `kvCache`, its key/value ' +
        'cache for `batchSize` sequences of `sequenceLength` tokens (docs/transformers.md).',
      querystring: EstimateQuery,
      body: Type.Ref(AnyModuleSpec),
      response: { 200: Type.Ref(Estimate, { description: 'The estimate.' }), ...specErrors }
    }
  }, async (request) => {
    const { root, built } = buildModuleTree(request.body, { maxTensors: request.limits.maxModuleTensors })
    return { class: built.qualname, ...(built.python !== undefined ? { python: built.python } : {}), ...estimateModule(root, built.tensors, request.query) }
  })
}
