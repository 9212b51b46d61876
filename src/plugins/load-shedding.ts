// Load shedding with @fastify/under-pressure: while the event loop lags more than
// MATERIA_MAX_EVENT_LOOP_DELAY, or the V8 heap or the RSS is over MATERIA_MAX_HEAP_BYTES /
// MATERIA_MAX_RSS_BYTES, new API requests (/v1, /hub) answer 503 MATERIA_ERR_OVERLOADED with Retry-After, so
// the replica finishes what it holds instead of queueing work it cannot do. Operations routes
// (health, readiness, metrics, docs) always answer: probes must see the replica as it is.
// Registered before auth, so a shed request costs no key check.
import fp from 'fastify-plugin'
import underPressure from '@fastify/under-pressure'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { materiaError } from '../errors.js'
import { isApiRoute } from './auth.js'

/** How often under-pressure samples the process; a shed client retries after two samples. */
const SAMPLE_MS = 1000
const RETRY_AFTER_S = 2

const mib = (n: number): string => `${(n / 2 ** 20).toFixed(0)} MiB`

async function loadSheddingPlugin (app: FastifyInstance): Promise<void> {
  const { maxEventLoopDelay, maxHeapBytes, maxRssBytes } = app.config
  if (maxEventLoopDelay === 0 && maxHeapBytes === 0 && maxRssBytes === 0) return
  const why: Record<string, (value: number) => string> = {
    [underPressure.TYPE_EVENT_LOOP_DELAY]: (v) => `event-loop delay ${v.toFixed(0)} ms is above ${maxEventLoopDelay} ms (MATERIA_MAX_EVENT_LOOP_DELAY)`,
    [underPressure.TYPE_HEAP_USED_BYTES]: (v) => `heap in use ${mib(v)} is above ${mib(maxHeapBytes)} (MATERIA_MAX_HEAP_BYTES)`,
    [underPressure.TYPE_RSS_BYTES]: (v) => `resident set ${mib(v)} is above ${mib(maxRssBytes)} (MATERIA_MAX_RSS_BYTES)`
  }
  // Booting blocks the loop (route serializers and the OpenAPI document are compiled while the
  // app gets ready, ~1.5 s): that stall lands in the first samples, and would shed the first
  // requests of an idle replica. Event-loop delay counts from two samples after the server
  // listens (after ready, for an app that only takes injected requests); heap and RSS at once.
  let countDelayFrom = Infinity
  const quietFromNow = async (): Promise<void> => { countDelayFrom = performance.now() + 2 * SAMPLE_MS }
  app.addHook('onReady', quietFromNow)
  app.addHook('onListen', quietFromNow)
  await app.register(underPressure, {
    maxEventLoopDelay,
    maxHeapUsedBytes: maxHeapBytes,
    maxRssBytes,
    sampleInterval: SAMPLE_MS,
    // called only while a threshold is crossed; resolving lets the request through
    pressureHandler: async (request: FastifyRequest, _reply: unknown, type: string, value: number | undefined) => {
      if (!isApiRoute(request)) return
      // under-pressure reads a sample with no event-loop tick in it (a stall that covered the whole
      // interval, e.g. while the app boots) as an infinite delay; the stalled tick lands in the next
      // sample, which sheds if the stall was real, so an empty sample alone sheds nothing
      if (type === underPressure.TYPE_EVENT_LOOP_DELAY && !Number.isFinite(value)) return
      if (type === underPressure.TYPE_EVENT_LOOP_DELAY && performance.now() < countDelayFrom) return
      request.log.warn({ type, value }, 'shedding load')
      throw materiaError('overloaded', { reason: why[type]?.(value ?? 0) ?? type, seconds: RETRY_AFTER_S }, { 'retry-after': String(RETRY_AFTER_S) })
    }
  })
}

export default fp(loadSheddingPlugin, { name: 'load-shedding', fastify: '5.x', dependencies: ['error-handler', 'health'] })
