// Schemas for module specs, tensor tables, the catalog and estimates.
import { Type, type Static } from '@sinclair/typebox'
import { ParamKind, TensorKind } from './vocabulary.js'
import { LIMITS } from '../nn/limits.js'

export const DTypeName = Type.String({
  $id: 'DType',
  title: 'DType',
  description: 'A torch dtype, short or qualified: float32 | torch.float32, float64, float16, bfloat16 (buffers may be int64).',
  examples: ['float32', 'torch.bfloat16']
})

const tiesSchema = () => Type.Array(Type.Array(Type.String(), { minItems: 2 }), { description: 'Groups of tensor names that share one storage, like `lm_head.weight = embed.weight` in PyTorch.', maxItems: 10000 })

export const ModuleSpec = Type.Object({
  class: Type.Optional(Type.String({ description: 'A torch.nn class: `Linear`, `nn.Linear` or `torch.nn.Linear`, or a transformers class: `transformers.LlamaForCausalLM` (see GET /v1/modules). Required unless `config` is given.', minLength: 1, maxLength: 200 })),
  config: Type.Optional(Type.Record(Type.String(), Type.Unknown(), {
    description: 'Instead of `class`: a Hugging Face config.json. Its `model_type` picks the config class, `architectures[0]` the model class ' +
      '(default: the ForCausalLM class), and `dtype`/`torch_dtype` the default dtype, as `AutoModelForCausalLM.from_config` does.',
    maxProperties: 1000
  })),
  args: Type.Optional(Type.Array(Type.Unknown(), { description: 'Positional constructor arguments as PyTorch takes them; a nested module spec may stand wherever PyTorch takes a module.', maxItems: 100000 })),
  kwargs: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'Keyword arguments; `dtype` takes a DType, `device` takes "meta" (default), "cpu" or "worker".' })),
  ties: Type.Optional(tiesSchema())
}, {
  $id: 'ModuleSpec',
  title: 'ModuleSpec',
  // a class or a config.json, never neither
  anyOf: [{ required: ['class'], properties: { class: { type: 'string' } } }, { required: ['config'], properties: { config: { type: 'object' } } }],
  description: 'A torch.nn constructor call as JSON. Each class\'s arguments are described by its own component ' +
    '(`torch.nn.Linear`, `torch.nn.LSTM`, …), generated from the same definitions that validate them.',
  additionalProperties: false,
  examples: [
    { class: 'torch.nn.LSTM', args: [6, 9], kwargs: { bidirectional: true } },
    { class: 'Sequential', args: [{ class: 'Linear', args: [784, 128] }, { class: 'ReLU' }, { class: 'Linear', args: [128, 10] }] },
    { config: { model_type: 'llama', architectures: ['LlamaForCausalLM'], hidden_size: 2048, intermediate_size: 8192, num_hidden_layers: 16, num_attention_heads: 32, num_key_value_heads: 8, vocab_size: 128256, tie_word_embeddings: true, torch_dtype: 'bfloat16' } }
  ]
})
export type ModuleSpecT = Static<typeof ModuleSpec>

export const PythonModuleSpec = Type.Object({
  python: Type.String({
    description: 'The constructor call written as Python, e.g. `nn.Sequential(nn.Linear(4, 8), nn.ReLU())`: parsed, never evaluated. ' +
      'Accepted: calls of catalog classes (`Linear`, `nn.Linear`, `torch.nn.Linear`; any other name is the same 404 as an unknown `class`), ' +
      'ints (also 0x/0o/0b, underscores), floats (`1e-5`), `True`/`False`/`None`, strings, tuples and lists (both become JSON arrays), ' +
      'dicts with string keys, `OrderedDict([(name, module), ...])` (Sequential\'s named form), keyword arguments, ' +
      '`torch.float16`-style dtypes and unary minus; comments and line breaks too. Anything else is a 400 ' +
      'MATERIA_ERR_NN_PYTHON_SYNTAX naming the column and what was expected. Then it is validated exactly as the JSON form.',
    minLength: 1,
    maxLength: LIMITS.maxPythonChars
  }),
  ties: Type.Optional(tiesSchema())
}, {
  $id: 'PythonModuleSpec',
  title: 'PythonModuleSpec',
  description: 'A module spec written as a Python expression; it stands for the ModuleSpec it parses to (also nested, wherever a ModuleSpec may stand).',
  additionalProperties: false,
  examples: [
    { python: 'nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))' },
    { python: 'torch.nn.LSTM(6, 9, bidirectional=True, dtype=torch.float16)' }
  ]
})

