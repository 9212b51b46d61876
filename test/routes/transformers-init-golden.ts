// What the transformers init tests share: the golden fixture of scripts/golden/make-transformers-init.py
// and reading a materialization's tensors over HTTP.
import { readFileSync } from 'node:fs'
import type { FastifyInstance } from 'fastify'
import { safetensorsTensors } from '../helper.js'

export type Entry = [name: string, dtype: string, shape: number[], sha256: string, first: string[]]
export interface Case { id: string, spec: object, dtype?: string, results: Record<string, Entry[]> }
interface Golden { transformers: string, torch: string, seeds: number[], cases: Case[] }

export const golden = JSON.parse(readFileSync(new URL('../fixtures/transformers-init/transformers-init.json', import.meta.url), 'utf8')) as Golden
const elementSize: Record<string, number> = { float32: 4, float64: 8, float16: 2, bfloat16: 2 }

export function firstHex (bytes: Buffer, dtype: string): string[] {
  const size = elementSize[dtype] ?? 1
  const out: string[] = []
  for (let i = 0; i < Math.min(4, bytes.length / size); i++) out.push(Buffer.from(bytes.subarray(i * size, (i + 1) * size)).reverse().toString('hex'))
  return out
}

export async function post (app: FastifyInstance, url: string, payload: object): Promise<Record<string, any>> {
  const res = await app.inject({ method: 'POST', url, payload })
  if (res.statusCode !== 201) throw new Error(`${url}: ${res.statusCode} ${res.body}`)
  return res.json()
}

export type Tensors = Array<{ name: string, dtype: string, shape: number[], href: string }>

/**
 * name → bytes of every tensor: the state_dict from the materialization's safetensors file (a tied
 * alias from the file's __metadata__), the non-persistent buffers (not in the file) one by one.
 */
export async function bytesOf (app: FastifyInstance, sid: string, m: { id: string, tensors: Tensors }): Promise<Map<string, Buffer>> {
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
