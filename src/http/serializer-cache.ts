// Response serializers compiled once per distinct schema, not once per route and status code.
// fast-json-stringify validates and registers every shared schema again for each response schema
// it compiles, so with ~60 routes × their error statuses getting ready took ~1.2 s of blocked event
// loop, most of it on identical error bodies. A serializer is a pure function of (shared schemas,
// options, response schema), so equal inputs share one, within an app and across the apps of a
// process (tests and in-process replicas build many).
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler'

type Factory = ReturnType<typeof SerializerSelector>
type Compiler = ReturnType<Factory>

const compiled = new Map<string, ReturnType<Compiler>>()
const sharedIds = new Map<string, number>()
let nextSharedId = 0
/** Bounds the cache: each distinct shared-schema set brings at most its routes' schemas. */
const MAX_SERIALIZERS = 10_000
const MAX_SHARED_SETS = 64

const base = SerializerSelector()

export const cachingSerializerFactory: Factory = (externalSchemas, options) => {
  const compile = base(externalSchemas, options)
  // the shared schemas are ~270 kB of JSON: keys carry a short id for them, not the text
  const shared = JSON.stringify([externalSchemas ?? null, options ?? null])
  let sharedId = sharedIds.get(shared)
  if (sharedId === undefined) {
    if (sharedIds.size >= MAX_SHARED_SETS) { sharedIds.clear(); compiled.clear() }
    // never reused after a clear: a compiler handed out before it keeps its id, and must not share
    // keys with a different set that came after
    sharedId = nextSharedId++
    sharedIds.set(shared, sharedId)
  }
  return (route) => {
    const key = `${sharedId}\u0000${JSON.stringify(route.schema)}`
    let serializer = compiled.get(key)
    if (serializer === undefined) {
      serializer = compile(route)
      if (compiled.size >= MAX_SERIALIZERS) compiled.clear()
      compiled.set(key, serializer)
    }
    return serializer
  }
}
