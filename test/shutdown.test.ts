// SIGTERM with a request in flight: the request completes, new connections are refused, exit 0.
// And after an upload rejected before its body was read: the unread body does not hold app.close().
import t, { type Test } from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { request } from 'node:http'
import { fileURLToPath } from 'node:url'
import { once } from 'node:events'
import { redisUrl } from './helper.js'

const serverEntry = fileURLToPath(new URL('../src/server.ts', import.meta.url))

interface Server { child: ChildProcess, port: number, log: () => string }

/** The environment without tap's coverage hooks: the server is a process of its own, not a test's. */
function serverEnv (): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_V8_COVERAGE' && !k.startsWith('_TAPJS') && k !== 'NODE_OPTIONS'))
}

async function startServer (t: Test, env: Record<string, string> = {}): Promise<Server> {
  // through env(1) without NODE_OPTIONS/NODE_V8_COVERAGE: tap's process tracking hooks every spawn, and a
  // server process in its coverage data made the report lose every other file's
  const child = spawn('env', ['-u', 'NODE_OPTIONS', '-u', 'NODE_V8_COVERAGE', process.execPath, '--import', 'tsx', serverEntry], {
    env: { ...serverEnv(), HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', MATERIA_SHUTDOWN_TIMEOUT: '20000', MATERIA_WORKERS: '1', MATERIA_MAX_EVENT_LOOP_DELAY: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  child.stdout?.setEncoding('utf8')
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { out += d })
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.on('data', (d: string) => {
      out += d
      const m = /Server listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(out)
      if (m !== null) resolve(Number(m[1]))
    })
    child.on('exit', () => { reject(new Error(`server exited early:\n${out}`)) })
    setTimeout(() => { reject(new Error(`server did not start:\n${out}`)) }, 20_000).unref()
  })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  return { child, port, log: () => out }
}

interface Answer { status: number, text: string }

async function send (port: number, method: string, path: string, body: string | Buffer | undefined, contentType = 'application/json'): Promise<Answer> {
  return await new Promise<Answer>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: body !== undefined ? { 'content-type': contentType, 'content-length': Buffer.byteLength(body) } : {} })
    req.on('response', (res) => {
      let text = ''
      res.setEncoding('utf8').on('data', (c: string) => { text += c }).on('end', () => { resolve({ status: res.statusCode ?? 0, text }) })
    })
    // the server may answer and close before it has read all of a large body
    req.on('error', (err) => { reject(err) })
    req.end(body)
  })
}

/** Resolves with the exit code, or 'running' if the process is still up after `ms`. */
async function exitWithin (child: ChildProcess, ms: number): Promise<number | null | 'running'> {
  if (child.exitCode !== null) return child.exitCode
  const timer = new Promise<'running'>((resolve) => setTimeout(() => { resolve('running') }, ms).unref())
  return await Promise.race([once(child, 'exit').then(([code]) => code as number | null), timer])
}

t.test('graceful shutdown finishes in-flight requests and exits 0', { timeout: 30_000 }, async (t) => {
  const { child, port, log } = await startServer(t)

  // a POST whose body arrives in two halves, with SIGTERM in between
  const body = JSON.stringify({ ttlSeconds: 60 })
  const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/sessions', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } })
  const response = new Promise<{ status: number, text: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let text = ''
      res.setEncoding('utf8').on('data', (c: string) => { text += c }).on('end', () => { resolve({ status: res.statusCode ?? 0, text }) })
    })
    req.on('error', reject)
  })
  req.write(body.slice(0, 5))
  await new Promise((resolve) => setTimeout(resolve, 300))
  child.kill('SIGTERM')
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.equal(child.exitCode, null, 'still running while a request is in flight')
  req.end(body.slice(5))
  const r = await response
  t.equal(r.status, 201, 'the in-flight request completed')
  t.match(JSON.parse(r.text).id, /^ses_/)
  const [code] = await once(child, 'exit') as [number | null]
  t.equal(code, 0, 'exit code 0')
  t.match(log(), /shutdown complete/)
})

for (const store of ['memory', 'redis'] as const) {
  t.test(`${store} store: SIGTERM after a large upload rejected early completes and exits 0`, { timeout: 60_000 }, async (t) => {
    const env: Record<string, string> = { MATERIA_SHUTDOWN_TIMEOUT: '15000' }
    if (store === 'redis') Object.assign(env, { MATERIA_STORE: 'redis', REDIS_URL: redisUrl(), MATERIA_REDIS_PREFIX: `materia-shutdown-${process.pid}:` })
    const { child, port, log } = await startServer(t, env)
    const sid = JSON.parse((await send(port, 'POST', '/v1/sessions', '{}')).text).id as string
    const mid = JSON.parse((await send(port, 'POST', `/v1/sessions/${sid}/modules`, JSON.stringify({ class: 'Linear', args: [4, 4] }))).text).id as string
    // 16 MB of random bytes: the first 8 give a header length far beyond the file, refused at once
    const rejected = await send(port, 'POST', `/v1/sessions/${sid}/modules/${mid}/materializations`, randomBytes(16 * 2 ** 20), 'application/octet-stream')
    t.equal(rejected.status, 400, rejected.text)
    t.equal(JSON.parse(rejected.text).code, 'MATERIA_ERR_CHECKPOINT_INVALID')
    t.equal((await send(port, 'GET', '/healthz', undefined)).status, 200, 'still serving')
    child.kill('SIGTERM')
    // well before MATERIA_SHUTDOWN_TIMEOUT: close() must not wait for the unread body
    const code = await exitWithin(child, 10_000)
    t.equal(code, 0, 'exit code 0')
    t.match(log(), /shutdown complete/)
  })
}
