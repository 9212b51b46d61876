// redis-server processes of a test's own, on free loopback ports in a temporary directory: a
// single server to stop and restart, or a 3-master Redis Cluster made by `redis-cli --cluster
// create` (https://redis.io/docs/latest/operate/oss_and_stack/management/scaling/). Each waits for
// the server to answer (polling, never a fixed delay) and is torn down by kill and rm.
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** A loopback port nobody listens on now. */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => { const { port } = s.address() as { port: number }; s.close(() => { resolve(port) }) }).on('error', reject)
  })
}

/** redis-cli against a port; its output. */
export async function redisCli (port: number, ...args: string[]): Promise<string> {
  return (await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args])).stdout
}

/** Polls `check` every 50 ms until it holds (a rejection counts as not yet); throws after `ms`. */
export async function poll (what: string, check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms
  while (!await check().catch(() => false)) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

export interface RedisServer {
  port: number
  url: string
  /** stops the server (SIGTERM: with appendonly on, the AOF is flushed first) and waits for it to exit */
  stop: () => Promise<void>
  /** starts it again on the same port, directory and files, and waits until it answers */
  start: () => Promise<void>
  /** stops it and removes its directory */
  close: () => Promise<void>
}

/** One redis-server; `args` are extra config (`--appendonly yes`). */
export async function startRedis (args: string[] = [], port?: number, dir?: string): Promise<RedisServer & { dir: string }> {
  const p = port ?? await freePort()
  const d = dir ?? mkdtempSync(join(tmpdir(), 'materia-redis-'))
  let proc: ChildProcess | undefined
  const server = {
    port: p,
    url: `redis://127.0.0.1:${p}`,
    dir: d,
    start: async () => {
      proc = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(p), '--dir', d, '--save', '', ...args], { stdio: 'ignore' })
      await poll(`redis-server on ${p}`, async () => (await redisCli(p, 'ping')).trim() === 'PONG')
    },
    stop: async () => {
      const running = proc
      proc = undefined
      if (running === undefined || running.exitCode !== null) return
      const exited = new Promise((resolve) => running.once('exit', resolve))
      running.kill()
      await exited
    },
    close: async () => {
      await server.stop()
      rmSync(d, { recursive: true, force: true })
    }
  }
  await server.start()
  return server
}

export interface RedisCluster {
  /** the masters, as ioredis' Cluster takes its startup nodes */
  nodes: Array<{ host: string, port: number }>
  /** the server of each master, by port (to stop one) */
  servers: Map<number, RedisServer>
  /** stops every master (SIGTERM: an append-only file is flushed) and starts them again on their files; waits for cluster_state:ok */
  restart: () => Promise<void>
  close: () => Promise<void>
}

/** A Redis Cluster of three masters without replicas, every slot assigned and cluster_state:ok on each node; `appendonly` turns on each master's AOF. */
export async function startCluster (options: { appendonly?: boolean } = {}): Promise<RedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'materia-cluster-'))
  const servers: RedisServer[] = []
  const close = async (): Promise<void> => {
    await Promise.all(servers.map(async (s) => { await s.stop() }))
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    // the bus port is set, not left at port + 10000 (which may be taken or above 65535)
    const ports = [await freePort(), await freePort(), await freePort()]
    const buses = [await freePort(), await freePort(), await freePort()]
    servers.push(...await Promise.all(ports.map(async (port, i) => await startRedis(['--cluster-enabled', 'yes', '--cluster-port', String(buses[i]),
      '--cluster-config-file', `nodes-${port}.conf`, '--appendonly', options.appendonly === true ? 'yes' : 'no',
      '--appendfilename', `appendonly-${port}.aof`, '--appenddirname', `aof-${port}`], port, dir))))
    await run('redis-cli', ['--cluster', 'create', ...servers.map((s) => `127.0.0.1:${s.port}`), '--cluster-replicas', '0', '--cluster-yes'])
    await clusterOk(servers)
  } catch (err) {
    await close()
    throw err
  }
  const restart = async (): Promise<void> => {
    await Promise.all(servers.map(async (s) => { await s.stop() }))
    // each master reads its nodes-<port>.conf again: the same cluster, the same slots
    await Promise.all(servers.map(async (s) => { await s.start() }))
    await clusterOk(servers)
  }
  return { nodes: servers.map((s) => ({ host: '127.0.0.1', port: s.port })), servers: new Map(servers.map((s) => [s.port, s])), restart, close }
}

async function clusterOk (servers: RedisServer[]): Promise<void> {
  for (const s of servers) await poll(`cluster_state:ok on ${s.port}`, async () => (await redisCli(s.port, 'cluster', 'info')).includes('cluster_state:ok'))
}
