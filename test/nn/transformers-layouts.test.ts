// Golden transformers layouts: every case in test/fixtures/transformers-layouts.json (written by
// scripts/golden/make-transformers-layouts.py with transformers 5.18) must build to exactly the
// state_dict transformers reports (names, shapes, dtypes, ties, then non-persistent buffers), with
// the buffers' constructor values bit for bit, or fail with transformers' message.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { buildModule } from '../../src/nn/index.js'
import { MateriaError, errorDefs } from '../../src/errors.js'
import type { TensorSpec } from '../../src/tensor/spec.js'
import { valuesBytes } from '../../src/materialize/constant-fill.js'
import { configFields } from '../../src/nn/transformers/config.js'
import { CONFIG_DEFS } from '../../src/nn/transformers/index.js'

interface GoldenCase {
  id: string
  spec: unknown
  transformers: string
  tensors?: Array<Record<string, unknown>>
  buffers?: Record<string, string>
  error?: { type: string, message: string }
}

const cases = JSON.parse(readFileSync(new URL('../fixtures/transformers-layouts.json', import.meta.url), 'utf8')) as GoldenCase[]

const FIELDS = ['name', 'kind', 'shape', 'dtype', 'stride', 'numel', 'nbytes', 'requiresGrad', 'persistent', 'tiedTo']
const pick = (x: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(FIELDS.filter((k) => x[k] !== undefined).map((k) => [k, x[k]]))

/** Little-endian bytes of a buffer's constructor values in its dtype (element by element, or one fill), hex. */
function valuesHex (t: TensorSpec): string | undefined {
  const values = t.values ?? (t.fill !== undefined ? new Array<number>(t.numel).fill(t.fill) : undefined)
  return values === undefined ? undefined : Buffer.from(valuesBytes(t.dtype, values)).toString('hex')
}

t.ok(cases.length > 40, 'golden fixture has cases')
t.ok(cases.every((c) => c.transformers === '5.18.0'), 'made with transformers 5.18.0')

for (const c of cases) {
  t.test(c.id, async (t) => {
    if (c.error !== undefined) {
      let err: unknown
      try { buildModule(c.spec) } catch (e) { err = e }
      t.ok(err instanceof MateriaError, 'refused')
      const e = err as MateriaError
      t.equal(e.code, errorDefs.constructorArgs.code)
      if (c.error.message.startsWith('Unrecognized model identifier')) {
        // transformers lists its ~500 model types; materia lists the ones it builds
        t.equal(e.message.split('. ')[0], c.error.message.split('. ')[0])
      } else {
        t.equal(e.message, c.error.message)
      }
      return
    }
    const built = buildModule(c.spec)
    t.strictSame(built.tensors.map((x) => x.name), (c.tensors ?? []).map((x) => x.name), 'names in state_dict order, then non-persistent buffers')
    t.strictSame(built.tensors.map((x) => pick(x as unknown as Record<string, unknown>)), (c.tensors ?? []).map(pick), 'tensor infos')
    for (const [name, hex] of Object.entries(c.buffers ?? {})) {
      const tensor = built.tensors.find((x) => x.name === name)
      t.equal(tensor === undefined ? undefined : valuesHex(tensor), hex, `${name} bit for bit`)
    }
  })
}

// Refusals with no transformers answer to compare against: transformers builds these, materia does not
t.test('classes materia does not build are refused by name', async (t) => {
  const refused = (spec: unknown): string => {
    try { buildModule(spec) } catch (e) { t.equal((e as MateriaError).code, errorDefs.constructorArgs.code); return (e as Error).message }
    return t.fail('built') as unknown as string
  }
  t.match(refused({ config: { model_type: 'gemma3' } }), /Gemma3ForConditionalGeneration.*model_type 'gemma3_text'/, 'the image-and-text Gemma3Config')
  t.match(refused({ config: { model_type: 't5' } }), /AutoModelForCausalLM\. Name the class in 'architectures' \(T5Model, T5ForConditionalGeneration, T5EncoderModel\)$/,
    'T5 without architectures: AutoModelForCausalLM has no T5 class')
  // transformers' text begins with the repr of the half-built layer
  t.equal(refused({ class: 'transformers.BertModel', args: [{ class: 'transformers.BertConfig', kwargs: { add_cross_attention: true } }] }),
    'BertLayer should be used as a decoder model if cross attention is added')
  t.match(refused({ class: 'transformers.BertModel', args: [{ class: 'transformers.BertConfig', kwargs: { max_position_embeddings: 2 ** 21 } }] }),
    /position_ids for at most 1048576 positions/)
})

// The one definition per config class drives validation and GET /v1/modules: its fields and defaults must be transformers' own
t.test('config classes: dataclass fields in order with their defaults', async (t) => {
  const golden = JSON.parse(readFileSync(new URL('../fixtures/transformers-config-fields.json', import.meta.url), 'utf8')) as Record<string, Array<[string, unknown]>>
  t.strictSame(CONFIG_DEFS.map((d) => d.name).sort(), Object.keys(golden).sort(), 'every config class is in the golden file')
  for (const def of CONFIG_DEFS) t.strictSame(configFields(def).map(([n, f]) => [n, f.default]), golden[def.name], def.name)
})
