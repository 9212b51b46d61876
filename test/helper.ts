// Builds the app for a test with the embedded defaults plus overrides, and closes it on teardown.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../src/app.js'
import { loadConfig, type Config } from '../src/config.js'

/**
 * The data directory of this test process's apps (persisted checkpoints, docs/data-dir.md): a
 * directory of its own, removed when the process exits, so no test writes into the working tree.
 */
let dataDir: string | undefined
function testDataDir (): string {
  if (dataDir === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'materia-test-data-'))
    process.once('exit', () => { rmSync(dir, { recursive: true, force: true }) })
    dataDir = dir
  }
  return dataDir
}

// Tests send thousands of requests a minute from one address, on a loaded machine: the rate limit
// and event-loop shedding are off unless a test turns them on (test/rate-limit, test/load-shedding).
export function testConfig (env: Record<string, string> = {}): Config {
  return loadConfig({ MATERIA_WORKERS: '2', MATERIA_RATE_LIMIT: '0', MATERIA_MAX_EVENT_LOOP_DELAY: '0', MATERIA_DATA_DIR: env.MATERIA_DATA_DIR ?? testDataDir(), ...env })
}

/** `extra` registers routes of a test's own (to exercise fastify's parsers and error paths). */
export async function build (t: Test, env: Record<string, string> = {}, extra?: (app: FastifyInstance) => void): Promise<FastifyInstance> {
  const app = await buildApp({ config: testConfig(env) })
  t.teardown(async () => { await app.close() })
  extra?.(app)
  await app.ready()
  return app
}

/** Asserts the one error body shape and returns it. */
export function assertErrorBody (t: Test, res: { statusCode: number, headers: Record<string, unknown>, body: string }, statusCode: number, code: string): { message: string } {
  t.equal(res.statusCode, statusCode, `status ${statusCode}`)
  t.match(String(res.headers['content-type']), /^application\/json/)
  const body = JSON.parse(res.body) as Record<string, unknown>
  t.same(Object.keys(body).sort(), ['code', 'error', 'message', 'statusCode'])
  t.equal(body.statusCode, statusCode)
  t.equal(body.code, code)
  t.type(body.error, 'string')
  t.type(body.message, 'string')
  return body as { message: string }
}

/** name → raw bytes of every tensor in a safetensors file (views into `file`). */
export function safetensorsTensors (file: Buffer): Map<string, Buffer> {
  const n = Number(file.readBigUInt64LE(0))
  const header = JSON.parse(file.subarray(8, 8 + n).toString('utf8')) as Record<string, { data_offsets: [number, number] }>
  const data = file.subarray(8 + n)
  return new Map(Object.entries(header).filter(([k]) => k !== '__metadata__').map(([k, v]) => [k, data.subarray(v.data_offsets[0], v.data_offsets[1])]))
}

/** The Redis of the Redis store tests: REDIS_URL, or the private server scripts/test-redis-start.mjs started for this run. */
export function redisUrl (): string {
  if (process.env.REDIS_URL !== undefined) return process.env.REDIS_URL
  try {
    return (JSON.parse(readFileSync(new URL('../.tap/test-redis.json', import.meta.url), 'utf8')) as { url: string }).url
  } catch {
    throw new Error('No Redis for the Redis store tests: run them with `npm test` (which starts one) or set REDIS_URL')
  }
}

/** Polls `check` every 20 ms until it holds; throws after `ms`. */
export async function until (what: string, check: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
