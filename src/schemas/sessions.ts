// Schemas for sessions and the modules they hold.
import { Type } from '@sinclair/typebox'
import { pythonField, TensorInfo } from './nn.js'
import { nextCursor } from './common.js'

export const SessionId = Type.String({ pattern: '^ses_[A-Za-z0-9_-]{1,64}$', description: 'A session handle (`ses_…`).' })
export const ModuleId = Type.String({ pattern: '^mod_[A-Za-z0-9_-]{1,64}$', description: 'A module handle (`mod_…`).' })

export const CreateSession = Type.Object({
  ttlSeconds: Type.Optional(Type.Integer({ minimum: 1, description: 'Sliding TTL; at most MATERIA_MAX_SESSION_TTL (default 86400). Default MATERIA_SESSION_TTL.' }))
}, { $id: 'CreateSession', title: 'CreateSession', description: 'Options for a new session.', additionalProperties: false })

export const Session = Type.Object({
  id: Type.String({ examples: ['ses_5bY1o2mK8o0nPq3v2ZrJ0Ab9'] }),
  createdAt: Type.String({ format: 'date-time' }),
  expiresAt: Type.String({ format: 'date-time', description: 'Moves forward on every use of the session.' }),
  ttlSeconds: Type.Integer(),
  modules: Type.Integer({ description: 'Modules in this session.' }),
  materializations: Type.Integer({ description: 'Materializations in this session, whichever replica made them.' }),
  residentBytes: Type.Integer({ description: 'Tensor bytes this session\'s materializations hold in the memory of the replica that answers (another replica holds its own, and serves the rest lazily, holding none).' })
}, { $id: 'Session', title: 'Session', description: 'A session: a namespace of modules and materializations with a sliding TTL.', additionalProperties: false })

export const SessionList = Type.Object({ sessions: Type.Array(Type.Ref(Session)), nextCursor },
  { $id: 'SessionList', title: 'SessionList', description: "A page of the caller's live sessions, oldest first.", additionalProperties: false })

export const Module = Type.Object({
  id: Type.String({ examples: ['mod_Zt0yq2a1bXo9lYpC3mR7w4Ej'] }),
  sessionId: Type.String(),
  class: Type.String({ description: 'Qualified class name, e.g. `torch.nn.LSTM`.' }),
  python: pythonField(),
  args: Type.Array(Type.Unknown()),
  kwargs: Type.Record(Type.String(), Type.Unknown()),
  ties: Type.Optional(Type.Array(Type.Array(Type.String()))),
  config: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'The config.json of a module created from `{"config": …}`, as given: `class`, `args` and `kwargs` are the call it stands for, and the config\'s dtype was the default dtype.' })),
  device: Type.Literal('meta'),
  tensors: Type.Array(Type.Ref(TensorInfo)),
  totals: Type.Object({
    parameters: Type.Integer({ description: 'Parameter elements (tied storage once), like sum(p.numel() for p in m.parameters()).' }),
    buffers: Type.Integer({ description: 'Buffer elements, non-persistent ones included.' }),
    numel: Type.Integer({ description: 'parameters + buffers.' }),
    nbytes: Type.Integer({ description: 'Bytes the tensors would take once materialized.' })
  }, { additionalProperties: false })
}, { $id: 'Module', title: 'Module', description: 'A module built on the meta device: shapes and dtypes, no tensor memory.', additionalProperties: false })

export const ModuleList = Type.Object({ modules: Type.Array(Type.Ref(Module)), nextCursor },
  { $id: 'ModuleList', title: 'ModuleList', description: 'A page of the modules of a session, oldest first.', additionalProperties: false })

export const sessionSchemas = [CreateSession, Session, SessionList, Module, ModuleList]

/** Path parameters of the routes of one session. */
export const SessionParams = Type.Object({ sessionId: SessionId })

/** Path parameters of the routes of one module. */
export const ModuleParams = Type.Object({ sessionId: SessionId, moduleId: ModuleId })
