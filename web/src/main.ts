// The explorer page: a spec (typed, or from the catalog form) is built in a session of its own
// (POST /v1/sessions/{id}/modules) and estimated (POST /v1/estimate); the answers fill the tensor
// table, totals, memory per dtype, the key/value cache of a decoder (for a batch and a token count
// the user sets) and the treemap. Materialize polls a `wait: false` fill for its
// progress; download fetches the safetensors file or its shards.
import { Api, ApiError, type Estimate, type KvCache, type Materialization, type Module, type ModuleClass } from './api.js'
import { classForm, formSpec } from './catalog-form.js'
import { byId, h } from './dom.js'
import { formatBytes, formatCount, formatShape } from './format.js'
import { specBody } from './spec.js'
import { bytesTree, treemapSvg } from './treemap.js'

const api = new Api()
const KEY_STORAGE = 'materia.apiKey'
// a pause in typing this long evaluates the spec
const TYPING_PAUSE_MS = 600
const POLL_MS = 150
// rows drawn in the tensor table; the totals still count every tensor
const MAX_ROWS = 5000

const el = {
  key: byId<HTMLInputElement>('api-key'),
  spec: byId<HTMLTextAreaElement>('spec'),
  evaluate: byId<HTMLButtonElement>('evaluate'),
  status: byId<HTMLElement>('status'),
  error: byId<HTMLElement>('error'),
  classSelect: byId<HTMLSelectElement>('class'),
  classDoc: byId<HTMLElement>('class-doc'),
  classForm: byId<HTMLFormElement>('class-form'),
  classFields: byId<HTMLElement>('class-fields'),
  results: byId<HTMLElement>('results'),
  totals: byId<HTMLElement>('totals'),
  memory: byId<HTMLElement>('memory'),
  kvCache: byId<HTMLElement>('kv-cache'),
  kvForm: byId<HTMLFormElement>('kv-form'),
  kvBatch: byId<HTMLInputElement>('kv-batch'),
  kvTokens: byId<HTMLInputElement>('kv-tokens'),
  kvResult: byId<HTMLElement>('kv-result'),
  treemap: byId<HTMLElement>('treemap'),
  tensors: byId<HTMLTableElement>('tensors'),
  tensorNote: byId<HTMLElement>('tensor-note'),
  init: byId<HTMLSelectElement>('init'),
  seed: byId<HTMLInputElement>('seed'),
  materialize: byId<HTMLButtonElement>('materialize'),
  progress: byId<HTMLProgressElement>('progress'),
  matStatus: byId<HTMLElement>('mat-status'),
  shardBytes: byId<HTMLInputElement>('shard-bytes'),
  download: byId<HTMLButtonElement>('download')
}

let sessionId: string | undefined
let current: Module | undefined
let materialization: Materialization | undefined
let catalog: ModuleClass[] = []
let evaluation: AbortController | undefined
let run = 0
/** the body of the spec on show, estimated again when the cache's batch or tokens change */
let shownBody: unknown
let kvRun = 0

function showError (err: unknown): void {
  if (err instanceof DOMException && err.name === 'AbortError') return
  const e = err instanceof ApiError ? err : new ApiError(0, 'PAGE', err instanceof Error ? err.message : String(err))
  el.error.replaceChildren(h('strong', {}, e.message), ' ', h('code', {}, e.status === 0 ? e.code : `${e.status} ${e.code}`))
  el.error.hidden = false
}

function clearError (): void {
  el.error.hidden = true
  el.error.replaceChildren()
}

function setStatus (text: string): void { el.status.textContent = text }

async function newSession (): Promise<string> {
  const s = await api.json<{ id: string }>('POST', '/v1/sessions', {})
  sessionId = s.id
  return s.id
}

/** The module built in this page's session (a new session when the old one expired). */
async function buildModule (body: unknown, signal: AbortSignal): Promise<Module> {
  const sid = sessionId ?? await newSession()
  try {
    return await api.json<Module>('POST', `/v1/sessions/${sid}/modules`, body, signal)
  } catch (err) {
    if (!(err instanceof ApiError && err.code === 'MATERIA_ERR_SESSION_NOT_FOUND')) throw err
    return await api.json<Module>('POST', `/v1/sessions/${await newSession()}/modules`, body, signal)
  }
}

