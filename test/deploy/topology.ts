// The deployment of deploy/compose.yaml as processes on loopback: redis-server with the append-only
// file on, in a directory of its own; materia replicas (src/server.ts under tsx) sharing one
// MATERIA_DATA_DIR and that Redis; and nginx (Debian's package, any user, its own prefix) running
// deploy/nginx.conf itself, with the replica addresses and the listen port replaced. Replicas can be
// killed with SIGKILL and started again on their port; Redis can be restarted on its files.
// Used by test/deploy/round-robin.test.ts and bench/proxy-load.ts; nothing here depends on tap.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startCluster, type RedisCluster } from '../store/redis-servers.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
const serverEntry = join(root, 'src/server.ts')
export const nginxConfFile = join(root, 'deploy/nginx.conf')
/** Each replica's line in deploy/nginx.conf's upstream; its number is the replica's (1-based). */
const UPSTREAM_SERVER = /server replica-(\d+):8080\b/g
const LISTEN = /^(\s*)listen 8080;$/m
/** The response header the harness adds so a test knows which replica answered through nginx. */
export const UPSTREAM_HEADER = 'x-upstream-addr'

export interface Answer { status: number, headers: Record<string, string | string[] | undefined>, body: Buffer }

/** One HTTP request on a connection of its own (none kept: a killed replica leaves no stale socket). */
export async function send (port: number, method: string, path: string, options: { headers?: Record<string, string>, body?: Buffer | string } = {}): Promise<Answer> {
  return await new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...options.headers }
    if (options.body !== undefined) headers['content-length'] = Buffer.byteLength(options.body)
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c)).on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }) }).on('error', reject)
    })
    req.on('error', reject)
    req.end(options.body)
  })
}

export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => { const { port } = s.address() as { port: number }; s.close(() => { resolve(port) }) }).on('error', reject)
  })
}

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** A child process with the tail of its output, for the message of a failure. */
class Proc {
  child: ChildProcess
  private out = ''
  constructor (readonly name: string, command: string, args: string[], env: NodeJS.ProcessEnv) {
    this.child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
    const take = (d: Buffer): void => { this.out = (this.out + d.toString()).slice(-32_768) }
    this.child.stdout?.on('data', take)
    this.child.stderr?.on('data', take)
    this.child.on('error', (err) => { take(Buffer.from(`spawn failed: ${err.message}\n`)) })
  }

  get running (): boolean { return this.child.exitCode === null && this.child.signalCode === null }
  log (): string { return `--- ${this.name} ---\n${this.out}` }

  async kill (signal: NodeJS.Signals): Promise<void> {
    if (!this.running) return
    const exited = new Promise((resolve) => this.child.once('exit', resolve))
    this.child.kill(signal)
    await exited
  }

  /** Polls `ready` every 50 ms; throws with the output if the process exits or `ms` passes first. */
  async until (what: string, ready: () => Promise<boolean>, ms = 60_000): Promise<void> {
    const end = Date.now() + ms
    for (;;) {
      if (!this.running) throw new Error(`${this.name} exited (${String(this.child.exitCode ?? this.child.signalCode)}) before ${what}\n${this.log()}`)
      if (await ready().catch(() => false)) return
      if (Date.now() > end) throw new Error(`${this.name}: no ${what} after ${ms} ms\n${this.log()}`)
      await sleep(50)
    }
  }
}

async function redisPing (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => { s.write('PING\r\n') })
    s.setTimeout(1000, () => { s.destroy(); resolve(false) })
    s.on('data', (d) => { s.destroy(); resolve(d.toString().startsWith('+PONG')) })
    s.on('error', () => { resolve(false) })
  })
}

/** The environment of a child process without tap's hooks: each server is a process of its own, not a test's. */
function childEnv (): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_V8_COVERAGE' && k !== 'NODE_OPTIONS' && !k.startsWith('_TAPJS')))
}

export interface Replica { index: number, port: number }

export interface Topology {
  /** nginx, round-robin over the replicas */
  proxyPort: number
  replicas: Replica[]
  /** the Redis port (with a cluster: its first master) */
  redisPort: number
  dataDir: string
  /** the key every replica accepts (MATERIA_API_KEYS), and the header that sends it */
  apiKey: string
  auth: Record<string, string>
  /** SIGKILL: no graceful shutdown, as a crash or the OOM killer ends a process */
  killReplica: (index: number) => Promise<void>
  /** starts a killed (or running: killed first) replica again on its port, and waits for /readyz */
  restartReplica: (index: number) => Promise<void>
  /** SHUTDOWN of Redis, or of every master of the cluster (SIGTERM: the append-only files are flushed), and a start on the same files; waits until every replica is ready again */
  restartRedis: () => Promise<void>
  /** the tail of every process's output */
  logs: () => string
  stop: () => Promise<void>
}

