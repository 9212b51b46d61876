// tap's `after` program (.taprc): stops the redis-server scripts/test-redis-start.mjs started.
/* c8 ignore start */ // test harness, not the service: tap would otherwise count it in the suite's coverage
import { readFileSync, rmSync } from 'node:fs'

const file = new URL('../.tap/test-redis.json', import.meta.url)
try {
  const { pidfile } = JSON.parse(readFileSync(file, 'utf8'))
  process.kill(Number(readFileSync(pidfile, 'utf8')))
} catch {} // none was started (REDIS_URL was set) or it is gone already
rmSync(file, { force: true })
/* c8 ignore stop */
