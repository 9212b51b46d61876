// Schemas for materializations: options in, status and tensor table out.
import { Type } from '@sinclair/typebox'
import { TensorInfo } from './nn.js'

export const MaterializationId = Type.String({ pattern: '^mat_[A-Za-z0-9_-]{1,64}$', description: 'A materialization handle (`mat_…`).' })

export const CreateMaterialization = Type.Object({
  device: Type.Optional(Type.Union([Type.Literal('cpu'), Type.Literal('worker')], { description: '`cpu`: memory of the service process, filled on the main thread between requests. `worker`: a SharedArrayBuffer filled by the worker pool. Same bytes either way. Default `cpu`.' })),
  init: Type.Optional(Type.Union([Type.Literal('empty'), Type.Literal('zeros'), Type.Literal('ones'), Type.Literal('default')], { description: '`empty` is skip_init: no pass over parameter bytes, buffers get their constructor values. `default`: the module\'s own reset_parameters() for `seed`. Default `empty`.' })),
  seed: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'Seed for init `default` (torch.manual_seed).' })),
  rng: Type.Optional(Type.Union([Type.Literal('torch'), Type.Literal('philox')], { description: 'Random stream for init `default`.' })),
  dtype: Type.Optional(Type.String({ description: 'Cast every floating tensor to this dtype (float32, float64, float16, bfloat16; `torch.` prefix accepted).' })),
  wait: Type.Optional(Type.Boolean({ description: 'true (default): answer 201 when filled. false: answer 202 with Location at once; poll the materialization for progress.' }))
}, { $id: 'CreateMaterialization', title: 'CreateMaterialization', description: 'How to give a module real memory.', additionalProperties: false })

export const MaterializedTensor = Type.Intersect([Type.Ref(TensorInfo), Type.Object({
  href: Type.String({ description: 'Raw bytes of this tensor (little-endian, C order).' })
})], { $id: 'MaterializedTensor', title: 'MaterializedTensor', description: 'A tensor of a materialization, with the address of its bytes.' })

export const Materialization = Type.Object({
  id: Type.String(),
  moduleId: Type.String(),
  sessionId: Type.String(),
  device: Type.Union([Type.Literal('cpu'), Type.Literal('worker')]),
  init: Type.Union([Type.Literal('empty'), Type.Literal('zeros'), Type.Literal('ones'), Type.Literal('default'), Type.Literal('checkpoint')], { description: '`checkpoint` when filled from an uploaded safetensors file.' }),
  seed: Type.Union([Type.Integer(), Type.Null()]),
  rng: Type.Union([Type.Literal('torch'), Type.Literal('philox'), Type.Null()]),
  dtype: Type.Union([Type.String(), Type.Null()], { description: 'The cast applied to floating tensors, or null.' }),
  status: Type.Union([Type.Literal('ready'), Type.Literal('pending'), Type.Literal('failed')]),
  error: Type.Optional(Type.String({ description: 'Why the materialization failed (for example `cancelled`).' })),
  progress: Type.Object({ bytesDone: Type.Integer(), bytesTotal: Type.Integer() }, { additionalProperties: false, description: 'Bytes filled so far of the bytes that need a pass (an empty materialization has almost none).' }),
  nbytes: Type.Integer({ description: 'Bytes of memory the materialization holds.' }),
  tensors: Type.Array(Type.Ref(MaterializedTensor)),
  safetensors: Type.String({ description: 'The state dict as one safetensors file.' })
}, { $id: 'Materialization', title: 'Materialization', description: 'A module given real memory.', additionalProperties: false })

export const MaterializationList = Type.Object({ materializations: Type.Array(Type.Ref(Materialization)) },
  { $id: 'MaterializationList', title: 'MaterializationList', description: 'The materializations of a session, oldest first.', additionalProperties: false })

export const materializationSchemas = [CreateMaterialization, MaterializedTensor, Materialization, MaterializationList]