export interface TopologyOptions {
  /** more variables for every replica (MATERIA_API_KEYS, MATERIA_STORE and the like are set already) */
  env?: Record<string, string>
  /** add UPSTREAM_HEADER to every answer through nginx (tests; a deployment would not show its addresses) */
  upstreamHeader?: boolean
  /** one redis-server (the default), or a 3-master Redis Cluster the replicas reach by REDIS_CLUSTER_NODES; AOF on either way */
  redis?: 'single' | 'cluster'
}

/** nginx's configuration: a main context of the harness's own around deploy/nginx.conf, made local. */
function nginxConfig (dir: string, proxyPort: number, replicaPorts: number[], upstreamHeader: boolean): string {
  const deployed = readFileSync(nginxConfFile, 'utf8')
  const numbers = [...deployed.matchAll(UPSTREAM_SERVER)].map((m) => Number(m[1]))
  if (numbers.length !== replicaPorts.length || numbers.some((n, i) => n !== i + 1)) {
    throw new Error(`deploy/nginx.conf lists replicas ${numbers.join(', ')}; the harness runs ${replicaPorts.length} (replica-1 … replica-${replicaPorts.length})`)
  }
  if (!LISTEN.test(deployed)) throw new Error('deploy/nginx.conf has no `listen 8080;` line')
  const local = deployed.replace(UPSTREAM_SERVER, (_m, n: string) => `server 127.0.0.1:${replicaPorts[Number(n) - 1] ?? 0}`).replace(LISTEN, `$1listen 127.0.0.1:${proxyPort};`)
  writeFileSync(join(dir, 'materia.conf'), local)
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `    ${k}_temp_path ${join(dir, `${k}_temp`)};`)
  return [
    // the image's nginx.conf sets these; Debian's compiled-in paths (/var/lib/nginx, /run) are root's
    'worker_processes 1;',
    `pid ${join(dir, 'nginx.pid')};`,
    `error_log ${join(dir, 'error.log')} warn;`,
    'events { worker_connections 1024; }',
    'http {',
    `    access_log ${join(dir, 'access.log')};`,
    ...temp,
    ...(upstreamHeader ? [`    add_header ${UPSTREAM_HEADER} $upstream_addr always;`] : []),
    `    include ${join(dir, 'materia.conf')};`,
    '}',
    ''
  ].join('\n')
}

const ready = async (port: number): Promise<boolean> => (await send(port, 'GET', '/readyz')).status === 200

/** src/server.ts in a process of its own on `port`, once /readyz answers 200. */
async function serviceProcess (name: string, port: number, env: Record<string, string>): Promise<Proc> {
  // through env(1): tap's process tracking hooks every spawn of node itself
  const p = new Proc(`${name} (port ${port})`, 'env', ['-u', 'NODE_OPTIONS', '-u', 'NODE_V8_COVERAGE', process.execPath, '--import', 'tsx', serverEntry], {
    ...childEnv(),
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'warn',
    MATERIA_WORKERS: '1',
    MATERIA_MEMORY_BUDGET: '2GiB',
    // two cores run every process here: a slow event loop is not overload
    MATERIA_MAX_EVENT_LOOP_DELAY: '0',
    ...env
  })
  try {
    await p.until('/readyz 200', async () => await ready(port))
  } catch (err) {
    await p.kill('SIGKILL')
    throw err
  }
  return p
}

export interface Service { port: number, stop: () => Promise<void>, log: () => string }

/** One service process on loopback with the same settings as a topology's replicas (for a baseline beside it). */
export async function startService (env: Record<string, string>): Promise<Service> {
  const port = await freePort()
  const p = await serviceProcess('service', port, env)
  return { port, stop: async () => { await p.kill('SIGKILL') }, log: () => p.log() }
}

