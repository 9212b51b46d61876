import t from 'tap'
import { readFileSync } from 'node:fs'
import { configVars, loadConfig, parseByteSize, ConfigError } from '../src/config.js'
import { clusterTarget } from '../src/store/redis-client.js'

t.test('defaults', async (t) => {
  const c = loadConfig({})
  t.equal(c.port, 8080)
  t.equal(c.host, '0.0.0.0')
  t.equal(c.store, 'memory')
  t.same(c.apiKeys, [])
  t.ok(c.memoryBudget > 0)
  t.ok(c.workers >= 1)
  t.equal(c.arenaCache, 2 * 2 ** 30)
  t.equal(loadConfig({ MATERIA_ARENA_CACHE: '0' }).arenaCache, 0, 'the arena cache can be turned off')
})

t.test('byte sizes', async (t) => {
  t.equal(parseByteSize('8GiB'), 8 * 2 ** 30)
  t.equal(parseByteSize('512 MB'), 512e6)
  t.equal(parseByteSize('1024'), 1024)
  t.equal(parseByteSize('1.5kib'), 1536)
  t.equal(parseByteSize('eight'), undefined)
  t.equal(parseByteSize('8XB'), undefined)
  t.equal(parseByteSize('0'), undefined)
})

t.test('a bad value names the variable and what it expects', async (t) => {
  const cases: Array<[string, string]> = [['PORT', '70000'], ['PORT', 'http'], ['MATERIA_STORE', 'postgres'], ['LOG_LEVEL', 'loud'],
    ['MATERIA_MEMORY_BUDGET', 'lots'], ['MATERIA_WORKERS', '0'], ['REDIS_URL', 'localhost:6379'], ['MATERIA_SESSION_TTL', '-5'], ['MATERIA_ARENA_CACHE', '-1'], ['MATERIA_ARENA_CACHE', 'all'], ['MATERIA_REDIS_PREFIX', 'two words'],
    ['MATERIA_REDIS_PREFIX', 'a{}b:'], ['REDIS_URL', 'redis+cluster://'], ['REDIS_URL', 'redis+cluster://a:1,b'], ['REDIS_CLUSTER_NODES', 'a:1,b'], ['REDIS_CLUSTER_NODES', 'a:70000']]
  for (const [name, value] of cases) {
    const err = (() => { try { loadConfig({ [name]: value }) } catch (e) { return e } })()
    t.ok(err instanceof ConfigError, `${name}=${value} is rejected`)
    t.equal((err as ConfigError).variable, name)
    t.match((err as ConfigError).message, new RegExp(`^Invalid ${name}=.*: expected `))
  }
  t.throws(() => loadConfig({ MATERIA_SESSION_TTL: '100', MATERIA_MAX_SESSION_TTL: '10' }), /MATERIA_SESSION_TTL/)
})

t.test('a Redis Cluster: by its seed nodes, or a redis+cluster:// URL with the credentials', async (t) => {
  t.same(clusterTarget(loadConfig({}).redisUrl, loadConfig({}).redisClusterNodes), undefined, 'default: one Redis')
  const byNodes = loadConfig({ REDIS_CLUSTER_NODES: ' 10.0.0.1:7000, redis-b:7001,[::1]:7002 ', REDIS_URL: 'rediss://u:p%40ss@ignored:1' })
  t.same(clusterTarget(byNodes.redisUrl, byNodes.redisClusterNodes), {
    nodes: [{ host: '10.0.0.1', port: 7000 }, { host: 'redis-b', port: 7001 }, { host: '::1', port: 7002 }], username: 'u', password: 'p@ss', tls: true
  }, 'REDIS_URL gives the user, password and TLS')
  const byUrl = loadConfig({ REDIS_URL: 'redis+cluster://:secret@h1:7000,h2:7001' })
  t.same(clusterTarget(byUrl.redisUrl, byUrl.redisClusterNodes), { nodes: [{ host: 'h1', port: 7000 }, { host: 'h2', port: 7001 }], password: 'secret', tls: false })
  const tls = loadConfig({ REDIS_URL: 'rediss+cluster://h1:7000/' })
  t.same(clusterTarget(tls.redisUrl, tls.redisClusterNodes), { nodes: [{ host: 'h1', port: 7000 }], tls: true })
})

t.test('every variable is documented in README.md and .env.example', async (t) => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
  const example = readFileSync(new URL('../.env.example', import.meta.url), 'utf8')
  for (const d of configVars) {
    t.match(readme, `\`${d.name}\``, `${d.name} in README`)
    t.match(example, new RegExp(`^#? ?${d.name}=`, 'm'), `${d.name} in .env.example`)
  }
})
