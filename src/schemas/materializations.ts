// Schemas for materializations: options in, status and tensor table out.
import { Type } from '@sinclair/typebox'
import { DTypeName, TensorInfo } from './nn.js'
import { nextCursor } from './common.js'
import { Module, SessionId } from './sessions.js'
import { described, Device, FanMode, InitKind, MaterializationInit, MaterializationStatus, Nonlinearity, OverrideFn, Rng } from './vocabulary.js'

export const MaterializationId = Type.String({ pattern: '^mat_[A-Za-z0-9_-]{1,64}$', description: 'A materialization handle (`mat_…`).' })

const num = (description: string) => Type.Optional(Type.Number({ description }))

export const InitOverride = Type.Object({
  fn: described(OverrideFn,
    { description: 'A torch.nn.init function. trunc_normal_ is torch >= 2.12\'s (rejection sampling); when [a, b] keeps at most 30% of the normal\'s mass PyTorch samples it with a vector log that is not reproducible, and that answers 501.' }),
  a: num('uniform_: lower bound (default 0.0). kaiming_*: negative slope for leaky_relu (default 0). trunc_normal_: lower cutoff (default -2.0).'),
  b: num('uniform_: upper bound (default 1.0). trunc_normal_: upper cutoff (default 2.0).'),
  mean: num('normal_, trunc_normal_: mean (default 0.0).'),
  std: num('normal_, trunc_normal_: standard deviation (default 1.0).'),
  val: num('constant_: the value (required).'),
  gain: num('xavier_*: gain (default 1.0).'),
  mode: Type.Optional(described(FanMode, { description: 'kaiming_*: default fan_in.' })),
  nonlinearity: Type.Optional(described(Nonlinearity,
    { description: 'kaiming_*: default leaky_relu.' }))
}, {
  $id: 'InitOverride',
  title: 'InitOverride',
  description: 'torch.nn.init.<fn>(tensor, **arguments), arguments by their PyTorch names; an argument the function does not take is a 400.',
  additionalProperties: false,
  examples: [{ fn: 'xavier_uniform_' }, { fn: 'normal_', std: 0.02 }, { fn: 'kaiming_normal_', mode: 'fan_out', nonlinearity: 'relu' }]
})

export const InitSpec = Type.Object({
  default: Type.Optional(described(InitKind, { description: 'The init before the overrides (as the string form of init). Default `default`.' })),
  overrides: Type.Optional(Type.Record(Type.String({ minLength: 1 }), Type.Ref(InitOverride), {
    description: 'Python fnmatch patterns on state_dict names (`*` also matches dots: `*.weight`, `layers.*.linear1.bias`, `encoder.layers.[01].*`) → the init to apply.'
  }))
}, {
  $id: 'InitSpec',
  title: 'InitSpec',
  description: 'An init with per-tensor overrides. After construction (and the module\'s own init for default `default`), the patterns apply in the ' +
    'order the object lists them; each applies its function to every floating-point state_dict tensor whose name it matches, in state_dict order, ' +
    'drawing from the same random stream (rng torch: continuing after construction, as user code would). A storage shared by tied names is ' +
    'initialised once per pattern. Exactly: `sd = m.state_dict(keep_vars=True); for pat, (fn, kw) in overrides.items(): done = set(); ' +
    'for name, t in sd.items(): if t.is_floating_point() and fnmatch.fnmatchcase(name, pat) and id(t) not in done: done.add(id(t)); ' +
    'getattr(torch.nn.init, fn)(t, **kw)`. A pattern that matches no tensor, an unknown function or argument, or arguments PyTorch rejects are 400s; ' +
    'trunc_normal_ with rng `philox`, or keeping at most 30% of the mass, is 501.',
  additionalProperties: false,
  examples: [{ default: 'default', overrides: { '*.weight': { fn: 'normal_', std: 0.02 }, '*.bias': { fn: 'zeros_' } } }]
})

