// skip_init as one call: build on meta, then materialize empty on kwargs.device (default cpu).
import type { FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { bodyErrorResponses } from '../src/schemas/common.js'
import { SkipInitResult } from '../src/schemas/materializations.js'
import { AnyModuleSpec } from '../src/schemas/nn.js'
import { SessionParams } from '../src/schemas/sessions.js'

export default async function skipInitRoutes (fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  app.addSchema(SkipInitResult)

  app.post('/v1/sessions/:sessionId/skip_init', {
    schema: {
      operationId: 'skipInit',
      tags: ['materializations'],
      summary: 'torch.nn.utils.skip_init in one call',
      description: 'Builds the module on meta and materializes it empty (no pass over parameter bytes; buffers get their ' +
        'constructor values) on `kwargs.device` (`cpu` by default, or `worker`). Like PyTorch: a name that is not a module ' +
        "class is `Expected a Module; got <class '…'>`, a module that takes no `device` argument is " +
        "`Module must support a 'device' arg to skip initialization`. The spec is JSON or written as Python.",
      params: SessionParams,
      body: Type.Ref(AnyModuleSpec),
      response: {
        201: Type.Ref(SkipInitResult, { description: 'Materialized.' }),
        ...bodyErrorResponses('validation', 'constructorArgs', 'pythonSyntax', 'notAModule', 'noDeviceArg', 'badTie', 'specTooLarge', 'unknownClass',
          'moduleTooLarge', 'sessionModuleQuota', 'tenantModuleQuota', 'moduleBudget', 'sessionNotFound', 'materializationNotReady', 'memoryBudget', 'tenantMemoryQuota', 'unauthorized')
      }
    }
  }, async (request, reply) => {
    const session = await app.requireSession(request, request.params.sessionId)
    const { m, module } = await app.materializer.skipInit(request, session.id, request.body)
    return await reply.code(201).header('location', app.materializer.href(m)).send({ ...app.materializer.view(m), module })
  })
}
