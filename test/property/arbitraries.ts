// fast-check generators of requests to every route: valid ones, mutated ones, and the shapes that
// have taken the service down or around its limits before (docs/tenants.md, README "Limits").
import fc from 'fast-check'
import { listModuleClasses } from '../../src/nn/catalog.js'

export interface Fixture {
  /** per tenant key: a session, a module (Linear(16, 8)) and a ready materialization of it */
  own: { key: string, sid: string, mid: string, matId: string }
  other: { key: string, sid: string, mid: string, matId: string }
}

/**
 * Handles in generated paths are tokens (@own.sid@, …) that the runner replaces with the fixture's
 * current ids, so a generated DELETE of the fixture does not make every later request a 404.
 */
export function token (who: 'own' | 'other', what: 'sid' | 'mid' | 'matId'): string { return `@${who}.${what}@` }

export function resolveTokens (text: string, f: Fixture): string {
  return text.replace(/@(own|other)\.(sid|mid|matId)@/g, (_m, who: 'own' | 'other', what: 'sid' | 'mid' | 'matId') => f[who][what])
}

export interface Req {
  method: string
  path: string
  headers: Record<string, string>
  body?: string | Uint8Array
}

const classes = listModuleClasses()
const classNames = classes.map((c) => c.name)
const paramNames = [...new Set(classes.flatMap((c) => c.signature.map((p) => p.name)))]

/** Constructor argument values: small sizes mostly, and the edge values users and attackers send. */
const scalar = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: -2, max: 64 }) },
  { weight: 2, arbitrary: fc.constantFrom(0, 1, 2 ** 31, 2 ** 53, 1e12, -1, 0.5, 1.5, Number.MAX_VALUE) },
  { weight: 2, arbitrary: fc.constantFrom(true, false, null, 'relu', 'gelu', 'zeros', 'reflect', 'mean', 'float16', 'bfloat16', '') },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) }
)

export const specArb: fc.Arbitrary<Record<string, unknown>> = fc.letrec<{ spec: Record<string, unknown>, value: unknown }>((tie) => ({
  spec: fc.record({
    class: fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...classNames) }, { weight: 1, arbitrary: fc.constantFrom('Nope', 'torch.Tensor', 'nn.Linear', 'torch.nn.LSTM', '__proto__', 'constructor') }),
    args: fc.array(tie('value'), { maxLength: 4 }),
    kwargs: fc.dictionary(fc.oneof(fc.constantFrom(...paramNames), fc.string({ maxLength: 8 })), tie('value'), { maxKeys: 3 })
  }, { requiredKeys: ['class'] }),
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(fc.integer({ min: -1, max: 16 }), { maxLength: 4 }),
    tie('spec'))
})).spec

/** Modules that cost a lot from a small spec: each must be refused or bounded, never kill the replica. */
export const heavySpecArb = fc.constantFrom<Record<string, unknown>>(
  { class: 'TransformerEncoder', args: [{ class: 'TransformerEncoderLayer', args: [8, 2] }, 9000] },
  { class: 'LSTM', args: [2, 2], kwargs: { num_layers: 100000 } },
  { class: 'Linear', args: [1e6, 1e6] },
  { class: 'Embedding', args: [2 ** 40, 2 ** 20] },
  { class: 'Linear', args: [2048, 2048] },
  { class: 'Sequential', args: Array.from({ length: 2000 }, () => ({ class: 'ReLU' })) },
  nested(200)
)

function nested (depth: number): Record<string, unknown> {
  let s: Record<string, unknown> = { class: 'ReLU' }
  for (let i = 0; i < depth; i++) s = { class: 'Sequential', args: [s] }
  return s
}

const initFns = ['trunc_normal_', 'normal_', 'uniform_', 'kaiming_uniform_', 'kaiming_normal_', 'xavier_normal_', 'xavier_uniform_', 'orthogonal_', 'zeros_', 'ones_', 'constant_', 'eye_', 'dirac_', 'sparse_', 'bogus_']
const overrideArb = fc.record({
  fn: fc.constantFrom(...initFns),
  a: fc.oneof(fc.double({ min: -3, max: 3, noNaN: true }), fc.constant(-0.4)),
  b: fc.oneof(fc.double({ min: -3, max: 3, noNaN: true }), fc.constant(0.4)),
  std: fc.oneof(fc.double({ min: -1, max: 2, noNaN: true }), fc.constant(0)),
  val: fc.double({ noNaN: true })
}, { requiredKeys: ['fn'] })

const valid = <T>(good: T[], bad: T[]): fc.Arbitrary<T> => fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...good) }, { weight: 1, arbitrary: fc.constantFrom(...bad) })

