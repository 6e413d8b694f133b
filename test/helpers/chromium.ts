// Runs a compiled page module in Debian's Chromium (driven by playwright-core) and returns the
// report it leaves on `globalThis.xaerofluxReport`. The page and the pipeline's worker are bundled
// for browsers by esbuild and served from 127.0.0.1 with the headers that make the page
// cross-origin isolated (the core's memory is a SharedArrayBuffer). Used by the browser test and
// the browser bench.
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { chromium } from 'playwright-core'

const ROOT = fileURLToPath(new URL('../../..', import.meta.url)) // the package: dist/, build/
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium'
const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' }
const HEADERS = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' }
const PAGE = '<!doctype html><meta charset="utf-8"><script type="module" src="/app/main/page.js"></script>'

/**
 * Bundles `page` (a compiled module under dist/, e.g. 'dist/test/browser/page.js') and the
 * pipeline's worker, and serves them from 127.0.0.1: open `url` in a tab. `close` stops the
 * server and removes the bundle. runInChromium uses it; tests that drive tabs themselves too.
 */
export async function servePage(page: string): Promise<{ url: string; close(): Promise<void> }> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install Debian's (apt-get install chromium) or set CHROMIUM`)
  const out = await mkdtemp(join(tmpdir(), 'xaeroflux-browser-'))
  // The bundle finds the core at ../../../build/ and the worker at ../pipeline/ from its own URL.
  const routes: Record<string, string> = {
    '/app/main/page.js': join(out, 'page.js'),
    '/app/pipeline/worker-browser.js': join(out, 'worker-browser.js'),
    '/build/xaeroflux.wasm': join(ROOT, 'build/xaeroflux.wasm'),
  }
  const server = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname
    if (path === '/') return res.writeHead(200, { ...HEADERS, 'Content-Type': 'text/html' }).end(PAGE)
    const body = routes[path] && await readFile(routes[path]).catch(() => undefined)
    if (!body) return res.writeHead(404, HEADERS).end()
    res.writeHead(200, { ...HEADERS, 'Content-Type': TYPES[extname(path)] ?? 'application/octet-stream' }).end(body)
  })
  const close = async () => {
    server.close()
    await rm(out, { recursive: true, force: true })
  }
  try {
    await build({
      entryPoints: { page: join(ROOT, page), 'worker-browser': join(ROOT, 'dist/src/pipeline/worker-browser.js') },
      outdir: out, bundle: true, format: 'esm', platform: 'browser', target: 'es2022', logLevel: 'error',
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  } catch (e) {
    await close()
    throw e
  }
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/`, close }
}

/** `page`: a compiled module under dist/, e.g. 'dist/test/browser/page.js'. */
export async function runInChromium<T>(page: string): Promise<T> {
  const served = await servePage(page)
  try {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
    try {
      const tab = await browser.newPage()
      const errors: string[] = []
      tab.on('pageerror', (e) => errors.push(String(e)))
      await tab.goto(served.url)
      await tab.waitForFunction(() => (globalThis as { xaerofluxReport?: unknown }).xaerofluxReport !== undefined, undefined, { timeout: 120_000 })
      const report = await tab.evaluate(() => (globalThis as { xaerofluxReport?: Promise<unknown> }).xaerofluxReport) as T & { error?: string }
      if (errors.length > 0) throw new Error(`errors in the page: ${errors.join('; ')}`)
      if (report?.error) throw new Error(`the page failed: ${report.error}`)
      return report
    } finally {
      await browser.close()
    }
  } finally {
    await served.close()
  }
}
