// The service's HTTP API as the page uses it: same origin, the API key in the header the service
// reads (README "Tenants"), and every refusal turned into an ApiError carrying the service's code
// and message, which the page shows as they are.

export interface TensorInfo {
  name: string
  kind: 'parameter' | 'buffer'
  shape: number[]
  dtype: string
  numel: number
  nbytes: number
  requiresGrad: boolean
  persistent: boolean
  tiedTo?: string
}

export interface Module {
  id: string
  class: string
  /** the canonical Python expression, where the service writes it */
  python?: string
  tensors: TensorInfo[]
  totals: { parameters: number, buffers: number, numel: number, nbytes: number }
}

export interface DtypeEstimate { numel: number, nbytes: number, largestTensor: number, trainingAdam: number }

/** What DynamicCache holds after `sequenceLength` tokens of `batchSize` sequences (decoders only). */
export interface KvCache {
  batchSize: number
  sequenceLength: number
  layers: number
  slidingLayers: number
  slidingWindow: number | null
  kvHeads: number
  headDim: number
  tokensHeld: number
  dtype: string
  nbytes: number
  byDtype: Record<string, number>
}

export interface Estimate {
  class: string
  totals: { numel: number, nbytes: number }
  byDtype: Record<string, DtypeEstimate>
  largestTensor: { name: string, nbytes: number } | null
  training: { adam: number }
  kvCache?: KvCache
}

export interface SignatureParam {
  name: string
  kind: 'positional_or_keyword' | 'keyword_only' | 'var_positional' | 'var_keyword'
  required: boolean
  type: string
  default?: unknown
}

export interface ModuleClass { name: string, qualname: string, acceptsDevice: boolean, signature: SignatureParam[], doc: string }

export interface Materialization {
  id: string
  status: 'ready' | 'pending' | 'failed'
  progress: { bytesDone: number, bytesTotal: number }
  nbytes: number
  safetensors: string
  error?: string
}

export class ApiError extends Error {
  constructor (readonly status: number, readonly code: string, message: string) {
    super(message)
  }
}

export class Api {
  key = ''

  headers (json: boolean): Headers {
    const h = new Headers()
    if (json) h.set('content-type', 'application/json')
    if (this.key !== '') h.set('authorization', `Bearer ${this.key}`)
    return h
  }

  /** The response to `method path`, or an ApiError with the service's code and message. */
  async send (method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
    let res: Response
    try {
      res = await fetch(path, { method, headers: this.headers(body !== undefined), body: body === undefined ? undefined : JSON.stringify(body), signal })
    } catch (err) {
      if (err instanceof DOMException && err.name === 'AbortError') throw err
      throw new ApiError(0, 'NETWORK', `The service did not answer (${err instanceof Error ? err.message : String(err)})`)
    }
    if (res.ok) return res
    let code = `HTTP_${res.status}`
    let message = res.statusText
    try {
      const e = await res.json() as { code?: unknown, message?: unknown }
      if (typeof e.code === 'string') code = e.code
      if (typeof e.message === 'string') message = e.message
    } catch {}
    throw new ApiError(res.status, code, message)
  }

  async json<T> (method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    return await (await this.send(method, path, body, signal)).json() as T
  }
}
