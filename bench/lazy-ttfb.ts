// @bench quick: 1
// Benchmark: time to first byte of a range deep inside a 70 B-parameter model with rng "torch",
// from a lazy materialization (bfloat16, as such models ship). The model is Llama-3-70B-shaped, in
// torch.nn modules: Embedding(128256, 8192), 80 layers of attention projections (q, o 8192x8192;
// k, v 8192x1024) and MLP (gate, up 8192x28672; down 28672x8192) with two RMSNorms, a final
// RMSNorm and the LM head: 70.6 B parameters, a 141 GB safetensors file. Measured over HTTP on
// loopback, each on a fresh materialization (nothing to resume from): the first data byte of the
// last shard of the sharded export (default 5 GB shards), and a 1 MiB range in the middle of the
// last layer's down_proj. Baselines in the same run: reaching the same stream position without
// jump-ahead (MT19937's twisting discard, WebAssembly, timed on 10^9 draws and scaled), and
// PyTorch building the model up to there (its init rate on one layer, `PYTHON`, scaled).
// The bytes of such ranges equal PyTorch's (test/routes/lazy-deep-range.test.ts checks a smaller
// model built layer by layer in PyTorch). Target: first byte <= 2 s.
// Run: npx tsx bench/lazy-ttfb.ts [reps=3]
import { spawnSync } from 'node:child_process'
import { availableParallelism, cpus, loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { MT19937 } from '../src/init/mt19937.js'
import { BENCH_ENV, median } from './loopback.js'
import { report } from './report.js'

const reps = Number(process.argv[2] ?? 3)
const H = 8192; const INTER = 28672; const KV = 1024; const VOCAB = 128256; const LAYERS = 80

const linear = (i: number, o: number): object => ({ class: 'Linear', args: [i, o], kwargs: { bias: false } })
const layer = (): object => ({
  class: 'ModuleDict',
  args: [{
    self_attn: { class: 'ModuleDict', args: [{ q_proj: linear(H, H), k_proj: linear(H, KV), v_proj: linear(H, KV), o_proj: linear(H, H) }] },
    mlp: { class: 'ModuleDict', args: [{ gate_proj: linear(H, INTER), up_proj: linear(H, INTER), down_proj: linear(INTER, H) }] },
    input_layernorm: { class: 'RMSNorm', args: [H] },
    post_attention_layernorm: { class: 'RMSNorm', args: [H] }
  }]
})
const spec = {
  class: 'Sequential',
  args: [{ class: 'Embedding', args: [VOCAB, H] }, { class: 'ModuleList', args: [Array.from({ length: LAYERS }, layer)] }, { class: 'RMSNorm', args: [H] }, linear(H, VOCAB)]
}

const app = await buildApp({ config: loadConfig({ LOG_LEVEL: 'silent', ...BENCH_ENV }) })
await app.listen({ host: '127.0.0.1', port: 0 })
const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
const sid = (await app.inject({ method: 'POST', url: '/v1/sessions' })).json().id as string
let t0 = performance.now()
const mod = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules`, payload: spec })
if (mod.statusCode !== 201) throw new Error(mod.body)
const buildMs = performance.now() - t0
const mid = mod.json().id as string
const params = (mod.json() as { totals: { parameters: number } }).totals.parameters

/** Time to the first body byte and to the last of a GET with a Range, on a fresh lazy materialization. */
async function timed (path: (m: Record<string, unknown>) => Promise<{ url: string, range: string }>): Promise<{ first: number, all: number, create: number }> {
  const c0 = performance.now()
  const res = await app.inject({ method: 'POST', url: `/v1/sessions/${sid}/modules/${mid}/materializations`, payload: { init: 'default', rng: 'torch', seed: 1, dtype: 'bfloat16', lazy: true, device: 'worker' } })
  if (res.statusCode !== 201) throw new Error(res.body)
  const create = performance.now() - c0
  const { url, range } = await path(res.json())
  const s = performance.now()
  const r = await fetch(url, { headers: { range } })
  if (r.status !== 206) throw new Error(`${url}: ${r.status}`)
  const reader = (r.body as ReadableStream<Uint8Array>).getReader()
  let first = NaN
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    if (Number.isNaN(first) && value.length > 0) first = performance.now() - s
  }
  return { first, all: performance.now() - s, create }
}

const lastShard = async (m: Record<string, unknown>): Promise<{ url: string, range: string }> => {
  const href = `${base}${m.safetensors as string}`
  const index = await (await fetch(`${href}/model.safetensors.index.json`)).json() as { weight_map: Record<string, string> }
  const files = [...new Set(Object.values(index.weight_map))].sort()
  const file = files[files.length - 1] as string
  const head = Buffer.from(await (await fetch(`${href}/${file}`, { headers: { range: 'bytes=0-7' } })).arrayBuffer())
  const dataStart = 8 + Number(head.readBigUInt64LE(0))
  return { url: `${href}/${file}`, range: `bytes=${dataStart}-${dataStart + (1 << 20) - 1}` }
}
const downProj = async (m: Record<string, unknown>): Promise<{ url: string, range: string }> => {
  const t = (m.tensors as Array<{ name: string, href: string, nbytes: number }>).find((x) => x.name === `1.${LAYERS - 1}.mlp.down_proj.weight`)
  if (t === undefined) throw new Error('no down_proj')
  const mid = Math.floor(t.nbytes / 2) + 6
  return { url: `${base}${t.href}`, range: `bytes=${mid}-${mid + (1 << 20) - 1}` }
}

console.log(`lazy-ttfb: ${(params / 1e9).toFixed(1)} B-parameter Llama-shaped torch.nn stack, bfloat16, rng torch; module built in ${buildMs.toFixed(0)} ms over HTTP; node ${process.version}; ${availableParallelism()} cores (${cpus()[0]?.model ?? '?'}); load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`)
for (const [name, path] of [['last shard, first data MiB', lastShard], ['last layer down_proj, 1 MiB mid-tensor', downProj]] as const) {
  const runs: Array<{ first: number, all: number, create: number }> = []
  for (let i = 0; i < reps; i++) runs.push(await timed(path))
  report({ figure: `70 B model, rng torch, lazy: first byte, ${name}, ms`, value: median(runs.map((r) => r.first)), unit: 'ms', better: 'lower', baseline: { name: 'target', value: 2000 }, target: 1 })
  console.log(`${name}: first byte median ${median(runs.map((r) => r.first)).toFixed(0)} ms (all ${runs.map((r) => r.first.toFixed(0)).join(', ')}), whole MiB ${median(runs.map((r) => r.all)).toFixed(0)} ms; materialization answered in ${median(runs.map((r) => r.create)).toFixed(0)} ms`)
}
await app.close()

// ---- baselines: the draws before the last layer's down_proj, skipped by twisting; PyTorch building up to there
const perLayer = 2 * H * H + 2 * H * KV + 3 * H * INTER
const drawsBefore = VOCAB * H + (LAYERS - 1) * perLayer + (perLayer - H * INTER / 2) // all draws are float32 uniform_/normal_: one each
// MT19937.discard jumps from mtJumpMinBlocks blocks on: twisting is timed in steps under it
const mt = new MT19937(1)
const step = 624 * 2 ** 15
t0 = performance.now()
for (let n = 0; n < 1e9; n += step) mt.discard(step, true)
const stepMs = performance.now() - t0
console.log(`reaching draw ${(drawsBefore / 1e9).toFixed(1)}e9 without jump-ahead (twisting, WebAssembly): ${(stepMs * drawsBefore / 1e9 / 1000).toFixed(1)} s (10^9 draws in ${stepMs.toFixed(0)} ms)`)
const python = process.env.PYTHON ?? 'python3'
const torchRun = spawnSync(python, [fileURLToPath(new URL('torch-init-throughput.py', import.meta.url)), '2'], { encoding: 'utf8' })
if (torchRun.status === 0) {
  const r = JSON.parse(torchRun.stdout.trim().split('\n').pop() as string) as { seconds: number, layers: number }
  const perElementS = r.seconds / r.layers / (H * H + H)
  console.log(`PyTorch building the model up to there (init at its rate on Linear(8192, 8192)): ${(perElementS * drawsBefore).toFixed(0)} s`)
} else {
  console.log(`PyTorch baseline skipped (${python} could not run torch)`)
}
