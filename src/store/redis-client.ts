// Which Redis the store talks to: one server (REDIS_URL, redis:// or rediss://), or a Redis Cluster
// given by seed nodes, from which ioredis' Cluster client discovers the others
// (https://github.com/redis/ioredis#cluster): REDIS_CLUSTER_NODES (host:port,host:port), or
// REDIS_URL in the form redis+cluster://[user:password@]host:port,host:port (rediss+cluster: TLS).
// With REDIS_CLUSTER_NODES, REDIS_URL still gives the user, password and TLS every node is reached with.

export interface RedisNode { host: string, port: number }

export interface ClusterTarget {
  nodes: RedisNode[]
  username?: string
  password?: string
  tls: boolean
}

const NODE = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(\d{1,5})$/
const CLUSTER_URL = /^(rediss?)\+cluster:\/\/(?:([^:@/\s]*)(?::([^@/\s]*))?@)?([^@/\s]+?)\/?$/
const SINGLE_URL = /^rediss?:\/\/\S+$/

/** "host:port,host:port" → nodes (at most 64), or undefined when an entry is not host:port. */
export function parseRedisNodes (list: string): RedisNode[] | undefined {
  const entries = list.split(',').map((e) => e.trim()).filter((e) => e !== '')
  if (entries.length > 64) return undefined
  const nodes: RedisNode[] = []
  for (const e of entries) {
    const m = NODE.exec(e)
    const port = Number(m?.[2])
    if (m === null || !(port >= 1 && port <= 65535)) return undefined
    nodes.push({ host: (m[1] as string).replace(/^\[(.*)\]$/, '$1'), port })
  }
  return nodes
}

/** Whether REDIS_URL names one server or a cluster in a form connectRedis reads. */
export function isRedisUrl (url: string): boolean {
  if (SINGLE_URL.test(url)) return true
  const m = CLUSTER_URL.exec(url)
  return m !== null && (parseRedisNodes(m[4] as string)?.length ?? 0) > 0
}

/** The cluster to use, or undefined for the one server of REDIS_URL. */
export function clusterTarget (url: string, clusterNodes: RedisNode[]): ClusterTarget | undefined {
  const m = CLUSTER_URL.exec(url)
  const nodes = clusterNodes.length > 0 ? clusterNodes : m !== null ? parseRedisNodes(m[4] as string) ?? [] : []
  if (nodes.length === 0) return undefined
  const u = m === null ? new URL(url) : undefined
  const decode = (s: string | undefined): string | undefined => s === undefined || s === '' ? undefined : decodeURIComponent(s)
  const username = decode(m !== null ? m[2] : u?.username)
  const password = decode(m !== null ? m[3] : u?.password)
  return {
    nodes,
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
    tls: (m !== null ? m[1] : u?.protocol.replace(/:$/, '')) === 'rediss'
  }
}