async function evaluate (): Promise<void> {
  const text = el.spec.value.trim()
  if (text === '') return
  evaluation?.abort()
  const controller = new AbortController()
  evaluation = controller
  const mine = ++run
  const body = specBody(text)
  setStatus('Evaluating…')
  try {
    const [mod, est] = await Promise.all([buildModule(body, controller.signal), api.json<Estimate>('POST', '/v1/estimate', body, controller.signal)])
    if (mine !== run) return
    const previous = current
    current = mod
    // one module at a time in the page's session: the one it replaces is deleted (with its memory)
    if (previous !== undefined && sessionId !== undefined) api.send('DELETE', `/v1/sessions/${sessionId}/modules/${previous.id}`).catch(() => {})
    clearError()
    shownBody = body
    render(mod, est)
    setStatus(`${mod.class}: ${formatCount(mod.tensors.length)} tensors, ${formatBytes(mod.totals.nbytes)}`)
  } catch (err) {
    if (mine !== run) return
    showError(err)
    setStatus('')
    el.results.classList.add('stale')
  }
}

function render (mod: Module, est: Estimate): void {
  el.results.classList.remove('stale')
  el.results.hidden = false
  materialization = undefined
  el.progress.value = 0
  el.progress.max = 1
  el.matStatus.textContent = ''
  el.download.disabled = true
  el.materialize.disabled = false

  const tensors = mod.tensors
  el.totals.replaceChildren(h('h2', {}, 'Totals'), h('dl', {},
    h('dt', {}, 'class'), h('dd', {}, mod.class),
    mod.python !== undefined && h('dt', {}, 'python'), mod.python !== undefined && h('dd', { class: 'code' }, mod.python),
    h('dt', {}, 'tensors'), h('dd', {}, formatCount(tensors.length)),
    h('dt', {}, 'parameters'), h('dd', { 'data-field': 'parameters' }, formatCount(mod.totals.parameters)),
    h('dt', {}, 'buffer elements'), h('dd', { 'data-field': 'buffers' }, formatCount(mod.totals.buffers)),
    h('dt', {}, 'elements'), h('dd', { 'data-field': 'numel' }, formatCount(mod.totals.numel)),
    h('dt', {}, 'bytes'), h('dd', { 'data-field': 'nbytes', title: `${mod.totals.nbytes} bytes (tied storage once)` }, formatBytes(mod.totals.nbytes)),
    h('dt', {}, 'largest tensor'), h('dd', {}, est.largestTensor === null ? '—' : `${est.largestTensor.name} (${formatBytes(est.largestTensor.nbytes)})`)
  ))

  el.memory.replaceChildren(h('h2', {}, 'Memory'), h('table', {},
    h('thead', {}, h('tr', {}, h('th', {}, 'cast to'), h('th', {}, 'weights'), h('th', {}, 'training (Adam)'))),
    h('tbody', {}, ...Object.entries(est.byDtype).map(([dtype, d]) => h('tr', { 'data-dtype': dtype },
      h('th', {}, dtype),
      h('td', { 'data-field': 'nbytes', title: `${d.nbytes} bytes` }, formatBytes(d.nbytes)),
      h('td', { 'data-field': 'adam', title: `${d.trainingAdam} bytes` }, formatBytes(d.trainingAdam)))))
  ), h('p', { class: 'note' }, `As built: ${formatBytes(est.totals.nbytes)}; training with Adam: ${formatBytes(est.training.adam)} (weights, gradients, two moments per trainable element, plus buffers).`))

  renderKvCache(est.kvCache, true)
  el.treemap.replaceChildren(treemapSvg(bytesTree(tensors)))

  const rows = tensors.slice(0, MAX_ROWS).map((t) => h('tr', { 'data-name': t.name },
    h('td', { class: 'name' }, t.name),
    h('td', {}, t.kind),
    h('td', { class: 'num' }, formatShape(t.shape)),
    h('td', {}, t.dtype),
    h('td', { class: 'num', title: `${t.nbytes} bytes` }, formatCount(t.nbytes)),
    h('td', {}, t.tiedTo ?? '')))
  el.tensors.tBodies[0]?.replaceChildren(...rows)
  el.tensorNote.textContent = tensors.length > MAX_ROWS ? `The first ${formatCount(MAX_ROWS)} of ${formatCount(tensors.length)} tensors.` : ''
}

