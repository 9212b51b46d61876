// The error codes each operation declares in the OpenAPI document the app generates: a response
// per status, described as "Error: CODE, CODE." (src/schemas/common.ts errorResponses). Tests
// check every error answer against the operation that gave it.
import type { FastifyInstance } from 'fastify'
import { errorDefs, errorMessages, formatMessage } from '../../src/errors.js'

export interface Operation {
  readonly method: string
  readonly path: string
  readonly codes: ReadonlySet<string>
  readonly pattern: RegExp
  readonly params: number
}

type Doc = { paths: Record<string, Record<string, { responses?: Record<string, { description?: string }> }>> }

export function declaredOperations (app: FastifyInstance): Operation[] {
  const doc = app.swagger() as unknown as Doc
  const out: Operation[] = []
  for (const [path, item] of Object.entries(doc.paths)) {
    const params = path.match(/\{[^}]+\}/g)?.length ?? 0
    const pattern = new RegExp(`^${path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`)
    for (const [method, op] of Object.entries(item)) {
      const codes = new Set<string>()
      for (const r of Object.values(op.responses ?? {})) {
        for (const c of (r.description ?? '').match(/MATERIA_ERR_[A-Z0-9_]+/g) ?? []) codes.add(c)
      }
      out.push({ method: method.toUpperCase(), path, codes, pattern, params })
    }
  }
  // a literal segment wins over a parameter, as in fastify's router
  return out.sort((a, b) => a.params - b.params)
}

/** The operation a request reaches (HEAD: its GET), or undefined when no route matches. */
export function operationOf (ops: readonly Operation[], method: string, url: string): Operation | undefined {
  const path = url.split('?')[0] ?? ''
  const m = method === 'HEAD' ? 'GET' : method
  return ops.find((o) => o.method === m && o.pattern.test(path))
}

// the router answers these before any route runs (src/plugins/error-handler.ts frameworkErrors)
const routerMessages = new Set([formatMessage(errorMessages.badUrl.template, {}), formatMessage(errorMessages.uriTooLong.template, {})])

/**
 * fastify's content-type parsing answers these before the handler of any method that carries a
 * body (a malformed JSON body, an unaccepted content type, a body over the limit); every such
 * operation must declare them (bodyErrorResponses in src/schemas/common.ts), see `parserCodesUndeclared`.
 */
export const parserCodes: ReadonlySet<string> = new Set([errorDefs.badRequest.code, errorDefs.unsupportedMediaType.code, errorDefs.bodyTooLarge.code])
const parses = (method: string): boolean => method !== 'GET' && method !== 'HEAD'

/** Operations that can answer a body-parser code they do not declare: "METHOD /path: CODE, …". */
export function parserCodesUndeclared (ops: readonly Operation[]): string[] {
  return ops.filter((o) => parses(o.method) && [...parserCodes].some((c) => !o.codes.has(c)))
    .map((o) => `${o.method} ${o.path}: ${[...parserCodes].filter((c) => !o.codes.has(c)).join(', ')}`)
}

/** Why an error answer is not one its operation declares, or undefined when it is. */
export function undeclared (ops: readonly Operation[], method: string, url: string, body: { code?: unknown, message?: unknown }): string | undefined {
  const op = operationOf(ops, method, url)
  if (op === undefined || routerMessages.has(String(body.message))) return undefined
  if (op.codes.has(String(body.code))) return undefined
  return `${op.method} ${op.path} answered ${String(body.code)}, which it does not declare (it declares ${[...op.codes].join(', ')})`
}
