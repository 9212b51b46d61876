// Schemas shared by every route. Each has a stable $id: it becomes the OpenAPI component name.
import { Type, type TSchema } from '@sinclair/typebox'
import { allErrorDefs, errorDefs, type ErrorName } from '../errors.js'
import { DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT } from '../store/cursor.js'

export const ErrorBody = Type.Object({
  statusCode: Type.Integer({ description: 'HTTP status code, repeated.' }),
  code: Type.String({
    description: 'Stable error code from the error registry; never reused.',
    enum: allErrorDefs.map((d) => d.code)
  }),
  error: Type.String({ description: 'HTTP reason phrase.' }),
  message: Type.String({ description: 'What went wrong, for a person. Constructor errors read like Python.' })
}, {
  $id: 'ErrorBody',
  title: 'ErrorBody',
  description: 'The body of every error response.',
  additionalProperties: false,
  examples: [{ statusCode: 404, code: 'MATERIA_ERR_SESSION_NOT_FOUND', error: 'Not Found', message: "Session 'ses_x' not found" }]
})

const authErrors: ErrorName[] = ['credentialInQuery', 'rateLimited', 'overloaded']

/** One declared error response: always JSON, also on routes whose success is bytes, YAML or text (`produces`). */
export interface ErrorResponse { description: string, content: { 'application/json': { schema: TSchema } } }

/** Response entries for the given error names, grouped by status, described by their codes. */
export function errorResponses (...names: ErrorName[]): Record<number, ErrorResponse> {
  const byStatus = new Map<number, string[]>()
  // a route that looks up a session reads the session store, which answers 503 when Redis is unreachable
  let all = names.includes('sessionNotFound') && !names.includes('notReady') ? [...names, 'notReady' as const] : names
  // a route behind the API key is also behind the checks in front of it (src/plugins/auth.ts)
  if (all.includes('unauthorized')) all = [...all, ...authErrors.filter((n) => !all.includes(n))]
  // a credential in the query string is refused in front of every route, operations routes too
  if (!all.includes('credentialInQuery')) all = [...all, 'credentialInQuery']
  for (const n of all) {
    const d = errorDefs[n]
    byStatus.set(d.statusCode, [...(byStatus.get(d.statusCode) ?? []), d.code])
  }
  const out: Record<number, ErrorResponse> = {}
  for (const [status, codes] of byStatus) {
    out[status] = { description: `Error: ${codes.join(', ')}.`, content: { 'application/json': { schema: Type.Ref(ErrorBody) } } }
  }
  return out
}

/**
 * fastify parses the body of every method but GET and HEAD before the handler runs: malformed JSON,
 * an unaccepted content type and a body over the limit are answered there (src/plugins/error-handler.ts).
 */
const parserErrors: ErrorName[] = ['badRequest', 'unsupportedMediaType', 'bodyTooLarge']

/** errorResponses for a method whose body fastify parses (POST, DELETE): the parser's errors too. */
export function bodyErrorResponses (...names: ErrorName[]): Record<number, ErrorResponse> {
  return errorResponses(...names, ...parserErrors.filter((n) => !names.includes(n)))
}

/** Query of every list route: cursor pagination (limit bounds give 400 MATERIA_ERR_VALIDATION). */
export const PageQuery = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: MAX_PAGE_LIMIT, default: DEFAULT_PAGE_LIMIT, description: `Items per page, 1-${MAX_PAGE_LIMIT}. Default ${DEFAULT_PAGE_LIMIT}.` }),
  cursor: Type.Optional(Type.String({ description: 'The `nextCursor` of the previous page, unchanged (opaque); omit it for the first page. One that was not issued by this service is a 400 MATERIA_ERR_INVALID_CURSOR.' }))
})

/** The `nextCursor` field of every list response. */
export const nextCursor = Type.Union([Type.String(), Type.Null()], {
  description: 'Pass as `cursor` to get the next page; null on the last page. Items are in creation order and a walk returns each item that exists throughout exactly once, also while items are added.'
})

export const sharedSchemas: TSchema[] = [ErrorBody]