/** The cache card: shown for decoders; `fresh` (a new spec) takes the service's batch and tokens. */
function renderKvCache (kv: KvCache | undefined, fresh: boolean): void {
  el.kvCache.hidden = kv === undefined
  if (kv === undefined) return
  if (fresh) {
    el.kvBatch.value = String(kv.batchSize)
    el.kvTokens.value = String(kv.sequenceLength)
  }
  const sliding = kv.slidingLayers === 0 ? '' : `, ${kv.slidingLayers} of them sliding (window ${kv.slidingWindow ?? '—'})`
  el.kvResult.replaceChildren(h('table', {},
    h('thead', {}, h('tr', {}, h('th', {}, 'cache dtype'), h('th', {}, 'keys and values'))),
    h('tbody', {}, ...Object.entries(kv.byDtype).map(([dtype, n]) => h('tr', { 'data-dtype': dtype, class: dtype === kv.dtype ? 'as-built' : undefined },
      h('th', {}, dtype === kv.dtype ? `${dtype} (as built)` : dtype),
      h('td', { 'data-field': 'nbytes', title: `${n} bytes` }, formatBytes(n)))))
  ), h('p', { class: 'note', 'data-field': 'shape' }, `${formatCount(kv.batchSize)} × ${formatCount(kv.sequenceLength)} tokens: ${kv.layers} layers${sliding}, ` +
    `${kv.kvHeads} key/value heads of ${kv.headDim}; ${formatCount(kv.tokensHeld)} token-layers held per sequence (DynamicCache).`))
}

/** The cache again for the batch and tokens typed, from the service. */
async function estimateKvCache (): Promise<void> {
  const batch = el.kvBatch.value.trim()
  const tokens = el.kvTokens.value.trim()
  if (shownBody === undefined || batch === '' || tokens === '') return
  const mine = ++kvRun
  try {
    const est = await api.json<Estimate>('POST', `/v1/estimate?batchSize=${encodeURIComponent(batch)}&sequenceLength=${encodeURIComponent(tokens)}`, shownBody)
    if (mine !== kvRun) return
    clearError()
    renderKvCache(est.kvCache, false)
  } catch (err) {
    if (mine === kvRun) showError(err)
  }
}

async function materialize (): Promise<void> {
  const mod = current
  if (mod === undefined || sessionId === undefined) return
  el.materialize.disabled = true
  el.download.disabled = true
  clearError()
  // one materialization at a time: the one it replaces gives its memory back
  const previous = materialization
  materialization = undefined
  if (previous !== undefined) api.send('DELETE', `/v1/sessions/${sessionId}/materializations/${previous.id}`).catch(() => {})
  const init = el.init.value
  const body: Record<string, unknown> = { init, wait: false }
  if (init === 'default') body.seed = Number(el.seed.value === '' ? '0' : el.seed.value)
  try {
    const res = await api.send('POST', `/v1/sessions/${sessionId}/modules/${mod.id}/materializations`, body)
    const where = res.headers.get('location')
    let m = await res.json() as Materialization
    const path = where ?? `/v1/sessions/${sessionId}/materializations/${m.id}`
    for (;;) {
      if (current !== mod) return
      showProgress(m)
      if (m.status !== 'pending') break
      await new Promise((resolve) => setTimeout(resolve, POLL_MS))
      m = await api.json<Materialization>('GET', path)
    }
    if (m.status === 'failed') throw new ApiError(0, 'MATERIALIZATION_FAILED', m.error ?? 'The materialization failed')
    materialization = m
    el.download.disabled = false
  } catch (err) {
    showError(err)
  } finally {
    el.materialize.disabled = false
  }
}

function showProgress (m: Materialization): void {
  const { bytesDone, bytesTotal } = m.progress
  el.progress.max = Math.max(1, bytesTotal)
  el.progress.value = m.status === 'ready' ? el.progress.max : bytesDone
  el.matStatus.textContent = `${m.status}: ${formatBytes(bytesDone)} of ${formatBytes(bytesTotal)} filled`
  el.progress.dataset.status = m.status
}

