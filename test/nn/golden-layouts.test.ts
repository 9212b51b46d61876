// Golden layouts from real PyTorch: every case in test/fixtures/nn-layouts.json (written by
// scripts/golden/make-nn-layouts.py from test/fixtures/nn-cases.json) must build to exactly the
// tensors PyTorch reports, or fail with exactly PyTorch's message.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { buildModule } from '../../src/nn/index.js'
import { MateriaError, errorDefs } from '../../src/errors.js'

interface GoldenTensor {
  name: string
  kind: 'parameter' | 'buffer'
  shape: number[]
  dtype: string
  stride: number[]
  numel: number
  nbytes: number
  requiresGrad: boolean
  persistent: boolean
  tiedTo?: string
}

interface GoldenCase {
  id: string
  spec: unknown
  torch: string
  tensors?: GoldenTensor[]
  error?: { type: string, message: string }
}

const cases = JSON.parse(
  readFileSync(new URL('../fixtures/nn-layouts.json', import.meta.url), 'utf8')
) as GoldenCase[]

// Only the fields of the TensorInfo contract; the TensorSpec extra (fill) is not golden.
function pick (x: GoldenTensor): GoldenTensor {
  const out: GoldenTensor = {
    name: x.name,
    kind: x.kind,
    shape: x.shape,
    dtype: x.dtype,
    stride: x.stride,
    numel: x.numel,
    nbytes: x.nbytes,
    requiresGrad: x.requiresGrad,
    persistent: x.persistent
  }
  if (x.tiedTo !== undefined) out.tiedTo = x.tiedTo
  return out
}

// PyTorch formats some Python sets into messages ({'zeros', 'reflect', ...}); their order depends
// on the hash seed, so compare the elements sorted.
function normalizeSets (message: string): string {
  return message.replace(/\{('[^']*'(?:, '[^']*')*)\}/g, (_m, items: string) =>
    `{${items.split(', ').sort().join(', ')}}`)
}

function thrown (spec: unknown): unknown {
  try {
    buildModule(spec)
  } catch (err) {
    return err
  }
  return undefined
}

t.ok(cases.length > 0, 'golden fixture has cases')

for (const c of cases) {
  t.test(c.id, t => {
    if (c.tensors !== undefined) {
      let built: ReturnType<typeof buildModule> | undefined
      try {
        built = buildModule(c.spec)
      } catch (err) {
        t.fail(`PyTorch builds this spec, buildModule threw: ${String(err)}`)
      }
      if (built !== undefined) {
        t.strictSame(built.tensors.map(x => x.name), c.tensors.map(x => x.name), 'tensor names in state_dict order')
        t.strictSame(built.tensors.map(pick), c.tensors.map(pick), 'tensor infos')
      }
    } else if (c.error !== undefined) {
      const err = thrown(c.spec)
      t.ok(err instanceof MateriaError, `throws a MateriaError (PyTorch: ${c.error.type})`)
      if (err instanceof MateriaError) {
        if (c.error.type === 'UnknownClass') {
          // materia's own 404; the close-match list after the golden prefix is materia's choice
          t.equal(err.statusCode, 404, 'status 404')
          t.equal(err.code, errorDefs.unknownClass.code, 'unknownClass code')
          t.ok(err.message.startsWith(c.error.message), `message starts with ${JSON.stringify(c.error.message)}; got ${JSON.stringify(err.message)}`)
        } else {
          t.equal(err.statusCode, 400, 'status 400')
          t.equal(normalizeSets(err.message), normalizeSets(c.error.message), `same message as PyTorch's ${c.error.type}`)
        }
      }
    } else {
      t.fail('golden case has neither tensors nor error')
    }
    t.end()
  })
}
