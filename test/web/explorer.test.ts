// The web explorer in a real browser: Debian's chromium driven by puppeteer-core against the service
// listening on loopback with an API key. The page's tensor table, totals, memory and treemap are
// checked against the API's own answers, its materialization's download against the API's
// safetensors bytes (the same seed gives the same bytes), and its errors against the API's messages.
// A screenshot is left in test/artifacts/ (ignored by git).
import t, { type Test } from 'tap'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { AddressInfo } from 'node:net'
import puppeteer, { type Browser, type Page } from 'puppeteer-core'
import { build } from '../helper.js'
import { webRoot, webSecurityHeaders } from '../../src/plugins/web.js'

// the callbacks that run in the page see DOM elements; this project's tsconfig has no DOM library
// (the service runs on Node), so they are typed by what they touch
interface Field { value: string, innerText: string, options: { length: number }, textContent: string | null, focus: () => void }
declare const document: { querySelector: (selector: string) => Field | null, querySelectorAll: (selector: string) => { length: number } }

const KEY = 'web-test-key'
const auth = { authorization: `Bearer ${KEY}` }
const artifacts = fileURLToPath(new URL('../artifacts/', import.meta.url))

/** Debian's chromium (CHROME_PATH names another), or undefined. */
function findChromium (): string | undefined {
  if (process.env.CHROME_PATH !== undefined) return process.env.CHROME_PATH
  for (const dir of (process.env.PATH ?? '').split(':')) {
    for (const name of ['chromium', 'chromium-browser']) {
      if (dir !== '' && existsSync(join(dir, name))) return join(dir, name)
    }
  }
  return undefined
}

// the explorer as `npm run build` makes it, from the sources under test
execFileSync(process.execPath, [fileURLToPath(new URL('../../scripts/build-web.mjs', import.meta.url))], { stdio: 'inherit' })

interface Served { base: string, api: <T>(method: string, path: string, body?: unknown) => Promise<T>, bytes: (path: string) => Promise<Buffer> }

async function serve (tt: Test, env: Record<string, string>): Promise<Served> {
  const app = await build(tt, env)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(base + path, { method, headers: body === undefined ? auth : { ...auth, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) })
    return await res.json() as T
  }
  const bytes = async (path: string): Promise<Buffer> => Buffer.from(await (await fetch(base + path, { headers: auth })).arrayBuffer())
  return { base, api, bytes }
}

t.test('the page and its assets are open, carry the CSP, and /v1 still takes a key', async (t) => {
  const app = await build(t, { MATERIA_API_KEYS: KEY })
  const page = await app.inject('/')
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /^text\/html/)
  t.equal(page.headers['content-security-policy'], webSecurityHeaders['content-security-policy'])
  t.notMatch(page.body, /<script(?![^>]*\ssrc=)[^>]*>/, 'no inline script')
  t.notMatch(page.body, /\sstyle=|<style/, 'no inline style')
  const files = readdirSync(webRoot).filter((f) => f !== 'index.html')
  t.ok(files.includes('main.js') && files.includes('style.css'), 'the build wrote the scripts and the stylesheet')
  for (const f of files) {
    const res = await app.inject(`/ui/${f}`)
    t.equal(res.statusCode, 200, `/ui/${f} without a key`)
    t.same(res.rawPayload, readFileSync(join(webRoot, f)), `/ui/${f} is the built file`)
  }
  t.match((await app.inject('/ui/main.js')).headers['content-type'], /^text\/javascript/)
  const again = await app.inject({ url: '/', headers: { 'if-none-match': String(page.headers.etag) } })
  t.equal(again.statusCode, 304, 'revalidated by its etag')
  t.equal((await app.inject('/v1/modules')).statusCode, 401, 'the API still takes a key')
  t.equal((await app.inject('/ui/nothing.js')).statusCode, 401, 'a path that names no file is not opened by the explorer')
  t.equal((await app.inject({ url: '/v1/modules', headers: auth })).statusCode, 200)
  const doc = (await app.inject('/openapi.json')).json() as { paths: Record<string, unknown> }
  t.notOk(Object.keys(doc.paths).some((p) => p === '/' || p.startsWith('/ui/')), 'the explorer is not part of the API document')
})

