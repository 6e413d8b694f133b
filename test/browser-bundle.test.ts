// The package as a browser app gets it: test/fixtures/browser-app.js imports 'xaeroflux' by name
// and is bundled by one plain esbuild call (bundle, platform browser, nothing else). The server
// serves the page and that bundle only: the core and the pipeline worker must come inside it.
// In Chromium: cross-origin isolated (pipeline Web Workers), not isolated (no workers, one
// warning), a reload (the events stay in IndexedDB), WebAssembly turned off, and a
// Content-Security-Policy that refuses the core or the workers (each an XaeroError).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { join } from 'node:path'
import { assertIsolatedRun, assertNotIsolatedRun, makeAppFolder, type AppFolder, type AppReport } from './helpers/browser-app.js'
import { bundleForBrowser, runBundleInChromium } from './helpers/chromium.js'

const SERVED = new Set(['/', '/app.js'])

let app: AppFolder | undefined, bundle = ''

test.before(async () => {
  app = await makeAppFolder()
  bundle = join(app.dir, 'bundle.js')
  await bundleForBrowser(join(app.dir, 'app.js'), bundle)
})

test.after(async () => {
  await app?.remove()
})

test('cross-origin isolated: the store runs its pipeline on Web Workers; a reload finds the events in IndexedDB', async () => {
  assertIsolatedRun(await runBundleInChromium<AppReport>(bundle, { loads: 2, query: '?store=isolated' }), SERVED)
})

test('not cross-origin isolated: the stores run without workers, and the page is told once', async () => {
  assertNotIsolatedRun(await runBundleInChromium<AppReport>(bundle, { isolated: false, query: '?store=plain' }), SERVED)
})

test('WebAssembly off (V8 without its JIT, --jitless, as with JIT-disabling policies): the import works; open and sha256 fail with E_CORE_UNAVAILABLE, saying so', async () => {
  const run = await runBundleInChromium<AppReport>(bundle, { args: ['--js-flags=--jitless'], query: '?store=nowasm' })
  const report = run.reports[0]
  assert.is(report.open, 'E_CORE_UNAVAILABLE')
  assert.is(report.sha256, 'E_CORE_UNAVAILABLE')
  assert.match(String(report.message), /WebAssembly is not available here/)
})

test('a Content-Security-Policy without wasm-unsafe-eval: E_CORE_UNAVAILABLE; without blob: workers: E_WORKER_FAILED, at once', async () => {
  const noWasm = await runBundleInChromium<AppReport>(bundle, { headers: { 'Content-Security-Policy': "script-src 'self'" }, query: '?store=csp1' })
  assert.is(noWasm.reports[0].open, 'E_CORE_UNAVAILABLE')
  assert.match(String(noWasm.reports[0].message), /Content Security Policy/)
  const started = Date.now()
  const noWorker = await runBundleInChromium<AppReport>(bundle, {
    headers: { 'Content-Security-Policy': "script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'" }, query: '?store=csp2',
  })
  assert.is(noWorker.reports[0].open, 'E_WORKER_FAILED')
  assert.match(String(noWorker.reports[0].message), /blob: in worker-src/)
  assert.ok(Date.now() - started < 20_000, 'the refused worker fails the open at once, not after the start timeout')
})

test.run()