export const CreateMaterialization = Type.Object({
  device: Type.Optional(described(Device, { description: '`cpu`: memory of the service process, filled on the main thread between requests. `worker`: a SharedArrayBuffer filled by the worker pool. Same bytes either way. Default `cpu`.' })),
  init: Type.Optional(Type.Union([InitKind, Type.Ref(InitSpec)], {
    description: '`empty` is skip_init: no pass over parameter bytes, buffers get their constructor values. PyTorch leaves such ' +
    'bytes undefined; here they are zeros, on every replica (the replica that holds it gives fresh memory, which is zero; another ' +
    'serves zeros lazily), and its ETags are its own (derived from its id), since the API promises no values for them. ' +
    '`zeros` / `ones`: every parameter. `default`: what `torch.manual_seed(seed); torch.nn.X(*args, **kwargs)` gives (the module\'s own ' +
    'reset_parameters() in PyTorch\'s RNG order, bit for bit as PyTorch 2.x on a Linux x86-64 CPU with AVX2 kernels; float64 normal_ values ' +
    'only to within 2 ulp in about 0.16% of elements, where glibc\'s log/sin/cos round differently). With `dtype`, values are computed in the ' +
    'module\'s own dtype and then cast, as `m.to(dtype)`. An object (InitSpec) adds per-tensor overrides. Default `empty`.'
  })),
  seed: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'Seed for init `default` and overrides: `torch.manual_seed(seed)` (rng `torch` uses its low 32 bits, as torch does). Default 0.' })),
  rng: Type.Optional(described(Rng, { description: '`torch` (default): PyTorch\'s CPU generator (MT19937), one stream in construction order, bit-exact. `philox`: the same rules and bounds, but every tensor draws from its own counter-based stream keyed by (seed, its state_dict name), so tensors fill in parallel; not PyTorch\'s values. Deep copies and ties keep their source\'s values either way.' })),
  dtype: Type.Optional(Type.Ref(DTypeName, { description: 'Cast every floating tensor to this dtype (float32, float64, float16, bfloat16; `torch.` prefix accepted).' })),
  wait: Type.Optional(Type.Boolean({ description: 'true (default): answer 201 when filled. false: answer 202 with Location at once; poll the materialization for progress (a lazy one is ready at once: 201).' })),
  lazy: Type.Optional(Type.Boolean({
    description: 'true: hold no memory; every byte route generates the bytes as they are read (in chunks, by the worker pool, ahead of the socket ' +
    'and bounded by its backpressure), the same bytes a resident materialization holds, so a model larger than the memory budget streams. ' +
    'Answers 201 at once, status `ready`, `residentBytes` 0. For init `zeros`, `ones`, `default` and InitSpec (not `empty`: it promises no ' +
    'values, so there is nothing to generate; ask for `zeros`). Default false.'
  }))
}, { $id: 'CreateMaterialization', title: 'CreateMaterialization', description: 'How to give a module real memory. `dtype` (a DType) casts every floating tensor to it, `torch.` prefix accepted.', additionalProperties: false })

/** Query options of a checkpoint upload (the body is the file). */
export const CheckpointQuery = Type.Object({
  strict: Type.Optional(Type.Boolean({ description: 'As load_state_dict(strict=…). true (default): missing and unexpected keys are errors. false: unexpected keys are ignored and missing ones get `init`. Size and dtype mismatches fail either way.' })),
  init: Type.Optional(described(InitKind, { description: 'With strict=false, the values of missing keys: `default` (the default here) gives what `torch.manual_seed(seed); m = X(...); m.load_state_dict(sd, strict=False)` leaves in them; `empty`, `zeros`, `ones` as for JSON materializations.' })),
  seed: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'Seed for init `default` of missing keys. Default 0.' })),
  rng: Type.Optional(described(Rng, { description: 'Generator for init `default` of missing keys, as for JSON materializations. Default `torch`.' })),
  device: Type.Optional(described(Device, { description: 'Where missing keys are initialized; the file is copied in as it arrives either way. Default `cpu`.' }))
}, { additionalProperties: false })

export const MaterializedTensor = Type.Intersect([Type.Ref(TensorInfo), Type.Object({
  href: Type.String({ description: 'Raw bytes of this tensor (little-endian, C order).' })
})], { $id: 'MaterializedTensor', title: 'MaterializedTensor', description: 'A tensor of a materialization, with the address of its bytes.' })

