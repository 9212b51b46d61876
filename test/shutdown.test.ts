// SIGTERM with a request in flight: the request completes, new connections are refused, exit 0.
import t from 'tap'
import { spawn } from 'node:child_process'
import { request } from 'node:http'
import { fileURLToPath } from 'node:url'
import { once } from 'node:events'

const serverEntry = fileURLToPath(new URL('../src/server.ts', import.meta.url))

t.test('graceful shutdown finishes in-flight requests and exits 0', { timeout: 30_000 }, async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', serverEntry], {
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', MATERIA_SHUTDOWN_TIMEOUT: '20000' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  child.stdout.setEncoding('utf8')
  child.stderr.setEncoding('utf8').on('data', (d: string) => { out += d })
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (d: string) => {
      out += d
      const m = /Server listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(out)
      if (m !== null) resolve(Number(m[1]))
    })
    child.on('exit', () => { reject(new Error(`server exited early:\n${out}`)) })
    setTimeout(() => { reject(new Error(`server did not start:\n${out}`)) }, 20_000).unref()
  })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })

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
  t.match(out, /shutdown complete/)
})
