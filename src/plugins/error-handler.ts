// One error body for everything the service emits, including fastify's own errors.
// Client errors keep their message; server errors are logged with the request id and hidden.
import fp from 'fastify-plugin'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { errorBody, errorDefs, materiaError, type ErrorDef, type MateriaError } from '../errors.js'

// fastify's own error codes and the registry entry each one becomes
const fastifyCodes: Record<string, ErrorDef> = {
  FST_ERR_CTP_BODY_TOO_LARGE: errorDefs.bodyTooLarge,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: errorDefs.unsupportedMediaType,
  FST_ERR_CTP_INVALID_JSON_BODY: errorDefs.badRequest,
  FST_ERR_CTP_EMPTY_JSON_BODY: errorDefs.badRequest,
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: errorDefs.badRequest,
  FST_ERR_VALIDATION: errorDefs.validation
}

const registryCodes = new Set(Object.values(errorDefs).map((d) => d.code))

interface Classified { statusCode: number, code: string, message: string, headers?: Record<string, string> }

function classify (err: FastifyError & { headers?: Record<string, string> }): Classified {
  if (registryCodes.has(err.code)) {
    return { statusCode: err.statusCode ?? 500, code: err.code, message: err.message, headers: err.headers }
  }
  if (err.validation !== undefined) {
    return { statusCode: 400, code: errorDefs.validation.code, message: err.message }
  }
  const known = fastifyCodes[err.code]
  if (known !== undefined) return { statusCode: known.statusCode, code: known.code, message: err.message }
  // any other client error from fastify or a plugin (e.g. a bad URL) is still the client's
  if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
    return { statusCode: 400, code: errorDefs.badRequest.code, message: err.message }
  }
  const hidden = materiaError('internal', {})
  return { statusCode: hidden.statusCode, code: hidden.code, message: hidden.message }
}

const bodyOf = (e: MateriaError): ReturnType<typeof errorBody> => errorBody(e.statusCode, e.code, e.message)

/**
 * Errors the router raises before any route or hook runs (fastify's `frameworkErrors` option): a
 * URL that does not decode, a path parameter past maxParamLength. Without this they would be
 * fastify's own bodies, outside the registry; the path is not echoed (it may be huge).
 */
export function frameworkErrors (err: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const e = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? materiaError('uriTooLong', {}) : materiaError('badUrl', {})
  void reply.code(e.statusCode).type('application/json; charset=utf-8').send(bodyOf(e))
}

async function errorHandlerPlugin (app: FastifyInstance): Promise<void> {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const c = classify(err)
    if (c.statusCode >= 500) {
      request.log.error({ err }, 'request failed')
    } else {
      request.log.info({ code: c.code, statusCode: c.statusCode, message: c.message }, 'request rejected')
    }
    if (c.headers !== undefined) void reply.headers(c.headers)
    void reply.code(c.statusCode).type('application/json; charset=utf-8')
    return errorBody(c.statusCode, c.code, c.message)
  })

  app.setNotFoundHandler((request, reply) => {
    const e = materiaError('routeNotFound', { method: request.method, path: request.url.split('?')[0] ?? '' })
    void reply.code(e.statusCode).type('application/json; charset=utf-8')
    return bodyOf(e)
  })
}

export default fp(errorHandlerPlugin, { name: 'error-handler', fastify: '5.x' })