export const Materialization = Type.Object({
  id: Type.String(),
  moduleId: Type.String(),
  sessionId: Type.String(),
  device: Device,
  init: described(MaterializationInit, { description: 'The init (for an InitSpec its `default`); `checkpoint` when filled from an uploaded safetensors file.' }),
  overrides: Type.Optional(Type.Record(Type.String(), Type.Ref(InitOverride), { description: 'The overrides applied after `init`, in order, with every argument (defaults filled in).' })),
  checkpoint: Type.Optional(Type.Object({
    strict: Type.Boolean(),
    missingKeys: Type.Array(Type.String(), { description: 'state_dict keys the file did not have (load_state_dict\'s missing_keys).' }),
    unexpectedKeys: Type.Array(Type.String(), { description: 'Keys in the file the module does not have, ignored (unexpected_keys).' }),
    missingInit: described(InitKind, { description: 'How the missing keys were filled.' })
  }, { additionalProperties: false, description: 'For init `checkpoint`: what load_state_dict reported.' })),
  seed: Type.Union([Type.Integer(), Type.Null()]),
  rng: Type.Union([...Rng.anyOf, Type.Null()]),
  dtype: Type.Union([Type.String(), Type.Null()], { description: 'The cast applied to floating tensors, or null.' }),
  status: MaterializationStatus,
  error: Type.Optional(Type.String({ description: 'Why the materialization failed (for example `cancelled`).' })),
  progress: Type.Object({ bytesDone: Type.Integer(), bytesTotal: Type.Integer() }, {
    additionalProperties: false,
    description: 'Bytes filled so far of the bytes that need a pass (an empty materialization has almost none; a lazy one none). ' +
      'Ready: `bytesDone` equals `bytesTotal`. While pending, only the replica filling it counts `bytesDone`; another replica shows 0.'
  }),
  nbytes: Type.Integer({ description: 'Bytes of its tensors (the safetensors data section).' }),
  lazy: Type.Boolean({ description: 'Whether its bytes are generated as they are read instead of held.' }),
  residentBytes: Type.Integer({
    description: 'Bytes of memory it holds on the replica that made it: `nbytes` when resident, 0 when lazy. The same on every ' +
      'replica (one that does not hold its bytes serves them lazily, holding none).'
  }),
  tensors: Type.Array(Type.Ref(MaterializedTensor)),
  safetensors: Type.String({ description: 'The state dict as one safetensors file.' })
}, {
  $id: 'Materialization',
  title: 'Materialization',
  description: 'A module given real memory. Any replica answers for it alike: a ready one shows the same view, bytes and ETags ' +
    'whichever replica answers; a pending one whose replica stopped (its heartbeats ran out) is `failed`.',
  additionalProperties: false
})

export const MaterializationList = Type.Object({ materializations: Type.Array(Type.Ref(Materialization)), nextCursor },
  { $id: 'MaterializationList', title: 'MaterializationList', description: 'A page of the materializations of a session (made by any replica), oldest first.', additionalProperties: false })

export const SafetensorsIndex = Type.Object({
  metadata: Type.Object({
    total_parameters: Type.Optional(Type.Integer({ description: 'Parameters (buffers excluded), as transformers writes model.num_parameters().' })),
    total_size: Type.Integer({ description: 'Bytes of tensor data in all shards, shared storage once.' })
  }),
  weight_map: Type.Record(Type.String(), Type.String(), { description: 'state_dict name → the shard file holding it; tied aliases are left out, as transformers leaves them out.' })
}, {
  $id: 'SafetensorsIndex',
  title: 'SafetensorsIndex',
  description: '`model.safetensors.index.json` as save_pretrained writes it (`json.dumps(index, indent=2, sort_keys=True)`).',
  examples: [{ metadata: { total_size: 864 }, weight_map: { weight_ih_l0: 'model-00001-of-00002.safetensors', weight_hh_l0: 'model-00002-of-00002.safetensors' } }]
})

export const materializationSchemas = [SafetensorsIndex, InitOverride, InitSpec, CreateMaterialization, MaterializedTensor, Materialization, MaterializationList]

/** The answer of POST /v1/sessions/{sessionId}/skip_init; registered by its route, after the shared schemas. */
export const SkipInitResult = Type.Object({ ...Materialization.properties, module: Type.Ref(Module) },
  { $id: 'SkipInitResult', title: 'SkipInitResult', description: 'The materialization (init "empty") and the module it was built from.', additionalProperties: false })

/** Path parameters of the routes of one materialization. */
export const MaterializationParams = Type.Object({ sessionId: SessionId, materializationId: MaterializationId })

/** Path parameters of GET …/tensors/{name}. */
export const TensorParams = Type.Object({ sessionId: SessionId, materializationId: MaterializationId, name: Type.String({ description: 'state_dict key.' }) })

/** Path parameters of GET …/safetensors/{file}. */
export const ShardParams = Type.Object({ sessionId: SessionId, materializationId: MaterializationId, file: Type.String({ description: 'A file name from the index.' }) })

/** Query of GET …/safetensors/{file}. */
export const ShardQuery = Type.Object({ maxShardBytes: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'Largest shard in bytes, as save_pretrained(max_shard_size=…); default 5000000000.' })) })

/** The success answers of the byte routes (raw tensors, safetensors files, shards). */
export const byteResponses = {
  200: { description: 'The bytes.', type: 'string', format: 'binary' },
  206: { description: 'The requested byte range.', type: 'string', format: 'binary' },
  304: { description: 'Not modified (If-None-Match).', type: 'null' }
}
