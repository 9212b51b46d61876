// Seeded init of transformers models against transformers itself: test/fixtures/transformers-init
// holds, for every case of scripts/golden/make-transformers-init.py and two seeds, the sha256 of
// each tensor that `torch.manual_seed(seed); AutoModelForCausalLM.from_config(cfg)` (or the class
// called on its config) leaves, in transformers 5.18 / torch 2.13. Every case is materialized over
// HTTP, resident on both devices and lazy, and compared tensor by tensor; rng "philox" gives the
// same bytes resident and lazy, draws what the plan says, and leaves the constants transformers
// writes. The plan itself (draw order, skipped draws, tied lm_head) is checked without HTTP.
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, safetensorsTensors } from '../helper.js'
import { buildModuleTree } from '../../src/nn/build.js'
import { castTensors, planArena } from '../../src/materialize/plan.js'
import { planInit } from '../../src/materialize/init-plan.js'
import { replayModule } from '../../src/init/module-init.js'

type Entry = [name: string, dtype: string, shape: number[], sha256: string, first: string[]]
interface Case { id: string, spec: object, dtype?: string, results: Record<string, Entry[]> }
interface Golden { transformers: string, torch: string, seeds: number[], cases: Case[] }

const golden = JSON.parse(readFileSync(new URL('../fixtures/transformers-init/transformers-init.json', import.meta.url), 'utf8')) as Golden
const elementSize: Record<string, number> = { float32: 4, float64: 8, float16: 2, bfloat16: 2 }

function firstHex (bytes: Buffer, dtype: string): string[] {
  const size = elementSize[dtype] ?? 1
  const out: string[] = []
  for (let i = 0; i < Math.min(4, bytes.length / size); i++) out.push(Buffer.from(bytes.subarray(i * size, (i + 1) * size)).reverse().toString('hex'))
  return out
}

async function post (app: FastifyInstance, url: string, payload: object): Promise<Record<string, any>> {
  const res = await app.inject({ method: 'POST', url, payload })
  if (res.statusCode !== 201) throw new Error(`${url}: ${res.statusCode} ${res.body}`)
  return res.json()
}

type Tensors = Array<{ name: string, dtype: string, shape: number[], href: string }>

/**
 * name → bytes of every tensor: the state_dict from the materialization's safetensors file (a tied
 * alias from the file's __metadata__), the non-persistent buffers (not in the file) one by one.
 */
async function bytesOf (app: FastifyInstance, sid: string, m: { id: string, tensors: Tensors }): Promise<Map<string, Buffer>> {
  const file = (await app.inject(`/v1/sessions/${sid}/materializations/${m.id}/safetensors`)).rawPayload
  const stored = safetensorsTensors(file)
  const header = JSON.parse(file.subarray(8, 8 + Number(file.readBigUInt64LE(0))).toString('utf8')) as { __metadata__?: Record<string, string> }
  const out = new Map<string, Buffer>()
  for (const x of m.tensors) {
    const kept = stored.get(x.name) ?? stored.get(header.__metadata__?.[x.name] ?? '')
    out.set(x.name, kept ?? (await app.inject(x.href)).rawPayload)
  }
  return out
}

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

t.test('init default equals transformers, bit for bit, resident (cpu, worker) and lazy', async (t) => {
  const app = await build(t)
  const sid = (await post(app, '/v1/sessions', {})).id as string
  let compared = 0
  for (const c of golden.cases) {
    const mod = await post(app, `/v1/sessions/${sid}/modules`, c.spec)
    for (const seed of golden.seeds) {
      const want = c.results[String(seed)] as Entry[]
      for (const mode of [{ device: 'cpu' }, { device: 'worker' }, { lazy: true }]) {
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
  const exec = planInit(root, planArena(castTensors(built.tensors)), { base: 'default', overrides: [], rng: 'torch', seed: 0 })
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