export const AnyModuleSpec = Type.Union([Type.Ref(ModuleSpec), Type.Ref(PythonModuleSpec)], {
  $id: 'AnyModuleSpec',
  title: 'AnyModuleSpec',
  description: 'A module spec as JSON (ModuleSpec) or written as Python (PythonModuleSpec).'
})
export type AnyModuleSpecT = Static<typeof ModuleSpec> | Static<typeof PythonModuleSpec>

/** The canonical expression of a built module, in module and estimate responses. */
export const pythonField = () => Type.Optional(Type.String({
  description: 'The canonical Python expression that rebuilds the module (a PythonModuleSpec parses it to the same module): ' +
    'the qualified class (`torch.nn.Linear`), positional and keyword arguments as given (defaults are not added), nested specs the same way, ' +
    'JSON arrays as lists, objects as dicts (Sequential\'s named form as `collections.OrderedDict([...])`), numbers as Python\'s repr of what ' +
    'JSON loads (an integral number is an int: `1.0` reads as `1`), dtype arguments as `torch.float16`. `ties` stay a separate field; ' +
    'absent when Python cannot say the spec (ties inside a nested spec, a keyword argument that is not an identifier).',
  examples: ['torch.nn.Linear(4, 8, bias=False)']
}))

export const TensorInfo = Type.Object({
  name: Type.String({ description: 'state_dict key, e.g. `layers.3.self_attn.in_proj_weight`.' }),
  kind: TensorKind,
  shape: Type.Array(Type.Integer({ minimum: 0 })),
  dtype: Type.String({ description: 'Short dtype name, e.g. `float32`, `int64`.' }),
  stride: Type.Array(Type.Integer({ minimum: 0 }), { description: 'Element strides (contiguous, C order).' }),
  numel: Type.Integer({ minimum: 0 }),
  nbytes: Type.Integer({ minimum: 0 }),
  requiresGrad: Type.Boolean(),
  persistent: Type.Boolean({ description: 'false for non-persistent buffers, which state_dict() omits; they are listed last.' }),
  tiedTo: Type.Optional(Type.String({ description: 'The earlier tensor this one shares storage with.' }))
}, { $id: 'TensorInfo', title: 'TensorInfo', description: 'One tensor of a module, in state_dict() order.', additionalProperties: false })

export const SignatureParam = Type.Object({
  name: Type.String(),
  kind: ParamKind,
  required: Type.Boolean(),
  default: Type.Optional(Type.Unknown({ description: 'The Python default (null for None).' })),
  type: Type.String({ description: 'The accepted type, Python-style (e.g. `int`, `bool`, `int | tuple[int, int]`, `Module`).' })
}, { $id: 'SignatureParam', title: 'SignatureParam', description: 'One constructor parameter.', additionalProperties: false })

export const ModuleClass = Type.Object({
  name: Type.String({ examples: ['Linear'] }),
  qualname: Type.String({ examples: ['torch.nn.Linear'] }),
  acceptsDevice: Type.Boolean({ description: 'Whether the constructor takes `device` (required by skip_init).' }),
  signature: Type.Array(Type.Ref(SignatureParam)),
  doc: Type.String()
}, { $id: 'ModuleClass', title: 'ModuleClass', description: 'A torch.nn class materia can build.', additionalProperties: false })

export const ModuleClassList = Type.Object({
  modules: Type.Array(Type.Ref(ModuleClass))
}, { $id: 'ModuleClassList', title: 'ModuleClassList', description: 'The catalog, sorted by name.', additionalProperties: false })

const DtypeEstimate = Type.Object({
  numel: Type.Integer({ minimum: 0 }),
  nbytes: Type.Integer({ minimum: 0, description: 'Bytes with every floating tensor cast to this dtype (integer buffers unchanged).' }),
  largestTensor: Type.Integer({ minimum: 0, description: 'Bytes of the largest tensor in this dtype.' }),
  trainingAdam: Type.Integer({ minimum: 0, description: 'Bytes to train with torch.optim.Adam in this dtype: weights + gradients + two Adam states per trainable element, plus buffers.' })
}, { additionalProperties: false })

const CalculatorRow = (what: string) => Type.Object({
  largestLayer: Type.Number({ minimum: 0, description: 'Bytes of the largest layer.' }),
  totalSize: Type.Number({ minimum: 0, description: 'Bytes of the whole module.' }),
  trainingAdam: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'Bytes to train with Adam, or null where accelerate prints N/A.' })
}, { description: what, additionalProperties: false })