t.test('explorer in chromium: spec, table, totals, memory, treemap, materialize, download, errors', async (t) => {
  const chromium = findChromium()
  if (chromium === undefined) {
    t.fail('chromium not found on PATH (Debian: apt-get install -y chromium; or set CHROME_PATH): the explorer is tested in a real browser')
    return
  }
  const { base, api, bytes } = await serve(t, { MATERIA_API_KEYS: KEY })
  const downloads = mkdtempSync(join(tmpdir(), 'materia-web-'))
  const profile = mkdtempSync(join(tmpdir(), 'materia-chromium-'))
  t.teardown(() => { rmSync(downloads, { recursive: true, force: true }); rmSync(profile, { recursive: true, force: true }) })
  const browser: Browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    userDataDir: profile,
    // root in CI containers cannot use chromium's sandbox
    args: [...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), '--disable-gpu', '--no-first-run', '--disable-dev-shm-usage'],
    defaultViewport: { width: 1366, height: 900 }
  })
  t.teardown(async () => { await browser.close() })
  const cdp = await browser.target().createCDPSession()
  await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads, eventsEnabled: true })

  const page: Page = await browser.newPage()
  const problems: string[] = []
  page.on('pageerror', (err) => { problems.push(`page error: ${String(err)}`) })
  page.on('console', (m) => { if (/Content Security Policy|Refused to/i.test(m.text())) problems.push(`console: ${m.text()}`) })
  const q = (id: string): string => `[data-testid="${id}"]`
  const text = async (sel: string): Promise<string> => await page.$eval(sel, (e) => (e as unknown as Field).innerText)
  const errorShown = async (): Promise<string> => {
    await page.waitForSelector(`${q('error')}:not([hidden])`)
    return await text(q('error'))
  }
  const enterSpec = async (spec: string, how: 'ctrl-enter' | 'pause'): Promise<void> => {
    await page.$eval(q('spec'), (e) => { (e as unknown as Field).value = '' })
    await page.focus(q('spec'))
    await page.keyboard.type(spec)
    if (how === 'ctrl-enter') {
      await page.keyboard.down('Control')
      await page.keyboard.press('Enter')
      await page.keyboard.up('Control')
    }
  }

  const response = await page.goto(`${base}/`, { waitUntil: 'load' })
  t.equal(response?.status(), 200)

  // without a key the page shows the service's 401 message
  t.match(await errorShown(), 'Missing API key: send Authorization: Bearer <key> or x-api-key', 'the 401 message, as the service words it')

  // with the key (typed, then Tab: a change) the catalog loads and the starting spec is evaluated
  await page.focus(q('api-key'))
  await page.keyboard.type(KEY)
  await page.keyboard.press('Tab')
  await page.waitForFunction((sel) => (document.querySelector(sel) as Field).options.length > 100, {}, q('class'))
  await page.waitForSelector(`${q('error')}[hidden]`)

  // nn.LSTM(6, 9, bidirectional=True): as Python where the service takes it, else as JSON
  const python = 'nn.LSTM(6, 9, bidirectional=True)'
  const json = { class: 'torch.nn.LSTM', args: [6, 9], kwargs: { bidirectional: true } }
  const takesPython = (await fetch(`${base}/v1/estimate`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ python }) })).ok
  t.comment(`spec typed as ${takesPython ? 'Python' : 'JSON'}`)
  await enterSpec(takesPython ? python : JSON.stringify(json), 'ctrl-enter')

  const sid = (await api<{ id: string }>('POST', '/v1/sessions', {})).id
  const mod = await api<{ id: string, tensors: Array<{ name: string, shape: number[], dtype: string, nbytes: number, kind: string, tiedTo?: string }>, totals: { nbytes: number, parameters: number } }>('POST', `/v1/sessions/${sid}/modules`, json)
  const est = await api<{ byDtype: Record<string, { nbytes: number, trainingAdam: number }> }>('POST', '/v1/estimate', json)
  t.equal(mod.tensors.length, 8, 'the API lists the 8 tensors of a one-layer bidirectional LSTM')

  await page.waitForFunction((sel, n) => document.querySelectorAll(`${sel} tbody tr`).length === n && document.querySelector(`${sel} tbody tr[data-name="weight_ih_l0_reverse"]`) !== null, {}, q('tensors'), mod.tensors.length)
  const rows = await page.$$eval(`${q('tensors')} tbody tr`, (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.innerText)))
  t.same(rows, mod.tensors.map((x) => [x.name, x.kind, `[${x.shape.join(', ')}]`, x.dtype, x.nbytes.toLocaleString('en-US'), x.tiedTo ?? '']), 'the table is the API\'s tensor list, in order')

  const totalBytes = await page.$eval(`${q('totals')} [data-field="nbytes"]`, (e) => e.getAttribute('title'))
  t.match(totalBytes, `${mod.totals.nbytes} bytes`)
  t.equal(await text(`${q('totals')} [data-field="parameters"]`), mod.totals.parameters.toLocaleString('en-US'))
  for (const [dtype, d] of Object.entries(est.byDtype)) {
    t.equal(await page.$eval(`${q('memory')} tr[data-dtype="${dtype}"] [data-field="nbytes"]`, (e) => e.getAttribute('title')), `${d.nbytes} bytes`, `${dtype} weights`)
    t.equal(await page.$eval(`${q('memory')} tr[data-dtype="${dtype}"] [data-field="adam"]`, (e) => e.getAttribute('title')), `${d.trainingAdam} bytes`, `${dtype} with Adam`)
  }
  const leaves = await page.$$eval(`${q('treemap')} g.leaf`, (gs) => gs.map((g) => g.getAttribute('data-path')))
  t.same(leaves.sort(), mod.tensors.map((x) => x.name).sort(), 'one treemap cell per tensor')
  t.equal(await page.$eval(q('kv-cache'), (e) => e.hasAttribute('hidden')), true, 'an LSTM has no key/value cache card')

  // materialize: seeded default init, polled to ready
  await page.select(q('init'), 'default')
  await page.$eval(q('seed'), (e) => { (e as unknown as Field).value = '' })
  await page.type(q('seed'), '12345')
  await page.click(q('materialize'))
  await page.waitForSelector(`${q('progress')}[data-status="ready"]`)
  t.equal(await page.$eval(q('progress'), (e) => { const bar = e as unknown as { value: number, max: number }; return bar.value === bar.max }), true, 'the progress bar is full')
  await page.waitForSelector(`${q('download')}:not([disabled])`)

  // the same module and seed through the API: the download must be these bytes
  const mat = await api<{ id: string, safetensors: string }>('POST', `/v1/sessions/${sid}/modules/${mod.id}/materializations`, { init: 'default', seed: 12345 })
  const expected = await bytes(mat.safetensors)
  t.ok(expected.length > 4000, 'the API served a safetensors file')
  const downloaded = async (name: string): Promise<Buffer> => {
    const file = join(downloads, name)
    for (let i = 0; i < 600 && !existsSync(file); i++) await new Promise((resolve) => setTimeout(resolve, 50))
    return readFileSync(file)
  }
  await page.click(q('download'))
  t.same(await downloaded('model.safetensors'), expected, 'the downloaded file is the API\'s safetensors, byte for byte')

  // shards: the index and each shard, as the API serves them for the same maxShardBytes
  await page.type(q('shard-bytes'), '2000')
  await page.click(q('download'))
  const index = await bytes(`${mat.safetensors}/model.safetensors.index.json?maxShardBytes=2000`)
  const shardFiles = [...new Set(Object.values((JSON.parse(index.toString('utf8')) as { weight_map: Record<string, string> }).weight_map))]
  t.ok(shardFiles.length > 1, `${shardFiles.length} shards`)
  t.same(await downloaded('model.safetensors.index.json'), index, 'the index')
  for (const f of shardFiles) t.same(await downloaded(f), await bytes(`${mat.safetensors}/${f}?maxShardBytes=2000`), f)

  // a decoder from its config.json: the key/value cache card, then again for a batch and tokens typed
  type Kv = { kvCache: { batchSize: number, sequenceLength: number, dtype: string, byDtype: Record<string, number> } }
  const llama = { config: { model_type: 'llama', vocab_size: 64, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 3, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 256, torch_dtype: 'bfloat16' } }
  const kvRows = async (): Promise<Record<string, string | null>> => Object.fromEntries(await page.$$eval(`${q('kv-cache')} tbody tr`,
    (trs) => trs.map((tr) => [tr.getAttribute('data-dtype'), tr.querySelector('[data-field="nbytes"]')?.getAttribute('title') ?? null])))
  const wantRows = (kv: Kv['kvCache']): Record<string, string> => Object.fromEntries(Object.entries(kv.byDtype).map(([d, n]) => [d, `${n} bytes`]))
  await enterSpec(JSON.stringify(llama), 'ctrl-enter')
  await page.waitForSelector(`${q('kv-cache')}:not([hidden])`)
  const kvDefault = (await api<Kv>('POST', '/v1/estimate', llama)).kvCache
  t.same(await kvRows(), wantRows(kvDefault), 'the cache per dtype is the API\'s, at its default batch and tokens')
  t.same([await page.$eval(q('kv-batch'), (e) => (e as unknown as Field).value), await page.$eval(q('kv-tokens'), (e) => (e as unknown as Field).value)],
    [String(kvDefault.batchSize), String(kvDefault.sequenceLength)], 'the inputs show the batch and tokens it counts')
  t.equal(await page.$eval(`${q('kv-cache')} tr.as-built`, (e) => e.getAttribute('data-dtype')), 'bfloat16', 'the dtype the model was built in is marked')
  const kvTyped = (await api<Kv>('POST', '/v1/estimate?batchSize=4&sequenceLength=1000', llama)).kvCache
  t.not(kvTyped.byDtype.float32, kvDefault.byDtype.float32)
  for (const [id, value] of [['kv-batch', '4'], ['kv-tokens', '1000']] as const) {
    await page.$eval(q(id), (e) => { (e as unknown as Field).value = '' })
    await page.type(q(id), value)
    await page.keyboard.press('Tab')
  }
  await page.waitForFunction((sel, want) => document.querySelector(sel)?.textContent?.includes(want) === true, {}, `${q('kv-cache')} [data-field="shape"]`, '4 × 1,000 tokens')
  t.same(await kvRows(), wantRows(kvTyped), 'batch 4, 1000 tokens: the API\'s figures')
  await page.$eval(q('kv-batch'), (e) => { (e as unknown as Field).value = '' })
  await page.type(q('kv-batch'), '0')
  await page.keyboard.press('Tab')
  t.match(await errorShown(), 'MATERIA_ERR_VALIDATION', 'a batch of 0: the service\'s refusal, shown')
  await page.$eval(q('kv-batch'), (e) => { (e as unknown as Field).value = '' })
  await page.type(q('kv-batch'), '2')
  await page.keyboard.press('Tab')
  await page.waitForSelector(`${q('error')}[hidden]`)
  t.match(await text(`${q('kv-cache')} [data-field="shape"]`), '2 × 1,000 tokens', 'a valid batch again: the error goes, the card follows')

  // an error: the service's message, shown as it is
  await enterSpec('{"class": "Linear", "args": [5]}', 'ctrl-enter')
  t.match(await errorShown(), "Linear.__init__() missing 1 required positional argument: 'out_features'")
  t.match(await text(q('error')), 'MATERIA_ERR_NN_ARGS')
  mkdirSync(artifacts, { recursive: true })
  await page.screenshot({ path: join(artifacts, 'explorer-error.png') })

  // the page's own modules, loaded as the page loads them: the treemap layout tiles its box with
  // areas in proportion to the bytes, and form fields read Python literals
  const sizes = [5000, 3000, 3000, 800, 600, 100, 7, 1]
  const box = { x: 10, y: 20, w: 960, h: 400 }
  // module paths as arguments: they exist in the page, not for this file's compiler
  const rects = await page.evaluate(async (path, sizes, box) => {
    const m = await import(path) as { squarify: (s: number[], b: typeof box) => Array<typeof box> }
    return m.squarify(sizes, box)
  }, '/ui/treemap.js', sizes, box)
  const total = sizes.reduce((a, b) => a + b, 0)
  rects.forEach((r, i) => {
    t.ok(Math.abs(r.w * r.h - (sizes[i] ?? 0) * box.w * box.h / total) < 1e-6 * box.w * box.h, `cell ${i} has its share of the area`)
    t.ok(r.x >= box.x - 1e-9 && r.y >= box.y - 1e-9 && r.x + r.w <= box.x + box.w + 1e-9 && r.y + r.h <= box.y + box.h + 1e-9, `cell ${i} is inside the box`)
  })
  const overlaps = rects.flatMap((a, i) => rects.slice(i + 1).filter((b) => Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x) > 1e-6 && Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y) > 1e-6))
  t.equal(overlaps.length, 0, 'no two cells overlap')
  const values = await page.evaluate(async (path) => {
    const m = await import(path) as { argValue: (s: string) => unknown, specBody: (s: string) => unknown }
    return [['True', '(3, 3)', '(5,)', "'relu'", 'None', 'gelu', '0.5', '[1, 2]'].map(m.argValue), m.specBody('nn.Linear(4, 8)'), m.specBody('{"class": "Linear"}'), m.specBody('[1]')]
  }, '/ui/spec.js')
  t.same(values, [[true, [3, 3], [5], 'relu', null, 'gelu', 0.5, [1, 2]], { python: 'nn.Linear(4, 8)' }, { class: 'Linear' }, { python: '[1]' }])

  // a pause in typing evaluates too, and clears the error; a tied tensor says what it is tied to
  // and has no treemap cell of its own (its storage is counted once)
  await enterSpec('{"class":"Sequential","args":[{"class":"Embedding","args":[10,3]},{"class":"Linear","args":[3,10]}],"ties":[["1.weight","0.weight"]]}', 'pause')
  await page.waitForSelector(`${q('tensors')} tbody tr[data-name="1.weight"]`)
  await page.waitForSelector(`${q('error')}[hidden]`)
  t.equal(await text(`${q('tensors')} tbody tr[data-name="0.weight"] td:nth-child(3)`), '[10, 3]')
  t.equal(await text(`${q('tensors')} tbody tr[data-name="1.weight"] td:nth-child(6)`), '0.weight', 'the tied column')
  t.same(await page.$$eval(`${q('treemap')} g.leaf`, (gs) => gs.map((g) => g.getAttribute('data-path')).sort()), ['0.weight', '1.bias'])

  // a catalog class and the form generated from its signature
  await page.select(q('class'), 'Linear')
  await page.type('#arg-in_features', '4')
  await page.type('#arg-out_features', '8')
  await page.click('#arg-bias')
  await page.$eval(`${q('class-form')} button[type="submit"]`, (b) => { (b as unknown as Field).focus() })
  await page.keyboard.press('Enter')
  await page.waitForFunction((sel) => document.querySelectorAll(`${sel} tbody tr`).length === 1 && document.querySelector(`${sel} tbody tr[data-name="weight"] td:nth-child(3)`)?.textContent === '[8, 4]', {}, q('tensors'))
  t.same(JSON.parse(await page.$eval(q('spec'), (e) => (e as unknown as Field).value)), { class: 'torch.nn.Linear', args: [4, 8], kwargs: { bias: false } }, 'the form wrote the spec it stands for')

  await enterSpec('{"class": "TransformerEncoderLayer", "args": [256, 8]}', 'ctrl-enter')
  await page.waitForSelector(`${q('tensors')} tbody tr[data-name="self_attn.in_proj_weight"]`)
  await page.screenshot({ path: join(artifacts, 'explorer.png'), fullPage: true })
  t.ok(existsSync(join(artifacts, 'explorer.png')), 'screenshot saved')

  // an open API: no key, and the download is a plain link the browser streams to disk
  const open = await serve(t, {})
  const openDownloads = join(downloads, 'open')
  mkdirSync(openDownloads)
  await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: openDownloads, eventsEnabled: true })
  await page.goto(`${open.base}/`, { waitUntil: 'load' })
  // leaving the keyed page deleted its session: the tenant keeps only the test's own
  let left: string[] = []
  for (let i = 0; i < 100; i++) {
    left = (await api<{ sessions: Array<{ id: string }> }>('GET', '/v1/sessions')).sessions.map((x) => x.id)
    if (left.length === 1) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  t.same(left, [sid], 'the page\'s session was deleted when the page was left')
  await page.$eval(q('api-key'), (e) => { (e as unknown as Field).value = '' })
  await page.waitForFunction((sel) => (document.querySelector(sel) as Field).options.length > 100, {}, q('class'))
  await enterSpec(JSON.stringify(json), 'ctrl-enter')
  await page.waitForSelector(`${q('tensors')} tbody tr[data-name="weight_hh_l0_reverse"]`)
  await page.select(q('init'), 'default')
  await page.$eval(q('seed'), (e) => { (e as unknown as Field).value = '7' })
  await page.click(q('materialize'))
  await page.waitForSelector(`${q('download')}:not([disabled])`)
  await page.click(q('download'))
  const openSid = (await open.api<{ id: string }>('POST', '/v1/sessions', {})).id
  const openMod = await open.api<{ id: string }>('POST', `/v1/sessions/${openSid}/modules`, json)
  const openMat = await open.api<{ safetensors: string }>('POST', `/v1/sessions/${openSid}/modules/${openMod.id}/materializations`, { init: 'default', seed: 7 })
  const file = join(openDownloads, 'model.safetensors')
  for (let i = 0; i < 600 && !existsSync(file); i++) await new Promise((resolve) => setTimeout(resolve, 50))
  t.same(readFileSync(file), await open.bytes(openMat.safetensors), 'without a key, the linked download is the API\'s safetensors too')

  t.same(problems, [], 'no script error and no Content-Security-Policy violation')
})
