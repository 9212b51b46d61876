// Hugging Face models over HTTP: a config.json builds the model transformers builds (golden layouts
// from test/fixtures/transformers-layouts.json), materializes with inv_freq bit for bit on both
// fill paths, estimates, and the catalog lists the classes with their config fields.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { build, assertErrorBody } from '../helper.js'
import { errorDefs } from '../../src/errors.js'

interface GoldenCase { id: string, spec: Record<string, unknown>, tensors?: Array<{ name: string, dtype: string, shape: number[] }>, buffers?: Record<string, string> }
const golden = JSON.parse(readFileSync(new URL('../fixtures/transformers-layouts.json', import.meta.url), 'utf8')) as GoldenCase[]
const find = (id: string): GoldenCase => golden.find((c) => c.id === id) as GoldenCase

t.test('a config.json becomes a module, materializes with transformers\' inv_freq, and rebuilds under its dtype', async (t) => {
  const app = await build(t)
  const sid = (await app.inject({ method: 'POST', url: '/v1/sessions' })).json().id as string
  for (const id of ['llama-shorthand-bf16', 'qwen3-shorthand-bf16', 'llama-rope-llama3', 'bert-model', 't5-shorthand-bf16']) {
    const c = find(id)
    const res = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules`, payload: c.spec })
    t.equal(res.statusCode, 201, id)
    const mod = res.json() as { id: string, class: string, config?: unknown, tensors: Array<{ name: string, dtype: string, shape: number[] }> }
    t.strictSame(mod.tensors.map((x) => [x.name, x.dtype, x.shape]), (c.tensors ?? []).map((x) => [x.name, x.dtype, x.shape]), `${id}: transformers' layout`)
    t.equal(mod.class.startsWith('transformers.'), true)
    t.strictSame(mod.config, (c.spec as { config?: unknown }).config, 'the config is kept as given')
    for (const device of ['cpu', 'worker']) {
      // a materialization rebuilds the module from its record: the bfloat16 parameters must stay bfloat16
      const m = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules/${mod.id}/materializations`, payload: { init: 'empty', device } })
      t.equal(m.statusCode, 201)
      const mat = m.json() as { tensors: Array<{ name: string, href: string, dtype: string }> }
      t.strictSame(mat.tensors.map((x) => x.dtype), (c.tensors ?? []).map((x) => x.dtype), `${id} ${device}: dtypes after rebuild`)
      for (const [name, hex] of Object.entries(c.buffers ?? {})) {
        const href = mat.tensors.find((x) => x.name === name)?.href ?? ''
        const bytes = await app.inject(href)
        t.equal(bytes.rawPayload.toString('hex'), hex, `${id} ${device}: ${name} bit for bit`)
        const part = await app.inject({ url: href, headers: { range: 'bytes=4-11' } })
        t.equal(part.statusCode, 206)
        t.equal(part.rawPayload.toString('hex'), hex.slice(8, 24), `${name}: a range of it`)
      }
    }
  }
})

t.test('init zeros and a dtype cast still give inv_freq its values, rounded to the stored dtype', async (t) => {
  const app = await build(t)
  const sid = (await app.inject({ method: 'POST', url: '/v1/sessions' })).json().id as string
  const c = find('llama-causal-lm')
  const mid = (await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules`, payload: c.spec })).json().id as string
  const m = (await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules/${mid}/materializations`, payload: { init: 'zeros', dtype: 'float64' } })).json() as { tensors: Array<{ name: string, href: string }> }
  const href = m.tensors.find((x) => x.name === 'model.rotary_emb.inv_freq')?.href ?? ''
  const got = new Float64Array(new Uint8Array((await app.inject(href)).rawPayload).buffer)
  const want = new Float32Array(new Uint8Array(Buffer.from(c.buffers?.['model.rotary_emb.inv_freq'] ?? '', 'hex')).buffer)
  t.strictSame([...got], [...want], 'float32 values widened exactly')
  const w = m.tensors.find((x) => x.name === 'model.norm.weight')?.href ?? ''
  t.ok(new Uint8Array((await app.inject(w)).rawPayload).every((b) => b === 0), 'parameters zeros')
})

t.test('estimate from a config, and refusals', async (t) => {
  const app = await build(t)
  const c = find('llama-gqa-tied')
  const est = await app.inject({ method: 'POST', url: '/v1/estimate', payload: c.spec })
  t.equal(est.statusCode, 200)
  const e = est.json() as { class: string, totals: { numel: number } }
  t.equal(e.class, 'transformers.LlamaForCausalLM')
  const tensors = (c.tensors ?? []).filter((x) => !('tiedTo' in x))
  t.equal(e.totals.numel, tensors.reduce((n, x) => n + x.shape.reduce((p, d) => p * d, 1), 0), 'tied lm_head counted once')

  const bad = await app.inject({ method: 'POST', url: '/v1/estimate', payload: { config: { model_type: 'llama', hidden_size: 'x' } } })
  t.match(assertErrorBody(t, bad, 400, errorDefs.constructorArgs.code).message, /^Validation error for field 'hidden_size'/)
  const big = await app.inject({ method: 'POST', url: '/v1/estimate', payload: { config: { model_type: 'llama', num_hidden_layers: 1000000 } } })
  t.equal(big.statusCode, 413, 'a million layers are refused before they are built')
  const skip = await app.inject({ method: 'POST', url: `/v1/sessions/${(await app.inject({ method: 'POST', url: '/v1/sessions' })).json().id as string}/skip_init`, payload: { config: { model_type: 'llama' } } })
  assertErrorBody(t, skip, 400, errorDefs.noDeviceArg.code)
  const both = await app.inject({ method: 'POST', url: '/v1/estimate', payload: { config: { model_type: 'llama' }, args: [] } })
  t.equal(both.statusCode, 400)
})

t.test('estimate: accelerate\'s table for any module, a decoder\'s KV cache for the batch asked', async (t) => {
  const app = await build(t)
  const spec = find('gemma3-shorthand-bf16').spec
  const res = await app.inject({ method: 'POST', url: '/v1/estimate?batchSize=3&sequenceLength=100', payload: spec })
  t.equal(res.statusCode, 200)
  const e = res.json() as { calculator: { float32: { totalSize: number }, int4: { trainingAdam: unknown } }, kvCache: Record<string, unknown> }
  t.equal(e.calculator.int4.trainingAdam, null, 'no Adam figure for int4, as accelerate prints N/A')
  // 7 layers, every sixth full: 6 sliding layers keep sliding_window - 1 = 4095 >= 100 tokens, so all 100
  t.match(e.kvCache, { batchSize: 3, sequenceLength: 100, layers: 7, slidingLayers: 6, slidingWindow: 4096, kvHeads: 2, headDim: 32, tokensHeld: 700, dtype: 'bfloat16' })
  t.equal(e.kvCache.nbytes, 2 * 3 * 2 * 32 * 700 * 2)
  const byDefault = (await app.inject({ method: 'POST', url: '/v1/estimate', payload: spec })).json() as { kvCache: { batchSize: number, sequenceLength: number } }
  t.match(byDefault.kvCache, { batchSize: 1, sequenceLength: 131072 }, 'default: one sequence of max_position_embeddings tokens (Gemma3TextConfig: 131072)')
  const bert = (await app.inject({ method: 'POST', url: '/v1/estimate?batchSize=2', payload: find('bert-model').spec })).json() as Record<string, unknown>
  t.equal(bert.kvCache, undefined, 'an encoder has no decoder cache')
  t.ok(bert.calculator !== undefined)
  const lin = (await app.inject({ method: 'POST', url: '/v1/estimate', payload: { class: 'Linear', args: [4, 8] } })).json() as { calculator: { float32: { totalSize: number } } }
  t.equal(lin.calculator.float32.totalSize, (4 * 8 + 8) * 4, 'torch.nn modules get the table too')
  assertErrorBody(t, await app.inject({ method: 'POST', url: '/v1/estimate?batchSize=0', payload: spec }), 400, errorDefs.validation.code)
  assertErrorBody(t, await app.inject({ method: 'POST', url: '/v1/estimate?sequenceLength=x', payload: spec }), 400, errorDefs.validation.code)
  // products past 2^53 are refused rather than rounded
  const huge = await app.inject({
    method: 'POST',
    url: '/v1/estimate?batchSize=1048576&sequenceLength=1073741824',
    payload: { config: { model_type: 'llama', num_hidden_layers: 4 } }
  })
  t.match(assertErrorBody(t, huge, 400, errorDefs.specTooLarge.code).message, /KV cache/)
})

t.test('the catalog lists transformers classes and their config fields with defaults', async (t) => {
  const app = await build(t)
  const list = (await app.inject('/v1/modules')).json() as { modules: Array<{ qualname: string }> }
  for (const q of ['transformers.LlamaForCausalLM', 'transformers.LlamaModel', 'transformers.Qwen3ForCausalLM', 'transformers.LlamaConfig', 'transformers.MistralConfig',
    'transformers.BertModel', 'transformers.BertConfig', 'transformers.T5ForConditionalGeneration', 'transformers.T5Config', 'transformers.Gemma3ForCausalLM',
    'transformers.Gemma3TextModel', 'transformers.Gemma3TextConfig']) {
    t.ok(list.modules.some((m) => m.qualname === q), q)
  }
  const cfg = (await app.inject('/v1/modules/transformers.Qwen3Config')).json() as { signature: Array<{ name: string, default?: unknown, type: string }> }
  const byName = new Map(cfg.signature.map((p) => [p.name, p]))
  t.equal(byName.get('head_dim')?.default, 128)
  t.equal(byName.get('vocab_size')?.default, 151936)
  t.equal(byName.get('sliding_window')?.type, 'int | None')
  const model = (await app.inject('/v1/modules/LlamaForCausalLM')).json() as { signature: Array<{ name: string, type: string }> }
  t.strictSame(model.signature.map((p) => [p.name, p.type]), [['config', 'LlamaConfig']])
})

t.test('a config with more keys than any real one is refused before it is read', async (t) => {
  const app = await build(t)
  const config: Record<string, unknown> = { model_type: 'llama' }
  for (let i = 0; i < 1000; i++) config[`k${i}`] = i
  const res = await app.inject({ method: 'POST', url: '/v1/estimate', payload: { class: 'transformers.LlamaModel', args: [{ class: 'transformers.LlamaConfig', kwargs: config }] } })
  t.equal(assertErrorBody(t, res, 400, errorDefs.constructorArgs.code).message, 'LlamaConfig takes at most 1000 keys; got 1001')
})

t.test('BERT and T5: default (transformers\' _init_weights), zeros, ones and init specs materialize', async (t) => {
  const app = await build(t)
  const sid = (await app.inject({ method: 'POST', url: '/v1/sessions' })).json().id as string
  for (const id of ['bert-model', 'bert-masked-lm', 't5-conditional-generation']) {
    const mid = (await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules`, payload: find(id).spec })).json().id as string
    const url = `/v1/sessions/${sid}/modules/${mid}/materializations`
    // the values are checked against transformers in transformers-init.test.ts
    for (const init of [{ init: 'default', seed: 1 }, { init: 'zeros' }, { init: 'ones' }, { init: { default: 'zeros', overrides: { '*.weight': { fn: 'ones_' } } } }]) {
      const m = await app.inject({ method: 'POST', url, payload: { ...init, wait: true } })
      t.equal(m.statusCode, 201, `${id}: ${JSON.stringify(init)}: ${m.body}`)
    }
  }
})

t.test('print(module) of a transformers model is a 501 that says so, not a guess', async (t) => {
  const app = await build(t)
  const sid = (await app.inject({ method: 'POST', url: '/v1/sessions' })).json().id as string
  const mod = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules`, payload: { config: { model_type: 'llama', architectures: ['LlamaForCausalLM'], vocab_size: 16, hidden_size: 8, intermediate_size: 8, num_hidden_layers: 1, num_attention_heads: 2 } } })
  t.equal(mod.statusCode, 201, mod.body)
  const res = await app.inject({ method: 'GET', url: `/v1/sessions/${sid}/modules/${mod.json().id as string}/repr` })
  t.equal(res.statusCode, 501)
  t.equal(res.json().code, 'MATERIA_ERR_REPR_UNAVAILABLE')
  t.match(res.json().message, /transformers\.LlamaForCausalLM/)
})
