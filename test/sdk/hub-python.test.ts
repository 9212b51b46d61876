// huggingface_hub and transformers against /hub on a listening service (docs/hub.md): the Python in
// MATERIA_TEST_PYTHON (with transformers and huggingface_hub, as .ci/run makes it) runs
// test/sdk/hub_snapshot.py, which snapshot_download()s a materialization, loads it with
// AutoModelForCausalLM.from_pretrained and compares its state_dict with the bytes the service serves,
// and reads get_safetensors_metadata of a lazy Llama-3-70B-sized model without downloading it.
// HF_TOKEN is the service's API key. Without MATERIA_TEST_PYTHON the test is skipped and says so.
import t from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import { build } from '../helper.js'

const script = fileURLToPath(new URL('hub_snapshot.py', import.meta.url))
const python = process.env.MATERIA_TEST_PYTHON

const SMALL_LLAMA = { model_type: 'llama', architectures: ['LlamaForCausalLM'], torch_dtype: 'bfloat16', tie_word_embeddings: true, vocab_size: 64, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2 }
const MIXTRAL = { model_type: 'mixtral', architectures: ['MixtralForCausalLM'], vocab_size: 64, hidden_size: 32, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, num_local_experts: 3 }
// Llama-3-70B's shape: 141 GB of bfloat16, three shards at save_pretrained's 50 GB default
const LLAMA_70B = { model_type: 'llama', architectures: ['LlamaForCausalLM'], torch_dtype: 'bfloat16', vocab_size: 128256, hidden_size: 8192, intermediate_size: 28672, num_hidden_layers: 80, num_attention_heads: 64, num_key_value_heads: 8, rope_theta: 500000.0 }

async function post<T> (app: FastifyInstance, url: string, payload: object, key: string): Promise<T> {
  const res = await app.inject({ method: 'POST', url, payload, headers: { authorization: `Bearer ${key}` } })
  if (res.statusCode !== 201) throw new Error(`${url}: ${res.statusCode} ${res.body}`)
  return res.json<T>()
}

t.test('snapshot_download + from_pretrained + get_safetensors_metadata through /hub', { skip: python === undefined ? 'MATERIA_TEST_PYTHON names no Python' : false, timeout: 600_000 }, async (t) => {
  const key = 'hub-test-key'
  const app = await build(t, { MATERIA_API_KEYS: key })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  const sid = (await post<{ id: string }>(app, '/v1/sessions', {}, key)).id
  const small = (await post<{ id: string }>(app, `/v1/sessions/${sid}/modules`, { config: SMALL_LLAMA }, key)).id
  // values that are not an init's: what from_pretrained loads must be these bytes, whatever they are
  const mat = (await post<{ id: string }>(app, `/v1/sessions/${sid}/modules/${small}/materializations`,
    { init: { default: 'zeros', overrides: { '*': { fn: 'normal_', std: 0.5 } } }, seed: 3 }, key)).id
  const big = (await post<{ id: string }>(app, `/v1/sessions/${sid}/modules`, { config: LLAMA_70B }, key)).id
  const lazy = (await post<{ id: string, residentBytes: number }>(app, `/v1/sessions/${sid}/modules/${big}/materializations`, { init: 'zeros', lazy: true }, key))
  // a mixture of experts: its files hold the experts one by one, which from_pretrained fuses again
  const mixtral = (await post<{ id: string }>(app, `/v1/sessions/${sid}/modules`, { config: MIXTRAL }, key)).id
  const moe = (await post<{ id: string }>(app, `/v1/sessions/${sid}/modules/${mixtral}/materializations`,
    { init: { default: 'zeros', overrides: { '*': { fn: 'normal_' } } }, seed: 4 }, key)).id
  const listing = await app.inject({ url: `/v1/sessions/${sid}/materializations/${mat}/pretrained`, headers: { authorization: `Bearer ${key}` } })
  const files = listing.json<{ files: Array<{ name: string }> }>().files.map((f) => f.name).sort()

  const child = spawn(python as string, [script, sid, mat, lazy.id, moe], {
    env: { ...process.env, MATERIA_URL: url, HF_TOKEN: key, HF_HUB_OFFLINE: '0', PYTHONDONTWRITEBYTECODE: '1', TRANSFORMERS_VERBOSITY: 'error' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''; let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  t.equal(code, 0, `python exit code\n${stderr.slice(-6000)}`)
  if (code !== 0) return
  const out = JSON.parse(stdout.trim().split('\n').at(-1) as string) as {
    files: string[],
    moe: { files: string[], compared: number, differ: string[] },
    again: boolean,
    dtype: string,
    tied: boolean,
    compared: number,
    differ: string[],
    badToken: number | null,
    info: { sha: string, siblings: string[], safetensors: { parameters: Record<string, number>, total: number } },
    metadata: { sharded: boolean, files: string[], tensors: number, parameters: Record<string, number> },
    lazyMetadata: { sharded: boolean, files: string[], tensors: number, parameters: Record<string, number> }
  }
  t.same(out.files, files, 'snapshot_download fetched the save_pretrained files')
  t.same(files, ['config.json', 'generation_config.json', 'model.safetensors'])
  t.ok(out.again, 'a second snapshot_download resolves to the same snapshot')
  t.equal(out.dtype, 'torch.bfloat16', 'from_pretrained took the dtype config.json names')
  t.ok(out.tied, 'from_pretrained tied lm_head to the embedding again')
  // 2 layers × 9 tensors, the embedding, the final norm and lm_head
  t.equal(out.compared, 21, 'every state_dict tensor compared')
  t.same(out.differ, [], 'from_pretrained holds the bytes the service serves')
  t.same(out.moe.files, ['config.json', 'generation_config.json', 'model.safetensors'])
  // embedding, norm, lm_head, and per layer 4 attention projections, 2 norms, the router and the 2 fused expert tensors
  t.equal(out.moe.compared, 3 + 2 * 9, 'every Mixtral tensor compared')
  t.same(out.moe.differ, [], 'from_pretrained fused the per-expert tensors back into the bytes the service serves')
  t.match(out.info.sha, /^[0-9a-f]{40}$/)
  t.same(out.info.siblings, files)
  const smallParams = 64 * 32 + 2 * (32 * 32 * 2 + 16 * 32 * 2 + 3 * 32 * 48 + 2 * 32) + 32
  t.same(out.info.safetensors, { parameters: { BF16: smallParams }, total: smallParams })
  t.same(out.metadata, { sharded: false, files: ['model.safetensors'], tensors: 20, parameters: { BF16: smallParams } })
  const bigParams = 2 * 128256 * 8192 + 80 * (8192 * 8192 * 2 + 1024 * 8192 * 2 + 3 * 8192 * 28672 + 2 * 8192) + 8192
  t.same(out.lazyMetadata, {
    sharded: true,
    files: ['model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors'],
    tensors: 2 + 80 * 9 + 1,
    parameters: { BF16: bigParams }
  })
  t.equal(out.badToken, 401, 'a token that is no API key is refused')
  t.equal(lazy.residentBytes, 0)
  t.equal(app.materializations.get(sid, lazy.id)?.residentBytes, 0, 'the lazy model served its headers without becoming resident')
})
