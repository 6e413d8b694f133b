// The package as a browser app gets it: test/fixtures/browser-app.js imports 'xaeroflux' by name
// and is bundled by one plain esbuild call (bundle, platform browser, nothing else). The server
// serves the page and that bundle only: the core and the pipeline worker must come inside it.
// In Chromium: cross-origin isolated (pipeline Web Workers), not isolated (no workers, one
// warning), a reload (the events stay in IndexedDB), WebAssembly turned off, and a
// Content-Security-Policy that refuses the core or the workers (each an XaeroError).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { copyFile, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { bundleForBrowser, runBundleInChromium } from './helpers/chromium.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const SERVED = new Set(['/', '/app.js', '/favicon.ico'])

let dir = '', bundle = ''

test.before(async () => {
  // An app's folder, with the package installed as a link to this one.
  dir = await mkdtemp(join(tmpdir(), 'xaeroflux-app-'))
  await mkdir(join(dir, 'node_modules'))
  await symlink(ROOT, join(dir, 'node_modules/xaeroflux'), 'dir')
  await copyFile(join(ROOT, 'test/fixtures/browser-app.js'), join(dir, 'app.js'))
  bundle = join(dir, 'bundle.js')
  await bundleForBrowser(join(dir, 'app.js'), bundle)
})

test.after(async () => {
  await rm(dir, { recursive: true, force: true })
})

test('cross-origin isolated: the store runs its pipeline on Web Workers; a reload finds the events in IndexedDB', async () => {
  const run = await runBundleInChromium<Record<string, unknown>>(bundle, { loads: 2, query: '?store=isolated' })
  const [first, second] = run.reports
  assert.ok((first.workers as number) >= 1, `the store runs on workers by default (${first.workers})`)
  assert.is(first.otherWorkers, 2)
  assert.ok((first.workersStarted as number) >= 2, `Web Workers started: ${first.workersStarted}`)
  const { workers, workersStarted, root, firstId, ...rest } = first
  assert.equal(rest, { crossOriginIsolated: true, count: 20, kind1: 10, rootMatches: true, proof: true, otherWorkers: 2 })
  assert.equal(second, { reloaded: true, count: 20, rootKept: true, firstKept: true })
  assert.equal(run.warnings, [])
  assert.equal(run.requested.filter((p) => !SERVED.has(p)), [], 'the page asked for nothing but itself and its bundle')
})

test('not cross-origin isolated: the stores run without workers, and the page is told once', async () => {
  const run = await runBundleInChromium<Record<string, unknown>>(bundle, { isolated: false, query: '?store=plain' })
  const { root, firstId, ...rest } = run.reports[0]
  assert.equal(rest, { crossOriginIsolated: false, workers: 0, count: 20, kind1: 10, rootMatches: true, proof: true, otherWorkers: 0, workersStarted: 0 })
  assert.is(run.warnings.length, 1, `one warning for two stores: ${JSON.stringify(run.warnings)}`)
  assert.match(run.warnings[0], /without pipeline workers.*not cross-origin isolated.*Cross-Origin-Opener-Policy: same-origin/)
  assert.equal(run.requested.filter((p) => !SERVED.has(p)), [])
})

test('WebAssembly off (V8 without its JIT, --jitless, as with JIT-disabling policies): the import works; open and sha256 fail with E_CORE_UNAVAILABLE, saying so', async () => {
  const run = await runBundleInChromium<Record<string, unknown>>(bundle, { args: ['--js-flags=--jitless'], query: '?store=nowasm' })
  const report = run.reports[0]
  assert.is(report.open, 'E_CORE_UNAVAILABLE')
  assert.is(report.sha256, 'E_CORE_UNAVAILABLE')
  assert.match(String(report.message), /WebAssembly is not available here/)
})

test('a Content-Security-Policy without wasm-unsafe-eval: E_CORE_UNAVAILABLE; without blob: workers: E_WORKER_FAILED, at once', async () => {
  const noWasm = await runBundleInChromium<Record<string, unknown>>(bundle, { headers: { 'Content-Security-Policy': "script-src 'self'" }, query: '?store=csp1' })
  assert.is(noWasm.reports[0].open, 'E_CORE_UNAVAILABLE')
  assert.match(String(noWasm.reports[0].message), /Content Security Policy/)
  const started = Date.now()
  const noWorker = await runBundleInChromium<Record<string, unknown>>(bundle, {
    headers: { 'Content-Security-Policy': "script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'" }, query: '?store=csp2',
  })
  assert.is(noWorker.reports[0].open, 'E_WORKER_FAILED')
  assert.match(String(noWorker.reports[0].message), /blob: in worker-src/)
  assert.ok(Date.now() - started < 20_000, 'the refused worker fails the open at once, not after the start timeout')
})

test.run()
