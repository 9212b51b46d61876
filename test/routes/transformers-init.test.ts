// Seeded init of transformers models against transformers itself: test/fixtures/transformers-init
// holds, for every case of scripts/golden/make-transformers-init.py and two seeds, the sha256 of
// each tensor that `torch.manual_seed(seed); AutoModelForCausalLM.from_config(cfg)` (or the class
// called on its config) leaves, in transformers 5.18 / torch 2.13. Every case is materialized over
// HTTP, resident and lazy, and compared tensor by tensor. rng "philox" and the plan:
// test/routes/transformers-init-philox.test.ts.
import { createHash } from 'node:crypto'
import t from 'tap'
import { build } from '../helper.js'
import { bytesOf, type Entry, firstHex, golden, post, type Tensors } from './transformers-init-golden.js'

t.test('golden fixture is from transformers 5.18 and torch 2.13', async (t) => {
  t.equal(golden.transformers, '5.18.0')
  t.match(golden.torch, /^2\.13\./)
  t.equal(golden.seeds.length, 2)
  const classes = new Set(golden.cases.map((c) => JSON.stringify(c.spec).match(/"(?:class|architectures)":\s*\[?"(?:transformers\.)?(\w+(?:ForCausalLM|Model|LMHeadModel))"/)?.[1]))
  for (const c of ['LlamaForCausalLM', 'LlamaModel', 'MistralForCausalLM', 'MixtralForCausalLM', 'Qwen2ForCausalLM', 'Qwen3ForCausalLM',
    'Qwen3Model', 'Qwen3MoeForCausalLM', 'Phi3ForCausalLM', 'Gemma2ForCausalLM', 'Gemma2Model', 'GPT2LMHeadModel', 'GPT2Model']) {
    t.ok(classes.has(c), `${c} has a case`)
  }
})

t.test('init default equals transformers, bit for bit, resident and lazy', async (t) => {
  const app = await build(t)
  const sid = (await post(app, '/v1/sessions', {})).id as string
  let compared = 0
  for (const c of golden.cases) {
    const mod = await post(app, `/v1/sessions/${sid}/modules`, c.spec)
    for (const seed of golden.seeds) {
      const want = c.results[String(seed)] as Entry[]
      // resident on one device per seed (golden-init.test.ts runs every torch.nn case on both), and lazy
      for (const mode of [seed === golden.seeds[0] ? { device: 'cpu' } : { device: 'worker' }, { lazy: true }]) {
        const body: Record<string, unknown> = { init: 'default', seed, rng: 'torch', ...mode, ...(c.dtype !== undefined ? { dtype: c.dtype } : {}) }
        const m = await post(app, `/v1/sessions/${sid}/modules/${mod.id as string}/materializations`, body)
        const tensors = m.tensors as Tensors
        const problems: string[] = []
        if (tensors.map((x) => x.name).join() !== want.map((x) => x[0]).join()) problems.push('tensor names differ')
        const got = await bytesOf(app, sid, m as { id: string, tensors: Tensors })
        for (const [name, dtype, shape, sha, first] of want) {
          const info = tensors.find((x) => x.name === name)
          const bytes = got.get(name)
          if (info === undefined || bytes === undefined) { problems.push(`${name}: missing`); continue }
          if (info.dtype !== dtype || info.shape.join() !== shape.join()) problems.push(`${name}: ${info.dtype}[${info.shape}] != ${dtype}[${shape}]`)
          if (createHash('sha256').update(bytes).digest('hex') !== sha) {
            problems.push(`${name}: bytes differ; first elements ${firstHex(bytes, dtype).join(' ')} vs transformers ${first.join(' ')}`)
          }
          compared++
        }
        t.same(problems, [], `${c.id} seed ${seed} ${JSON.stringify(mode)}`)
        await app.inject({ method: 'DELETE', url: `/v1/sessions/${sid}/materializations/${m.id as string}` })
      }
    }
  }
  t.comment(`${compared} tensors compared`)
})
