// Schemas of the operations routes (liveness, readiness). Registered by the health plugin, after the
// shared schemas, so their place among the OpenAPI components stays where it is.
import { Type } from '@sinclair/typebox'

export const Health = Type.Object({
  status: Type.Literal('ok'),
  uptimeSeconds: Type.Number()
}, { $id: 'Health', title: 'Health', description: 'The process is alive.' })

export const Readiness = Type.Object({
  status: Type.Literal('ready'),
  checks: Type.Record(Type.String(), Type.Literal('ok'), { description: 'Each dependency checked.' })
}, { $id: 'Readiness', title: 'Readiness', description: 'Every dependency answered.' })