export const materializeArb = fc.record({
  init: fc.oneof(
    { weight: 4, arbitrary: valid(['empty', 'zeros', 'ones', 'default'], ['bogus', '']) },
    {
      weight: 2,
      arbitrary: fc.record({
        default: valid(['default', 'zeros', 'empty'], ['x']),
        overrides: fc.dictionary(valid(['weight', 'bias', '*', '*.weight'], ['[', 'weight|bias']), overrideArb, { maxKeys: 2 })
      }, { requiredKeys: [] })
    }
  ),
  seed: fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 1000 }) }, { weight: 1, arbitrary: fc.constantFrom(2 ** 64, -(2 ** 63), -1, 1.5, 'seven') }),
  rng: valid(['torch', 'philox'], ['mt']),
  dtype: valid(['float32', 'float16', 'bfloat16', 'float64'], ['int8', 'complex64', 'half']),
  device: valid(['cpu', 'worker'], ['cuda', 'meta']),
  wait: fc.boolean()
}, { requiredKeys: [] })

/** Headers: credentials of the right tenant, the other tenant, none or garbage; ranges; content types. */
function headersArb (f: Fixture): fc.Arbitrary<Record<string, string>> {
  return fc.record({
    key: fc.constantFrom(f.own.key, f.own.key, f.own.key, f.own.key, f.own.key, f.own.key, f.own.key, f.own.key, f.other.key, '', 'wrong'),
    range: fc.oneof(fc.constant(undefined), fc.constantFrom('bytes=0-99', 'bytes=-1', 'bytes=5-', 'bytes=9999999999-', 'bytes=0-0,2-3', 'bytes=x', 'items=0-1', 'bytes=-0')),
    ifRange: fc.oneof(fc.constant(undefined), fc.constantFrom('"nope"', 'Wed, 21 Oct 2015 07:28:00 GMT'))
  }).map(({ key, range, ifRange }) => {
    const h: Record<string, string> = {}
    if (key !== '') h['x-api-key'] = key
    if (range !== undefined) h.range = range
    if (ifRange !== undefined) h['if-range'] = ifRange
    return h
  })
}

/** A path for a template: ids are the caller's, another tenant's, or made up; spellings vary. */
function routeArb (): fc.Arbitrary<{ method: string, path: string }> {
  const sid = fc.constantFrom(token('own', 'sid'), token('own', 'sid'), token('own', 'sid'), token('own', 'sid'), token('other', 'sid'), 'ses_nope', '..', '%00', 'ses_' + 'A'.repeat(300))
  const mid = fc.constantFrom(token('own', 'mid'), token('own', 'mid'), token('own', 'mid'), token('own', 'mid'), token('other', 'mid'), 'mod_nope', '')
  const mat = fc.constantFrom(token('own', 'matId'), token('own', 'matId'), token('own', 'matId'), token('other', 'matId'), 'mat_nope')
  const tensor = fc.constantFrom('weight', 'bias', 'nope', '%2e%2e', encodeURIComponent('a/b'), '')
  const file = fc.constantFrom('model.safetensors.index.json', 'model-00001-of-00002.safetensors', 'model-00009-of-00002.safetensors', 'x', '..%2fetc')
  const query = fc.constantFrom('', '', '', '', '', '', '', '', '?limit=1', '?limit=0', '?limit=100000', '?limit=x', '?cursor=zzz', '?cursor=', '?maxShardBytes=100', '?maxShardBytes=-5', '?maxShardBytes=1e30',
    '?strict=false', '?device=worker', '?api_key=leak', '?wait=false', '?init=zeros')
  // each route with the methods it answers (and, now and then, one it does not)
  const route = (methods: string[], path: fc.Arbitrary<string>): fc.Arbitrary<[string, string]> => fc.tuple(fc.constantFrom(...methods), path)
  const templates = fc.oneof(
    route(['POST', 'POST', 'GET'], fc.constant('/v1/sessions')),
    route(['GET', 'DELETE'], sid.map((s) => `/v1/sessions/${s}`)),
    route(['POST', 'POST', 'GET'], sid.map((s) => `/v1/sessions/${s}/modules`)),
    route(['POST'], sid.map((s) => `/v1/sessions/${s}/skip_init`)),
    route(['GET', 'DELETE'], fc.tuple(sid, mid).map(([s, m]) => `/v1/sessions/${s}/modules/${m}`)),
    route(['POST', 'POST', 'POST'], fc.tuple(sid, mid).map(([s, m]) => `/v1/sessions/${s}/modules/${m}/materializations`)),
    route(['GET'], sid.map((s) => `/v1/sessions/${s}/materializations`)),
    route(['GET', 'DELETE'], fc.tuple(sid, mat).map(([s, m]) => `/v1/sessions/${s}/materializations/${m}`)),
    route(['GET', 'HEAD'], fc.tuple(sid, mat, tensor).map(([s, m, n]) => `/v1/sessions/${s}/materializations/${m}/tensors/${n}`)),
    route(['GET', 'HEAD'], fc.tuple(sid, mat).map(([s, m]) => `/v1/sessions/${s}/materializations/${m}/safetensors`)),
    route(['GET', 'HEAD'], fc.tuple(sid, mat, file).map(([s, m, n]) => `/v1/sessions/${s}/materializations/${m}/safetensors/${n}`)),
    route(['POST', 'POST'], fc.constant('/v1/estimate')),
    route(['GET'], fc.constantFrom('/v1/modules', '/v1/modules/Linear', '/v1/modules/nope', '/healthz', '/readyz', '/metrics', '/openapi.json', '/nope', '/'))
  )
  const method = fc.oneof({ weight: 9, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom('PUT', 'PATCH', 'OPTIONS', 'DELETE', 'GET', 'TRACE') })
  // non-canonical spellings of the same routes (the router decodes them; auth must not be fooled)
  const spelling = fc.constantFrom<(p: string) => string>(
    (p) => p, (p) => p, (p) => p, (p) => p, (p) => p, (p) => p, (p) => p, (p) => p, (p) => p, (p) => p,
  (p) => p.replace('/v1/', '/v%31/'),
  (p) => p.replace('/v1/', '//v1//'),
  (p) => p.replace('/v1/', '/v1/./'),
  (p) => p.replace('/v1/', '/V1/'),
  (p) => p.replace('sessions', 'sess%69ons'),
  (p) => `${p};x=1`
  )
  return fc.tuple(templates, method, spelling, query).map(([[m, p], other, s, q]) => ({ method: other ?? m, path: s(p) + q }))
}

