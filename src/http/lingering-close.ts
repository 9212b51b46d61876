// Lingering close of request bodies left unread (a refused or timed-out upload), as nginx does it.
import type { Socket } from 'node:net'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { errorDefs } from '../errors.js'

/** Bytes of an unread upload body dropped after the answer; past this the connection is closed. */
const LINGER_MAX_BYTES = 8 * 2 ** 20
/** Longest pause in the dropped bytes before the connection is closed (nginx's lingering_timeout). */
const LINGER_IDLE_MS = 5000

/**
 * After the answer to an upload whose body was not read to its end (refused early, or timed out):
 * left paused, the rest would hold the connection open, and app.close() with it. Like nginx's
 * lingering_close (https://nginx.org/en/docs/http/ngx_http_core_module.html#lingering_close), the
 * rest is read and dropped for a while, so the client reads the answer rather than a connection
 * reset; the connection is closed after LINGER_MAX_BYTES, after a pause, on a 408 (the client is
 * stalled) or when the service is shutting down. A body that ends in time keeps the connection.
 *
 * Returns what a handler calls on such a request before it reads the body; the connections still
 * dropping bytes are closed at once when `app` starts closing.
 */
export function lingeringClose (app: FastifyInstance): (request: FastifyRequest, reply: FastifyReply) => void {
  const lingering = new Set<Socket>()
  let closing = false
  app.addHook('preClose', async () => {
    closing = true
    for (const socket of lingering) socket.destroy()
  })
  return (request, reply) => { settleUnreadBody(request, reply, lingering, () => closing) }
}

function settleUnreadBody (request: FastifyRequest, reply: FastifyReply, lingering: Set<Socket>, closing: () => boolean): void {
  reply.raw.once('finish', () => {
    const body = request.raw
    const socket = body.socket
    // injected requests (light-my-request) have a stand-in socket with nothing to close
    if (body.complete || socket === null || socket.destroyed || typeof socket.destroy !== 'function') return
    if (reply.statusCode === errorDefs.requestTimeout.statusCode || closing()) {
      socket.destroy()
      return
    }
    const idleMs = Math.min(LINGER_IDLE_MS, request.server.config.receiveTimeout > 0 ? request.server.config.receiveTimeout : LINGER_IDLE_MS)
    let dropped = 0
    let timer: NodeJS.Timeout | undefined
    const stop = (): void => {
      clearTimeout(timer)
      body.off('readable', drop)
      lingering.delete(socket)
    }
    const close = (): void => { stop(); socket.destroy() }
    function drop (): void {
      for (let chunk = body.read() as Buffer | null; chunk !== null; chunk = body.read() as Buffer | null) dropped += chunk.length
      clearTimeout(timer)
      if (dropped > LINGER_MAX_BYTES) close()
      else timer = setTimeout(close, idleMs)
    }
    lingering.add(socket)
    body.on('readable', drop)
    body.once('end', () => { if (closing()) close(); else stop() })
    socket.once('close', stop)
    drop()
  })
}
