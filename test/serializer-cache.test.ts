// Response serializers are shared between equal (shared schemas, options, response schema)
// inputs, and serialize exactly as an uncached fast-json-stringify compile does.
import t from 'tap'
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler'
import { cachingSerializerFactory } from '../src/http/serializer-cache.js'
import { build } from './helper.js'

const shared = { Thing: { $id: 'Thing', type: 'object', properties: { n: { type: 'integer' }, s: { type: 'string' } } } }
const route = (schema: unknown, url = '/a'): { method: string, url: string, httpStatus: string, schema: unknown } => ({ method: 'GET', url, httpStatus: '200', schema })
const refSchema = { type: 'object', properties: { thing: { $ref: 'Thing#' }, extra: { type: 'boolean' } } }

t.test('equal inputs share one serializer; different inputs do not', async (t) => {
  const a = cachingSerializerFactory(shared, {})
  const b = cachingSerializerFactory(structuredClone(shared), {})
  const one = a(route(refSchema))
  t.equal(a(route(structuredClone(refSchema), '/other')), one, 'same schema on another route: the same serializer')
  t.equal(b(route(structuredClone(refSchema))), one, 'an equal shared set in another app: the same serializer')
  t.not(a(route({ type: 'object', properties: { extra: { type: 'boolean' } } })), one, 'another schema: another serializer')
  const otherShared = cachingSerializerFactory({ Thing: { $id: 'Thing', type: 'object', properties: { n: { type: 'string' } } } }, {})
  const other = otherShared(route(refSchema))
  t.not(other, one, 'other shared schemas: another serializer')
  t.equal(other({ thing: { n: 5 } }), '{"thing":{"n":"5"}}', 'and it follows its own shared schemas')
})

t.test('after the cache of shared sets is cleared, an old compiler and a new set never share serializers', async (t) => {
  const old = cachingSerializerFactory({ Thing: { $id: 'Thing', type: 'object', properties: { n: { type: 'integer' } } } }, {})
  // 64 more distinct shared sets: the cache of sets is cleared on the way
  let last = old
  for (let i = 0; i < 64; i++) last = cachingSerializerFactory({ Thing: { $id: 'Thing', type: 'object', properties: { n: { type: 'string' } } }, [`S${i}`]: { $id: `S${i}`, type: 'object' } }, {})
  const newer = last(route(refSchema))
  const older = old(route(refSchema))
  t.equal(older({ thing: { n: 5 } }), '{"thing":{"n":5}}', 'the old compiler follows its own shared schemas')
  t.equal(newer({ thing: { n: 5 } }), '{"thing":{"n":"5"}}', 'the new one its own')
})

t.test('a cached serializer writes what fast-json-stringify writes', async (t) => {
  const plain = SerializerSelector()(shared, {})(route(refSchema))
  const cached = cachingSerializerFactory(shared, {})(route(refSchema))
  for (const doc of [{ thing: { n: 1, s: 'x', dropped: true }, extra: false }, {}, { thing: { n: 2.7 } }]) {
    t.equal(cached(doc), plain(doc))
  }
})

t.test('two apps in one process answer the same bodies (serializers shared)', async (t) => {
  const one = await build(t)
  const two = await build(t)
  for (const url of ['/v1/modules/Linear', '/v1/sessions/nope', '/healthz']) {
    const [r1, r2] = [await one.inject(url), await two.inject(url)]
    t.equal(r1.statusCode, r2.statusCode, url)
    t.equal(r1.body.replace(/"requestId":"[^"]+"/, ''), r2.body.replace(/"requestId":"[^"]+"/, ''), url)
  }
})
