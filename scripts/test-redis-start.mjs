// tap's `before` program (.taprc) for the Redis store tests: runs a private redis-server on a free
// loopback port for this test run and writes its URL to .tap/test-redis.json, where test/helper.ts
// reads it; scripts/test-redis-stop.mjs ends it. With REDIS_URL set, that Redis is used instead.
/* c8 ignore start */ // test harness, not the service: tap would otherwise count it in the suite's coverage
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const file = new URL('../.tap/test-redis.json', import.meta.url)

async function freePort () {
  return await new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)) }).on('error', reject)
  })
}

rmSync(file, { force: true })
if (process.env.REDIS_URL === undefined) {
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    console.error('The Redis store tests need redis-server: apt-get install -y redis-server (or set REDIS_URL to a Redis to use).')
    process.exit(1)
  }
  const port = await freePort()
  const pidfile = join(tmpdir(), `materia-test-redis-${port}.pid`)
  execFileSync('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--daemonize', 'yes', '--pidfile', pidfile, '--logfile', ''])
  mkdirSync(new URL('.', file), { recursive: true })
  writeFileSync(file, JSON.stringify({ url: `redis://127.0.0.1:${port}`, pidfile }))
}
/* c8 ignore stop */
