// Byte responses: raw tensors and safetensors files as zero-copy views of an arena (or chunks of a
// lazy one, made as they are read), streamed with backpressure; HEAD, Range (206/416), ETag,
// If-None-Match and If-Range.
import { createHash } from 'node:crypto'
import type { Socket } from 'node:net'
import { Readable } from 'node:stream'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ArenaBytes } from '../materialize/arena.js'
import type { ReadSink } from '../materialize/lazy-arena.js'
import { materiaError } from '../errors.js'
import { contentRange, parseRange, unsatisfiedContentRange } from '../serialize/range.js'

/** A piece of a byte response: bytes already in a Buffer, or a region of an arena. */
export type Segment = { buffer: Buffer } | { arena: ArenaBytes, offset: number, length: number }

const segmentLength = (s: Segment): number => 'buffer' in s ? s.buffer.length : s.length

/**
 * The bytes [start, end) across the segments: views of buffers and arenas (at most 1 MiB each),
 * chunks of lazy arenas; `sink` says how many of these bytes have been sent (lazy-arena.ts).
 */
export async function * segmentViews (segments: readonly Segment[], start: number, end: number, sink?: ReadSink): AsyncGenerator<Buffer> {
  let base = 0
  for (const s of segments) {
    const len = segmentLength(s)
    const from = Math.max(start, base); const to = Math.min(end, base + len)
    if (from < to) {
      const before = from - start // bytes of the body before this segment's part
      if ('buffer' in s) yield s.buffer.subarray(from - base, to - base)
      else yield * s.arena.read(s.offset + from - base, s.offset + to - base, sink !== undefined ? { sent: () => sink.sent() - before, closed: sink.closed } : undefined)
    }
    base += len
    if (base >= end) return
  }
}

/** A strong ETag for the part `what` of the bytes named by `key` (a materialization's identity or id): they never change once ready. */
export function etagOf (key: string, what: string): string {
  return `"${createHash('sha256').update(`${key}\0${what}`).digest('base64url').slice(0, 27)}"`
}

export function sendBytes (request: FastifyRequest, reply: FastifyReply, segments: readonly Segment[], etag: string, headers: Record<string, string>,
  contentType = 'application/octet-stream'): FastifyReply {
  const size = segments.reduce((n, s) => n + segmentLength(s), 0)
  void reply.headers({ ...headers, etag, 'accept-ranges': 'bytes', 'cache-control': 'private, max-age=0, must-revalidate' })
  void reply.type(contentType)
  if (request.headers['if-none-match'] === etag) return reply.code(304).send()
  let range = parseRange(request.headers.range, size)
  const ifRange = request.headers['if-range']
  if (ifRange !== undefined && ifRange !== etag) range = 'none'
  if (range === 'unsatisfiable') {
    throw materiaError('rangeNotSatisfiable', { range: request.headers.range ?? '', size }, { 'content-range': unsatisfiedContentRange(size) })
  }
  const start = range === 'none' ? 0 : range.start
  const end = range === 'none' ? size : range.end + 1
  if (range !== 'none') void reply.code(206).header('content-range', contentRange(range, size))
  void reply.header('content-length', String(end - start))
  // HEAD: an empty stream keeps our content-length (an empty payload would reset it to 0)
  if (request.method === 'HEAD') return reply.send(Readable.from([], { objectMode: false }))
  // views may wait in the socket's queue after the stream ends: the arenas stay pinned (unrecycled,
  // their bytes counted in the budget) until the response closes; a lazy arena's pin reserves the
  // chunks the read holds, and may be refused (507) before anything is sent
  const unpins: Array<() => void> = []
  try {
    for (const a of new Set(segments.flatMap((s) => 'arena' in s ? [s.arena] : []))) unpins.push(a.pin())
  } catch (err) {
    for (const unpin of unpins) unpin()
    throw err
  }
  reply.raw.once('close', () => { for (const unpin of unpins) unpin() })
  // A client that stops reading would hold the pins forever: close the connection once no byte has
  // reached the kernel for MATERIA_SEND_TIMEOUT. Checked on a timer of our own, a quarter of it apart:
  // Node's socket idle timer skips a firing while a write is still queued, which it always is for a
  // stalled reader, so it fired only after up to twice the setting.
  const idleMs = request.server.config.sendTimeout
  const socket = reply.raw.socket
  if (idleMs > 0 && socket !== null) {
    const sent = (): number => socket.bytesWritten - socket.writableLength
    let last = sent()
    let lastMoved = Date.now()
    const watch = setInterval(() => {
      const now = sent()
      if (now !== last) { last = now; lastMoved = Date.now(); return }
      if (Date.now() - lastMoved < idleMs) return
      clearInterval(watch)
      request.log.info({ idleMs, bytes: end - start }, 'byte response made no progress: closing the connection (MATERIA_SEND_TIMEOUT)')
      reply.raw.destroy()
    }, Math.max(10, Math.floor(idleMs / 4)))
    watch.unref()
    reply.raw.once('close', () => { clearInterval(watch) })
  }
  const body = segmentViews(segments, start, end, socket !== null ? bodySent(reply, socket) : undefined)
  return reply.send(Readable.from(body, { objectMode: false }))
}

/**
 * How many body bytes of this response have been written to the kernel, and when it closes. A
 * socket's bytesWritten counts what was handed to it, writableLength what it has not finished
 * writing; bytes queued before this response (keep-alive) and its head are taken off, so the count
 * never runs ahead of the bytes really sent (a lazy read lends its chunk buffers by it).
 */
function bodySent (reply: FastifyReply, socket: Socket): ReadSink {
  const before = socket.bytesWritten
  const res = reply.raw as typeof reply.raw & { _header?: string | null }
  return {
    sent: () => {
      const head = res._header
      if (typeof head !== 'string') return 0
      return Math.max(0, socket.bytesWritten - socket.writableLength - before - head.length)
    },
    closed: new Promise((resolve) => { res.once('close', () => { resolve() }) })
  }
}
