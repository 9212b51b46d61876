// Request bodies streamed in (checkpoint uploads), with a receive timeout of their own.
import type { Readable } from 'node:stream'
import { materiaError } from '../errors.js'

/**
 * A checkpoint upload's body as chunks. One that sends nothing for `idleMs` (MATERIA_RECEIVE_TIMEOUT)
 * fails with a 408, so a client that sends its header and stalls cannot hold a module's reservation
 * until Node's 300 s requestTimeout (https://nodejs.org/api/http.html#serverrequesttimeout).
 */
export function uploadBody (stream: Readable, idleMs: number, length: number | undefined): AsyncIterator<Uint8Array> {
  const chunks = stream[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>
  if (idleMs <= 0) return chunks
  let received = 0
  return {
    next: async () => {
      let timer: NodeJS.Timeout | undefined
      const idle = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => {
          reject(materiaError('uploadStalled', { idleMs, received, length: length ?? 'an unknown number of' }))
        }, idleMs)
      })
      try {
        const next = await Promise.race([chunks.next(), idle])
        if (next.done !== true) received += next.value.length
        return next
      } finally {
        clearTimeout(timer)
      }
    }
  }
}

/** The Content-Length of a request, when it is a number. */
export function contentLength (headers: { 'content-length'?: string | undefined }): number | undefined {
  const length = headers['content-length'] !== undefined ? Number(headers['content-length']) : undefined
  return length !== undefined && Number.isSafeInteger(length) ? length : undefined
}
