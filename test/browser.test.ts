// The store in a real browser: test/browser/page.ts and the pipeline's worker, bundled for
// browsers by esbuild, run in Debian's Chromium (driven by playwright-core) on IndexedDB, served
// from 127.0.0.1 with the headers that make the page cross-origin isolated (the core's memory is
// a SharedArrayBuffer).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { chromium } from 'playwright-core'

const ROOT = fileURLToPath(new URL('../..', import.meta.url)) // the package: dist/, build/
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium'
const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' }
const OUT = join(ROOT, 'dist/browser-test')
// The bundle finds the core at ../../../build/ and the worker at ../pipeline/ from its own URL.
const ROUTES: Record<string, string> = {
  '/app/main/page.js': join(OUT, 'page.js'),
  '/app/pipeline/worker-browser.js': join(OUT, 'worker-browser.js'),
  '/build/xaeroflux.wasm': join(ROOT, 'build/xaeroflux.wasm'),
}
const PAGE = '<!doctype html><meta charset="utf-8"><script type="module" src="/app/main/page.js"></script>'

function serve(): Promise<{ server: Server; url: string }> {
  const server = createServer(async (req, res) => {
    const headers = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' }
    const path = new URL(req.url ?? '/', 'http://x').pathname
    if (path === '/') return res.writeHead(200, { ...headers, 'Content-Type': 'text/html' }).end(PAGE)
    const body = ROUTES[path] && await readFile(ROUTES[path]).catch(() => undefined)
    if (!body) return res.writeHead(404, headers).end()
    res.writeHead(200, { ...headers, 'Content-Type': TYPES[extname(path)] ?? 'application/octet-stream' }).end(body)
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as { port: number }
    resolve({ server, url: `http://127.0.0.1:${port}/` })
  }))
}

test('in Chromium on IndexedDB, inline and with two workers: appends, ingests, queries, the Merkle root, a reopen', async () => {
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: install Debian's (apt-get install chromium) or set CHROMIUM`)
  await build({
    entryPoints: { page: join(ROOT, 'dist/test/browser/page.js'), 'worker-browser': join(ROOT, 'dist/src/pipeline/worker-browser.js') },
    outdir: OUT, bundle: true, format: 'esm', platform: 'browser', target: 'es2022', logLevel: 'error',
  })
  const { server, url } = await serve()
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
  try {
    const page = await browser.newPage()
    const errors: string[] = []
    page.on('pageerror', (e) => errors.push(String(e)))
    await page.goto(url)
    await page.waitForFunction(() => (globalThis as { xaerofluxReport?: unknown }).xaerofluxReport !== undefined || document.readyState === 'complete')
    const report = await page.evaluate(() => (globalThis as { xaerofluxReport?: Promise<Record<string, unknown>> }).xaerofluxReport) as Record<string, unknown> | undefined
    assert.equal(errors, [], 'no error in the page')
    assert.ok(report, 'the page ran')
    assert.is(report!.error, undefined, String(report!.error))
    const expected = {
      crossOriginIsolated: true,
      webCryptoEd25519: true,
      visibleOnResolve: true,
      ingestAgainIsNoop: true,
      tampered: 'E_BAD_SIGNATURE',
      count: 301,
      appendsVerify: true,
      byAuthor: true,
      byKindReverse: true,
      root: true,
      proof: true,
      countAfterReopen: 301,
      rootAfterReopen: true,
      getAfterReopen: true,
    }
    // Three stores are opened with two workers each: the store, the one that checks its appends, the reopened one.
    assert.equal(report, { inline: { ...expected, workersStarted: 0 }, workers2: { ...expected, workersStarted: 6 } })
  } finally {
    await browser.close()
    server.close()
  }
})

test.run()
