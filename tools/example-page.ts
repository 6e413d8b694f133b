// The last step of `npm run build` (after tools/browser-assets.ts, whose inlined core and worker
// it bundles): the example chat page that `xaeroflux serve-example` serves, ready to serve, so
// that the command needs neither esbuild nor anything else at run time (docs/CLI.md,
// serve-example). Writes dist/examples/chat/index.html (a copy) and dist/examples/chat/app.bundle.js:
// examples/chat/app.ts, compiled by tsc, bundled for browsers as an app would bundle it (esbuild,
// platform 'browser': `xaeroflux` resolves to the package itself and its browser files).
import { copyFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const OUT = join(ROOT, 'dist/examples/chat')

await build({
  entryPoints: [join(OUT, 'app.js')],
  outfile: join(OUT, 'app.bundle.js'),
  bundle: true, platform: 'browser', format: 'iife', target: 'es2022', minify: true,
  legalComments: 'none', logLevel: 'error',
})
copyFileSync(join(ROOT, 'examples/chat/index.html'), join(OUT, 'index.html'))
const size = statSync(join(OUT, 'app.bundle.js')).size
console.log(`example page: ${(size / 1024).toFixed(0)} KiB → dist/examples/chat/app.bundle.js, index.html`)
