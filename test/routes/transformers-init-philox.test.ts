// Seeded init of transformers models, the parts without transformers' bits: rng "philox" (the same
// bytes resident and lazy, transformers' constants, streams of their own) and the plan the replay
// makes (constructor draws, then _init_weights children first, tied and overwritten draws).
// Values against transformers: test/routes/transformers-init.test.ts.
import t from 'tap'
import { build } from '../helper.js'
import { buildModuleTree } from '../../src/nn/build.js'
import { castTensors, planArena } from '../../src/materialize/plan.js'
import { planInit } from '../../src/materialize/init-plan.js'
import { replayModule } from '../../src/init/module-init.js'
import { bytesOf, type Case, golden, post, type Tensors } from './transformers-init-golden.js'

t.test('rng philox: same bytes resident and lazy, transformers\' constants, a fresh stream per tensor', async (t) => {
  const app = await build(t)
  const sid = (await post(app, '/v1/sessions', {})).id as string
  for (const id of ['llama-gqa-tied', 'mixtral-shorthand-bf16', 'gemma2-causal-lm', 'gpt2-lm-head']) {
    const c = golden.cases.find((x) => x.id === id) as Case
    const mod = await post(app, `/v1/sessions/${sid}/modules`, c.spec)
    const mat = async (extra: object): Promise<Map<string, Buffer>> => {
      const m = await post(app, `/v1/sessions/${sid}/modules/${mod.id as string}/materializations`, { init: 'default', seed: 5, ...extra })
      return await bytesOf(app, sid, m as { id: string, tensors: Tensors })
    }
    const resident = await mat({ rng: 'philox', device: 'worker' })
    const lazy = await mat({ rng: 'philox', lazy: true })
    const torchRng = await mat({ rng: 'torch' })
    for (const [name, bytes] of resident) {
      t.ok(bytes.equals(lazy.get(name) as Buffer), `${id} ${name}: lazy = resident`)
      const drawn = /(proj|embed_tokens|wte|wpe|lm_head|c_attn|c_fc|gate)\.weight$|experts\.(gate_up|down)_proj$/.test(name)
      if (drawn) t.not(bytes.toString('hex'), (torchRng.get(name) as Buffer).toString('hex'), `${id} ${name}: its own stream, not torch's`)
      else t.ok(bytes.equals(torchRng.get(name) as Buffer), `${id} ${name}: constants (norms, zero biases, buffers) as transformers writes them`)
    }
  }
})

t.test('the plan: constructor draws, then _init_weights post-order; tied lm_head drawn and dropped; GPT-2 c_proj drawn three times', async (t) => {
  const what = (spec: object): string[] => replayModule(buildModuleTree(spec).root).recorder.ops.map((o) => `${o.numel} ${o.dist.kind}(${o.dist.kind === 'normal' ? o.dist.std : ''}) ${o.what}`)
  const cfg = { vocab_size: 10, hidden_size: 8, intermediate_size: 12, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, tie_word_embeddings: true, pad_token_id: 2 }
  const llama = { class: 'transformers.LlamaForCausalLM', args: [{ class: 'transformers.LlamaConfig', kwargs: cfg }] }
  t.strictSame(what(llama), [
    // LlamaModel.__init__: nn.Embedding, then the layer's Linears (kaiming_uniform_, no biases)
    '80 normal(1) normal_ on Embedding.weight',
    '64 uniform() kaiming_uniform_(a=sqrt(5)) on Linear.weight', '32 uniform() kaiming_uniform_(a=sqrt(5)) on Linear.weight',
    '32 uniform() kaiming_uniform_(a=sqrt(5)) on Linear.weight', '64 uniform() kaiming_uniform_(a=sqrt(5)) on Linear.weight',
    '96 uniform() kaiming_uniform_(a=sqrt(5)) on Linear.weight', '96 uniform() kaiming_uniform_(a=sqrt(5)) on Linear.weight',
    '96 uniform() kaiming_uniform_(a=sqrt(5)) on Linear.weight',
    // LlamaModel.post_init: children first, in registration order
    '80 normal(0.02) normal_(std=0.02) on Embedding.weight',
    '64 normal(0.02) normal_(std=0.02) on Linear.weight', '32 normal(0.02) normal_(std=0.02) on Linear.weight',
    '32 normal(0.02) normal_(std=0.02) on Linear.weight', '64 normal(0.02) normal_(std=0.02) on Linear.weight',
    '96 normal(0.02) normal_(std=0.02) on Linear.weight', '96 normal(0.02) normal_(std=0.02) on Linear.weight',
    '96 normal(0.02) normal_(std=0.02) on Linear.weight',
    // LlamaForCausalLM: lm_head built after the model's init, then initialized, then tied away
    '80 uniform() kaiming_uniform_(a=sqrt(5)) on Linear.weight', '80 normal(0.02) normal_(std=0.02) on Linear.weight'
  ])
  const { root, built } = buildModuleTree(llama)
  const exec = planInit(root, planArena(castTensors(built.tensors, undefined)), { base: 'default', overrides: [], rng: 'torch', seed: 0 })
  t.equal(exec.ops.length, 18)
  t.strictSame(exec.values.map((v) => v.op), [8, 9, 10, 11, 12, 13, 14, 15], 'only _init_weights draws survive; lm_head\'s are skipped')
  const embed = exec.outputs.find((o) => o.name === 'model.embed_tokens.weight')
  t.strictSame(embed?.patches, [{ start: 16, count: 8, value: 0 }], 'padding row zeroed after the draw')
  t.equal(exec.outputs.some((o) => o.name === 'lm_head.weight'), false, 'lm_head is an alias of the embedding')

  const gpt = { class: 'transformers.GPT2Model', args: [{ class: 'transformers.GPT2Config', kwargs: { vocab_size: 10, n_embd: 4, n_layer: 2, n_head: 2, n_positions: 8 } }] }
  const cProj = what(gpt).filter((w) => w.startsWith('16 ') && w.includes('c_proj'))
  t.strictSame(cProj, ['16 normal(0.01) normal_(std=0.01) on GPT2Attention.c_proj.weight', '16 normal(0.01) normal_(std=0.01) on GPT2Attention.c_proj.weight'],
    'std 0.02 / sqrt(2 * n_layer), after the Conv1D rule drew it with 0.02')
  const ops = what(gpt)
  t.equal(ops.filter((w) => w.includes('Conv1D.weight')).length, 16, 'each Conv1D drawn at construction and again in _init_weights')
})