/** Bytes for checkpoint uploads: random, or a safetensors header that is subtly wrong. */
const uploadArb = fc.oneof(
  fc.uint8Array({ maxLength: 4096 }),
  fc.record({
    entries: fc.integer({ min: 0, max: 3000 }),
    lie: fc.constantFrom('none', 'length', 'offsets', 'dtype', 'json'),
    size: fc.integer({ min: 0, max: 2048 })
  }).map(({ entries, lie, size }) => {
    const header: Record<string, unknown> = {}
    for (let i = 0; i < entries; i++) header[i === 0 ? 'weight' : `t${i}`] = { dtype: lie === 'dtype' ? 'F99' : 'F32', shape: [8, 16], data_offsets: lie === 'offsets' ? [0, 7] : [i * 512, (i + 1) * 512] }
    let text = JSON.stringify(header)
    if (lie === 'json') text = text.slice(0, -3)
    const h = Buffer.from(text)
    const prefix = Buffer.alloc(8)
    prefix.writeBigUInt64LE(BigInt(lie === 'length' ? h.length * 1000 : h.length))
    return new Uint8Array(Buffer.concat([prefix, h, Buffer.alloc(size)]))
  })
)

type Body = { type: string, data: string | Uint8Array }
const asJson = (a: fc.Arbitrary<unknown>): fc.Arbitrary<Body> => a.map((v) => ({ type: 'application/json', data: JSON.stringify(v) ?? 'null' }))
const oddBody: fc.Arbitrary<Body> = fc.oneof(
  asJson(fc.jsonValue({ maxDepth: 3 })),
  fc.tuple(fc.string({ maxLength: 64 }), fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x'))
    .map(([data, type]) => ({ type, data }))
)

/** The body a route takes, most of the time; something else otherwise. */
function bodyFor (path: string): fc.Arbitrary<Body> {
  let fit: fc.Arbitrary<Body>
  if (/materializations(\?|$)/.test(path) && /modules/.test(path)) {
    fit = fc.oneof({ weight: 4, arbitrary: asJson(materializeArb) }, { weight: 2, arbitrary: uploadArb.map((data) => ({ type: 'application/octet-stream', data })) })
  } else if (/\/(modules|skip_init|estimate)(\?|$)/.test(path)) {
    fit = fc.oneof({ weight: 5, arbitrary: asJson(specArb) }, { weight: 1, arbitrary: asJson(heavySpecArb) })
  } else {
    fit = asJson(fc.record({ ttlSeconds: fc.oneof(fc.integer({ min: -5, max: 10 ** 7 }), fc.constant('x')) }, { requiredKeys: [] }))
  }
  return fc.oneof({ weight: 6, arbitrary: fit }, { weight: 1, arbitrary: oddBody })
}

export function requestArb (f: Fixture): fc.Arbitrary<Req> {
  return fc.tuple(routeArb(), headersArb(f)).chain(([{ method, path }, headers]) =>
    fc.option(bodyFor(path), { nil: undefined, freq: 8 }).map((body) => {
      const r: Req = { method, path, headers: { ...headers } }
      if (body !== undefined && method !== 'GET' && method !== 'HEAD') {
        r.headers['content-type'] = body.type
        r.body = body.data
      }
      return r
    }))
}