/** Saves `url` as `name`: a plain link streams to disk; with a key the bytes come through fetch (a link cannot carry the header). */
async function save (url: string, name: string): Promise<void> {
  const a = h('a', { download: name })
  let blobUrl: string | undefined
  if (api.key === '') {
    a.href = url
  } else {
    blobUrl = URL.createObjectURL(await (await api.send('GET', url)).blob())
    a.href = blobUrl
  }
  document.body.append(a)
  a.click()
  a.remove()
  if (blobUrl !== undefined) setTimeout(() => { URL.revokeObjectURL(blobUrl) }, 10_000)
}

async function download (): Promise<void> {
  const m = materialization
  if (m === undefined) return
  clearError()
  el.download.disabled = true
  try {
    const shard = el.shardBytes.value.trim()
    if (shard === '') {
      await save(m.safetensors, 'model.safetensors')
      return
    }
    const q = `?maxShardBytes=${encodeURIComponent(shard)}`
    const index = await api.json<{ weight_map: Record<string, string> }>('GET', `${m.safetensors}/model.safetensors.index.json${q}`)
    await save(`${m.safetensors}/model.safetensors.index.json${q}`, 'model.safetensors.index.json')
    for (const file of new Set(Object.values(index.weight_map))) await save(`${m.safetensors}/${file}${q}`, file)
  } catch (err) {
    showError(err)
  } finally {
    el.download.disabled = false
  }
}

async function loadCatalog (): Promise<void> {
  try {
    catalog = (await api.json<{ modules: ModuleClass[] }>('GET', '/v1/modules')).modules
  } catch (err) {
    showError(err)
    return
  }
  const chosen = el.classSelect.value
  el.classSelect.replaceChildren(h('option', { value: '' }, '— choose a class —'), ...catalog.map((c) => h('option', { value: c.name, selected: c.name === chosen }, c.name)))
  showClass()
}

function showClass (): void {
  const cls = catalog.find((c) => c.name === el.classSelect.value)
  el.classForm.hidden = cls === undefined
  el.classDoc.textContent = cls?.doc ?? ''
  el.classFields.replaceChildren(...(cls === undefined ? [] : classForm(cls)))
}

let typing: ReturnType<typeof setTimeout> | undefined

el.spec.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
    e.preventDefault()
    clearTimeout(typing)
    void evaluate()
  }
})
el.spec.addEventListener('input', () => {
  clearTimeout(typing)
  typing = setTimeout(() => { void evaluate() }, TYPING_PAUSE_MS)
})
el.evaluate.addEventListener('click', () => { void evaluate() })
el.kvForm.addEventListener('change', () => { void estimateKvCache() })
el.kvForm.addEventListener('submit', (e) => { e.preventDefault(); void estimateKvCache() })
el.materialize.addEventListener('click', () => { void materialize() })
el.download.addEventListener('click', () => { void download() })
el.init.addEventListener('change', () => { el.seed.disabled = el.init.value !== 'default' })
el.classSelect.addEventListener('change', showClass)
el.classForm.addEventListener('submit', (e) => {
  e.preventDefault()
  const cls = catalog.find((c) => c.name === el.classSelect.value)
  if (cls === undefined) return
  el.spec.value = JSON.stringify(formSpec(cls, el.classForm))
  void evaluate()
})
el.key.addEventListener('change', () => {
  api.key = el.key.value.trim()
  sessionStorage.setItem(KEY_STORAGE, api.key)
  // another key is another tenant: its own session
  sessionId = undefined
  current = undefined
  clearError()
  void loadCatalog().then(evaluate)
})

// leaving the page frees what its session holds (keepalive: the request outlives the page); a page
// restored from the back-forward cache builds its module again in a new session
window.addEventListener('pagehide', () => {
  if (sessionId !== undefined) void fetch(`/v1/sessions/${sessionId}`, { method: 'DELETE', headers: api.headers(false), keepalive: true }).catch(() => {})
  sessionId = undefined
  current = undefined
})
window.addEventListener('pageshow', (e) => { if (e.persisted) void evaluate() })

api.key = sessionStorage.getItem(KEY_STORAGE) ?? ''
el.key.value = api.key
void loadCatalog().then(evaluate)
