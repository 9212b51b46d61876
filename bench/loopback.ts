// What the HTTP benches share: a JSON request over a keep-alive agent on loopback, and statistics.
import { type Agent, request } from 'node:http'

/** A request with an optional JSON body (a string is sent as is); the status and the text answered. */
export async function call (port: number, agent: Agent, method: string, path: string, body?: unknown): Promise<{ status: number, text: string }> {
  const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body)
  return await new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = text === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }
    const req = request({ host: '127.0.0.1', port, path, method, agent, headers }, (res) => {
      let out = ''
      res.setEncoding('utf8').on('data', (c: string) => { out += c }).on('end', () => { resolve({ status: res.statusCode ?? 0, text: out }) })
    })
    req.on('error', reject)
    req.end(text)
  })
}

export function percentile (xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(p / 100 * s.length))] ?? NaN
}

export function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid] ?? NaN : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2
}

/**
 * Settings for a service built in the bench's own process: it shares its event loop with the client,
 * the hashing of results and the synchronous PyTorch baselines, so the event-loop shedding and the
 * rate limit would answer the bench itself (a 503 after a baseline run) instead of measuring the service.
 */
export const BENCH_ENV = { MATERIA_RATE_LIMIT: '0', MATERIA_MAX_EVENT_LOOP_DELAY: '0' } as const
