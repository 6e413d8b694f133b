// The package as a browser app built with Vite gets it: test/fixtures/browser-app.js, which
// imports 'xaeroflux' by name, built by `vite build` (Vite's JS API) with no configuration but
// the app's folder as its root, holding an index.html that loads app.js as a module: no plugin,
// nothing copied by hand. Vite's output must be that index.html and JavaScript chunks under
// assets/ (a .wasm there would mean the core is no longer inlined but copied by Vite).
// Served as static files, the page runs in Chromium as the esbuild bundle does, with the checks
// of test/browser-bundle.test.ts: cross-origin isolated (Web Workers, and a reload) and not (no
// workers, one warning), asking for nothing outside Vite's output.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readdir, writeFile } from 'node:fs/promises'
import { join, relative, sep } from 'node:path'
import { build } from 'vite'
import { assertIsolatedRun, assertNotIsolatedRun, makeAppFolder, type AppFolder, type AppReport } from './helpers/browser-app.js'
import { runDirectoryInChromium } from './helpers/chromium.js'

const INDEX = '<!doctype html><meta charset="utf-8"><script type="module" src="/app.js"></script>\n'

let app: AppFolder | undefined, out = ''
/** The paths of Vite's output as the server has them: '/' and each file. */
let served = new Set<string>()

test.before(async () => {
  app = await makeAppFolder()
  await writeFile(join(app.dir, 'index.html'), INDEX)
  const nodeEnv = process.env.NODE_ENV
  try {
    await build({ root: app.dir, logLevel: 'silent' })
  } finally {
    // vite build sets NODE_ENV to 'production' when it is unset; uvu runs the next test files in this process.
    if (nodeEnv === undefined) delete process.env.NODE_ENV
    else process.env.NODE_ENV = nodeEnv
  }
  out = join(app.dir, 'dist') // Vite's default outDir, under the root
  const files = (await readdir(out, { recursive: true, withFileTypes: true })).filter((e) => e.isFile())
  served = new Set(['/', ...files.map((e) => '/' + relative(out, join(e.parentPath, e.name)).split(sep).join('/'))])
})

test.after(async () => {
  await app?.remove()
})

test('vite build writes index.html and JavaScript only: no asset copied (the core is inlined)', () => {
  assert.equal([...served].filter((p) => p !== '/' && !p.endsWith('.js')), ['/index.html'])
  assert.ok([...served].some((p) => /^\/assets\/[^/]+\.js$/.test(p)), `no chunk under assets/: ${[...served].join(', ')}`)
})

test('cross-origin isolated: the store runs its pipeline on Web Workers; a reload finds the events in IndexedDB', async () => {
  assertIsolatedRun(await runDirectoryInChromium<AppReport>(out, { loads: 2, query: '?store=isolated' }), served)
})

test('not cross-origin isolated: the stores run without workers, and the page is told once', async () => {
  assertNotIsolatedRun(await runDirectoryInChromium<AppReport>(out, { isolated: false, query: '?store=plain' }), served)
})

test.run()