export async function startTopology (options: TopologyOptions = {}): Promise<Topology> {
  for (const bin of ['nginx', 'redis-server']) {
    if (spawnSync(bin, ['-v']).error !== undefined) throw new Error(`${bin} not found (Debian: apt-get install -y ${bin})`)
  }
  const dir = mkdtempSync(join(tmpdir(), 'materia-topology-'))
  // nginx's workers drop to an unprivileged user when it runs as root: they read nothing here, but must reach the directory
  chmodSync(dir, 0o755)
  const dataDir = mkdtempSync(join(dir, 'data-'))
  const redisDir = mkdtempSync(join(dir, 'redis-'))
  const nginxDir = mkdtempSync(join(dir, 'nginx-'))
  chmodSync(nginxDir, 0o755)
  const apiKey = `e2e-${process.pid}-key`
  const redisPort = await freePort()
  const proxyPort = await freePort()
  const nginxText = readFileSync(nginxConfFile, 'utf8')
  const replicas: Replica[] = []
  for (const _ of nginxText.matchAll(UPSTREAM_SERVER)) replicas.push({ index: replicas.length, port: await freePort() })

  const procs: { redis?: Proc, nginx?: Proc, replicas: Array<Proc | undefined> } = { replicas: [] }

  let cluster: RedisCluster | undefined
  const startRedis = async (): Promise<void> => {
    if (options.redis === 'cluster') {
      if (cluster === undefined) cluster = await startCluster({ appendonly: true })
      else await cluster.restart()
      return
    }
    const p = new Proc('redis-server', 'redis-server', ['--bind', '127.0.0.1', '--port', String(redisPort), '--dir', redisDir,
      '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--logfile', ''], childEnv())
    procs.redis = p
    await p.until('PONG', async () => await redisPing(redisPort))
  }

  const startReplica = async (r: Replica): Promise<void> => {
    procs.replicas[r.index] = await serviceProcess(`replica-${r.index + 1}`, r.port, {
      MATERIA_STORE: 'redis',
      ...(cluster !== undefined
        ? { REDIS_CLUSTER_NODES: cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',') }
        : { REDIS_URL: `redis://127.0.0.1:${redisPort}` }),
      MATERIA_DATA_DIR: dataDir,
      MATERIA_API_KEYS: apiKey,
      ...options.env
    })
  }

  const all = (): Proc[] => [procs.nginx, ...procs.replicas, procs.redis].filter((p): p is Proc => p !== undefined)
  const logs = (): string => all().map((p) => p.log()).join('\n')
  // a test runner that ends this process (a timeout) must not leave servers behind: signals are all
  // an exit handler can still send
  const orphans = (): void => {
    procs.nginx?.child.kill('SIGTERM')
    for (const p of [...procs.replicas, procs.redis]) p?.child.kill('SIGKILL')
  }
  process.once('exit', orphans)
  const stop = async (): Promise<void> => {
    process.removeListener('exit', orphans)
    // nginx's master ends its workers on SIGTERM; a SIGKILLed master would leave them running
    await procs.nginx?.kill('SIGTERM')
    await Promise.all(procs.replicas.map(async (p) => await p?.kill('SIGKILL')))
    await procs.redis?.kill('SIGKILL')
    await cluster?.close()
    rmSync(dir, { recursive: true, force: true })
  }

  try {
    await startRedis()
    await Promise.all(replicas.map(startReplica))
    writeFileSync(join(nginxDir, 'nginx.conf'), nginxConfig(nginxDir, proxyPort, replicas.map((r) => r.port), options.upstreamHeader ?? false))
    const test = spawnSync('nginx', ['-t', '-p', nginxDir, '-c', join(nginxDir, 'nginx.conf'), '-e', join(nginxDir, 'error.log')], { encoding: 'utf8' })
    if (test.status !== 0) throw new Error(`nginx -t: ${test.stderr}`)
    const nginx = new Proc('nginx', 'nginx', ['-p', nginxDir, '-c', join(nginxDir, 'nginx.conf'), '-e', join(nginxDir, 'error.log'), '-g', 'daemon off;'], childEnv())
    procs.nginx = nginx
    await nginx.until('/readyz 200 through nginx', async () => await ready(proxyPort))
  } catch (err) {
    const text = logs()
    await stop()
    throw new Error(`${(err as Error).message}\n${text}`)
  }

  const replicaAt = (index: number): Replica => {
    const r = replicas[index]
    if (r === undefined) throw new Error(`no replica ${index}`)
    return r
  }

  return {
    proxyPort,
    replicas,
    redisPort: cluster?.nodes[0]?.port ?? redisPort,
    dataDir,
    apiKey,
    auth: { authorization: `Bearer ${apiKey}` },
    killReplica: async (index) => { await procs.replicas[replicaAt(index).index]?.kill('SIGKILL') },
    restartReplica: async (index) => {
      const r = replicaAt(index)
      await procs.replicas[r.index]?.kill('SIGKILL')
      await startReplica(r)
    },
    restartRedis: async () => {
      if (cluster === undefined) await procs.redis?.kill('SIGTERM')
      await startRedis()
      // ioredis reconnects by itself, with a growing delay between tries
      const end = Date.now() + 60_000
      for (const r of replicas) {
        while (!(await ready(r.port).catch(() => false))) {
          if (Date.now() > end) throw new Error(`replica-${r.index + 1} not ready 60 s after Redis restarted\n${logs()}`)
          await sleep(100)
        }
      }
    },
    logs,
    stop
  }
}
