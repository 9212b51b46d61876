// deploy/compose.yaml as Debian's docker-compose reads it (`docker-compose config` parses, validates and
// resolves the file without a Docker engine), checked for what the deployment relies on. The same
// topology runs as processes in test/deploy/round-robin.test.ts.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'
import { configVars } from '../../src/config.js'
import { nginxConfFile } from './topology.js'

const composeFile = fileURLToPath(new URL('../../deploy/compose.yaml', import.meta.url))
const root = fileURLToPath(new URL('../../', import.meta.url))

interface Service {
  build?: { context: string, dockerfile: string }
  image?: string
  command?: string[]
  entrypoint?: string[]
  user?: string
  environment?: Record<string, string>
  volumes?: string[]
  depends_on?: Record<string, { condition: string }>
  healthcheck?: { test: string[] }
  ports?: Array<{ published: number, target: number }>
}

function config (env: Record<string, string>): { status: number | null, stdout: string, stderr: string } {
  const r = spawnSync('docker-compose', ['-f', composeFile, 'config'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env } })
  if (r.error !== undefined) return { status: null, stdout: '', stderr: r.error.message }
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

const available = spawnSync('docker-compose', ['version']).error === undefined

t.test('docker-compose config accepts deploy/compose.yaml', async (t) => {
  if (!available) {
    t.fail('docker-compose not found (Debian: apt-get install -y --no-install-recommends docker-compose): deploy/compose.yaml is validated with it')
    return
  }
  const r = config({ MATERIA_API_KEYS: 'key-1,key-2' })
  t.equal(r.status, 0, r.stderr)
  const c = parse(r.stdout) as { services: Record<string, Service>, volumes: Record<string, unknown> }
  const s = c.services
  t.same(Object.keys(s).sort(), ['data-dir', 'nginx', 'redis', 'replica-1', 'replica-2'])
  const replicas = ['replica-1', 'replica-2'].map((n) => s[n] as Service)

  t.test('replicas: the repository\'s Dockerfile, the Redis store, the key, one data volume', async (t) => {
    for (const r of replicas) {
      t.same(r.build, { context: root.replace(/\/$/, ''), dockerfile: 'Dockerfile' })
      const env = r.environment ?? {}
      t.equal(env.MATERIA_STORE, 'redis')
      t.equal(env.REDIS_URL, 'redis://redis:6379', 'the redis service')
      t.equal(env.MATERIA_API_KEYS, 'key-1,key-2', 'keys from the environment of `docker compose up`')
      const dataDir = env.MATERIA_DATA_DIR ?? ''
      t.match(dataDir, /^\//)
      t.ok(r.volumes?.includes(`materia-data:${dataDir}:rw`), 'the shared volume at MATERIA_DATA_DIR')
      t.same(r.depends_on, { redis: { condition: 'service_healthy' }, 'data-dir': { condition: 'service_completed_successfully' } })
      t.match(r.healthcheck?.test.join(' '), /127\.0\.0\.1:8080\/readyz/, 'healthy when ready (store reachable)')
      t.equal(env.PORT, '8080')
    }
    t.same(replicas[0]?.environment, replicas[1]?.environment, 'the replicas are configured alike')
    t.ok(s['data-dir']?.volumes?.includes(`materia-data:${replicas[0]?.environment?.MATERIA_DATA_DIR ?? ''}:rw`), 'the volume is made writable for the image\'s user first')
    t.equal(s['data-dir']?.image, replicas[0]?.image)
    t.ok('materia-data' in c.volumes && 'redis-data' in c.volumes)
  })

  t.test('every variable the replicas are given is one the service reads', async (t) => {
    const known = new Set<string>(configVars.map((v) => v.name))
    for (const name of Object.keys(replicas[0]?.environment ?? {})) t.ok(known.has(name), `${name} is in src/config.ts`)
  })

  t.test('Redis: append-only file on, on a volume, healthy on PING', async (t) => {
    const redis = s.redis as Service
    const cmd = redis.command ?? []
    t.equal(cmd[cmd.indexOf('--appendonly') + 1], 'yes')
    t.equal(cmd[cmd.indexOf('--dir') + 1], '/data')
    t.ok(redis.volumes?.includes('redis-data:/data:rw'))
    t.same(redis.healthcheck?.test, ['CMD', 'redis-cli', 'ping'])
  })

  t.test('nginx: deploy/nginx.conf in front of both replicas, started once they are ready', async (t) => {
    const nginx = s.nginx as Service
    t.ok(nginx.volumes?.includes(`${nginxConfFile}:/etc/nginx/conf.d/default.conf:ro`), 'the file the loopback topology runs')
    t.same(nginx.depends_on, { 'replica-1': { condition: 'service_healthy' }, 'replica-2': { condition: 'service_healthy' } })
    t.same(nginx.ports, [{ published: 8080, target: 8080 }])
    t.match(nginx.healthcheck?.test.join(' '), /\/healthz/)
    const conf = readFileSync(nginxConfFile, 'utf8')
    const upstream = /upstream materia \{([^}]*)\}/.exec(conf)?.[1] ?? ''
    t.same([...upstream.matchAll(/server (\S+);?/g)].map((m) => m[1]), replicas.map((_, i) => `replica-${i + 1}:8080`), 'one upstream server per replica, on its PORT')
    t.match(conf, /^\s*listen 8080;$/m)
    t.match(conf, /proxy_pass http:\/\/materia;/)
  })
})

t.test('without MATERIA_API_KEYS docker-compose refuses the file, saying what to set', async (t) => {
  if (!available) {
    t.fail('docker-compose not found (Debian: apt-get install -y --no-install-recommends docker-compose)')
    return
  }
  const r = config({})
  t.not(r.status, 0)
  t.match(r.stderr, /set MATERIA_API_KEYS to one or more comma-separated API keys/)
})
