// Golden memory estimates: test/fixtures/estimate-golden.json (scripts/golden/make-estimate-golden.py,
// accelerate 1.15 and transformers 5.18) holds, per module, the table accelerate's estimate-memory
// computes for it and, for decoders, the bytes transformers' DynamicCache holds after a prefill
// (from a real forward pass of the small models, from the cache's own update() for the large ones).
import t from 'tap'
import { readFileSync } from 'node:fs'
import { buildModuleTree } from '../../src/nn/index.js'
import { estimateModule } from '../../src/nn/estimate.js'

interface GoldenCase {
  id: string
  spec: unknown
  transformers: string
  accelerate: string
  calculator: Record<string, unknown>
  kvCache?: { batchSize: number, sequenceLength: number, method: string, nbytes: number }
}

const cases = JSON.parse(readFileSync(new URL('../fixtures/estimate-golden.json', import.meta.url), 'utf8')) as GoldenCase[]

t.ok(cases.length >= 20, 'golden fixture has cases')
t.ok(cases.every((c) => c.transformers === '5.18.0' && c.accelerate === '1.15.0'), 'made with transformers 5.18.0 and accelerate 1.15.0')
t.ok(cases.some((c) => c.kvCache?.method === 'forward') && cases.some((c) => c.kvCache?.method === 'cache-update'), 'both cache methods')

for (const c of cases) {
  t.test(c.id, async (t) => {
    const { root, built } = buildModuleTree(c.spec)
    const e = estimateModule(root, built.tensors, c.kvCache === undefined ? {} : { batchSize: c.kvCache.batchSize, sequenceLength: c.kvCache.sequenceLength })
    t.strictSame(e.calculator, c.calculator, 'accelerate estimate-memory table')
    if (c.kvCache !== undefined) {
      t.equal(e.kvCache?.nbytes, c.kvCache.nbytes, `KV cache bytes (${c.kvCache.method})`)
      t.equal(e.kvCache?.batchSize, c.kvCache.batchSize)
      t.equal(e.kvCache?.sequenceLength, c.kvCache.sequenceLength)
    } else if (/^(bert|t5|torch)/.test(c.id)) {
      t.equal(e.kvCache, undefined, 'no decoder cache')
    }
  })
}