export const Estimate = Type.Object({
  class: Type.String(),
  python: pythonField(),
  totals: Type.Object({ numel: Type.Integer(), nbytes: Type.Integer() }, { description: 'As built: tied storage once, buffers (also non-persistent) included.', additionalProperties: false }),
  byDtype: Type.Object({
    float32: DtypeEstimate, float16: DtypeEstimate, bfloat16: DtypeEstimate, int8: DtypeEstimate
  }, { description: 'The same module cast to each dtype, like `accelerate estimate-memory`.', additionalProperties: false }),
  largestTensor: Type.Object({ name: Type.String(), nbytes: Type.Integer() }, { additionalProperties: false }),
  training: Type.Object({ adam: Type.Integer({ description: 'Bytes to train as built with torch.optim.Adam: weights, gradients, exp_avg, exp_avg_sq, buffers.' }) }, { additionalProperties: false }),
  calculator: Type.Object({
    float32: CalculatorRow('float32'),
    float16: CalculatorRow('float16 or bfloat16 (half the float32 figures)'),
    int8: CalculatorRow('int8 (a quarter of the float32 figures)'),
    int4: CalculatorRow('int4 (an eighth of the float32 figures)'),
    largestLayerNames: Type.Array(Type.String(), { description: 'The layers of the largest size (accelerate\'s layer names), in module order.' })
  }, {
    description: 'The table `accelerate estimate-memory` prints (the Hugging Face model memory calculator), by its rules: sizes of the module built in ' +
      'float32 (integer buffers at their own size), divided for the smaller dtypes; a layer is a module without children or of a class in the ' +
      'model\'s `_no_split_modules` (e.g. LlamaDecoderLayer); training with Adam is the largest of weights, gradients, optimizer states and step: ' +
      '4 x the float32 size in float32, 2 x in float16 (mixed precision), not given for int8 and int4.',
    additionalProperties: false
  }),
  kvCache: Type.Optional(Type.Object({
    batchSize: Type.Integer({ minimum: 1 }),
    sequenceLength: Type.Integer({ minimum: 1, description: 'Tokens per sequence (query `sequenceLength`, default the config\'s max_position_embeddings).' }),
    layers: Type.Integer({ minimum: 0 }),
    slidingLayers: Type.Integer({ minimum: 0, description: 'Layers with sliding-window attention, which keep at most slidingWindow - 1 tokens.' }),
    slidingWindow: Type.Union([Type.Integer(), Type.Null()]),
    kvHeads: Type.Integer({ minimum: 0 }),
    headDim: Type.Integer({ minimum: 0 }),
    tokensHeld: Type.Integer({ minimum: 0, description: 'Tokens cached, summed over layers (per sequence).' }),
    dtype: Type.String({ description: 'The model\'s floating dtype as built, which the cache takes.' }),
    nbytes: Type.Integer({ minimum: 0, description: 'Cache bytes in that dtype.' }),
    byDtype: Type.Object({
      float32: Type.Integer({ minimum: 0 }),
      float16: Type.Integer({ minimum: 0 }),
      bfloat16: Type.Integer({ minimum: 0 }),
      int8: Type.Integer({ minimum: 0 }),
      int4: Type.Integer({ minimum: 0, description: 'Half a byte an element, rounded up; a quantized cache\'s scales are not counted.' })
    }, { additionalProperties: false })
  }, {
    description: 'A transformers decoder\'s key/value cache as DynamicCache(config=model.config) holds it after sequenceLength tokens of batchSize ' +
      'sequences: 2 x batchSize x kvHeads x headDim x tokensHeld elements. Absent for torch.nn modules and for encoder and encoder-decoder models (BERT, T5).',
    additionalProperties: false
  }))
}, { $id: 'Estimate', title: 'Estimate', description: 'Memory PyTorch would allocate for this module.', additionalProperties: false })

export const nnSchemas = [DTypeName, ModuleSpec, PythonModuleSpec, AnyModuleSpec, TensorInfo, SignatureParam, ModuleClass, ModuleClassList, Estimate]

/** Query parameters of POST /v1/estimate: the batch a decoder's key/value cache is sized for. */
export const EstimateQuery = Type.Object({
  batchSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_048_576, description: 'Sequences in the batch (default 1).' })),
  sequenceLength: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_073_741_824, description: 'Tokens per sequence (default the config\'s max_position_embeddings).' }))
}, { additionalProperties: false })

/** Path parameters of GET /v1/modules/{name}. */
export const ModuleClassParams = Type.Object({ name: Type.String({ description: 'Class name.', maxLength: 200 }) })
