// @bench quick: 2 1
// Benchmark: a Llama-3-70B config.json (80 layers, hidden 8192, 64 heads, 8 KV heads, vocabulary
// 128256, bfloat16; 70.6 B parameters, 723 state_dict tensors, and the 2 non-persistent inv_freq
// buffers materia lists too) built on the meta device. materia: POST
// /v1/sessions/{sid}/modules with {"config": …} over loopback (one keep-alive connection), the whole
// round trip including the tensor table in the response; median of `iterations` after warm-up.
// Baseline in the same run: transformers' own AutoModelForCausalLM.from_config under
// `with torch.device("meta")` plus state_dict() (bench/transformers-meta-build.py, with `PYTHON`,
// which must import transformers), median of `pyIterations` after one warm-up.
// Run: PYTHON=/path/to/python npx tsx bench/hf-meta-build.ts [iterations=50] [pyIterations=5]
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Agent } from 'node:http'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { BENCH_ENV, call, median } from './loopback.js'
import { report } from './report.js'

const iterations = Number(process.argv[2] ?? 50)
const pyIterations = Number(process.argv[3] ?? 5)
// meta-llama/Meta-Llama-3-70B's config.json (the fields that shape the model)
const config = {
  model_type: 'llama',
  architectures: ['LlamaForCausalLM'],
  vocab_size: 128256,
  hidden_size: 8192,
  intermediate_size: 28672,
  num_hidden_layers: 80,
  num_attention_heads: 64,
  num_key_value_heads: 8,
  max_position_embeddings: 8192,
  rope_theta: 500000.0,
  rms_norm_eps: 1e-5,
  tie_word_embeddings: false,
  torch_dtype: 'bfloat16',
  bos_token_id: 128000,
  eos_token_id: 128001
}
const figure = 'POST a Llama-3-70B config.json as a module (meta build), median'

const app = await buildApp({ config: loadConfig({ LOG_LEVEL: 'silent', ...BENCH_ENV }) })
await app.listen({ host: '127.0.0.1', port: 0 })
const port = (app.server.address() as { port: number }).port
const agent = new Agent({ keepAlive: true, maxSockets: 1 })
const session = JSON.parse((await call(port, agent, 'POST', '/v1/sessions', '{}')).text) as { id: string }
const body = JSON.stringify({ config })
const path = `/v1/sessions/${session.id}/modules`

let info = ''
const ms: number[] = []
for (let i = 0; i < iterations + 3; i++) {
  const t0 = process.hrtime.bigint()
  const r = await call(port, agent, 'POST', path, body)
  const took = Number(process.hrtime.bigint() - t0) / 1e6
  if (r.status !== 201) throw new Error(`unexpected ${r.status}: ${r.text}`)
  const m = JSON.parse(r.text) as { id: string, totals: { parameters: number }, tensors: unknown[] }
  if (i === 0) info = `${m.totals.parameters} parameters, ${m.tensors.length} tensors, ${(Buffer.byteLength(r.text) / 1024).toFixed(0)} KiB response`
  if (i >= 3) ms.push(took) // three warm-ups
  // the session holds at most MATERIA_SESSION_MAX_MODULES: each module is deleted after it is timed
  const del = await call(port, agent, 'DELETE', `${path}/${m.id}`)
  if (del.status !== 204) throw new Error(`unexpected ${del.status}: ${del.text}`)
}
await app.close()
agent.destroy()
const ours = median(ms)
console.log(`materia HTTP round trip (${iterations} requests; ${info}): median ${ours.toFixed(2)} ms`)

const python = process.env.PYTHON ?? process.env.MATERIA_TEST_PYTHON ?? 'python3'
try {
  const script = fileURLToPath(new URL('./transformers-meta-build.py', import.meta.url))
  const out = JSON.parse(execFileSync(python, [script, String(pyIterations)], { input: JSON.stringify(config), encoding: 'utf8', stdio: ['pipe', 'pipe', 'ignore'] })) as
    { torch: string, transformers: string, params: number, tensors: number, ms: number[] }
  const theirs = median(out.ms)
  console.log(`transformers ${out.transformers} (torch ${out.torch}) from_config on meta + state_dict() (${out.params} parameters, ${out.tensors} tensors): median ${theirs.toFixed(2)} ms`)
  report({ figure, value: ours, unit: 'ms', baseline: { name: `transformers ${out.transformers} from_config on meta in-process`, value: theirs }, better: 'lower' })
  console.log(`ratio transformers/materia: ${(theirs / ours).toFixed(1)}x (above 1: materia's HTTP round trip is faster)`)
} catch {
  report({ figure, value: ours, unit: 'ms', baseline: { name: 'transformers from_config on meta in-process', skipped: `'${python}' cannot import transformers` }, better: 'lower' })
  console.log(`transformers baseline skipped: '${python}' cannot import transformers (set PYTHON=...)`)
}
