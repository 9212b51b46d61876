// The web explorer: the static page at `/` and its assets under `/ui/`, built by `npm run build`
// (scripts/build-web.mjs) into dist/web. The files are read once at boot (a few tens of KiB) and
// served from memory, each on its own route: the page holds no data, so these routes are open like
// /docs (src/plugins/auth.ts opens every matched route outside /v1), while any other path still
// needs a key. Every answer carries a Content-Security-Policy that allows only this origin's scripts,
// styles and API (the page has no inline script or style), so the explorer works offline.
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml'
}

// https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/Content-Security-Policy
export const webSecurityHeaders = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer'
}

interface Asset { body: Buffer, type: string, etag: string }

/** The package's root: the nearest folder above this file with a package.json (the repository, or /app in the image). */
function packageRoot (): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir)
    if (up === dir) throw new Error('materia: no package.json above src/plugins/web')
    dir = up
  }
  return dir
}

/** Where `npm run build` writes the explorer. */
export const webRoot = join(packageRoot(), 'dist', 'web')

/** URL path → file of the built explorer (the page at `/`, the rest under `/ui/`), read into memory. */
function loadAssets (root: string): Map<string, Asset> {
  const assets = new Map<string, Asset>()
  for (const name of readdirSync(root, { recursive: true, encoding: 'utf8' })) {
    const type = contentTypes[extname(name)]
    if (type === undefined) continue
    const body = readFileSync(join(root, name))
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`
    const path = name === 'index.html' ? '/' : `/ui/${name.split('\\').join('/')}`
    assets.set(path, { body, type, etag })
  }
  return assets
}

async function webPlugin (app: FastifyInstance): Promise<void> {
  if (!existsSync(join(webRoot, 'index.html'))) {
    app.log.warn({ webRoot }, 'the web explorer is not built (npm run build): / is not served')
    return
  }
  for (const [path, asset] of loadAssets(webRoot)) {
    // hidden from the OpenAPI document: a page, not part of the API
    app.get(path, { schema: { hide: true } }, async (request, reply) => {
      // no-cache: revalidated on every load (a 304 when unchanged), so a new build shows at once
      void reply.headers({ ...webSecurityHeaders, etag: asset.etag, 'cache-control': 'no-cache' })
      if (request.headers['if-none-match'] === asset.etag) return await reply.code(304).send()
      return await reply.type(asset.type).send(asset.body)
    })
  }
}

export default fp(webPlugin, { name: 'web', fastify: '5.x' })
