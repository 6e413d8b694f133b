// The published package, as a user gets it: `npm pack`, then an empty project installs the
// tarball, runs a Node app with it (test/fixtures/pack-node-app.js) and bundles a browser app
// from it with a plain esbuild call (test/fixtures/browser-app.js), which runs in Chromium.
// It also measures what the install costs (README.md, Install).
//
// Offline: npm's cache holds every dependency's tarball (by integrity) once the repository has
// been installed, but not the registry's package documents, so `npm install --offline` of the
// tarball cannot resolve a version range. The project gets a lockfile instead, made of the
// production entries of the repository's (the same versions, which satisfy the ranges), and
// `npm ci --offline` takes every tarball from the cache. Nothing here asks the registry.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile } from 'node:child_process'
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { bundleForBrowser, runBundleInChromium } from './helpers/chromium.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const run = promisify(execFile)

/** Bounds on the install of the package and its dependencies (measured: README.md, Install). Raising one is a decision to write down there. */
const MAX_PACKAGES = 140
const MAX_INSTALL_MB = 85

interface LockEntry { dev?: boolean; devOptional?: boolean; [field: string]: unknown }

test('npm pack installs offline into an empty project, and works there in Node and bundled for Chromium', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'xaeroflux-pack-'))
  try {
    // The build is npm test's (prepare would build again): pack what is built.
    const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT })
    const [packed] = JSON.parse(stdout) as Array<{ filename: string; size: number; unpackedSize: number; entryCount: number }>
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8'))
    const lock = JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> }

    const project = join(dir, 'app')
    const tarball = `file:../${packed.filename}`
    const packages: Record<string, unknown> = {
      '': { name: 'app', version: '1.0.0', dependencies: { xaeroflux: tarball } },
      'node_modules/xaeroflux': {
        version: pkg.version, resolved: tarball, license: pkg.license, engines: pkg.engines, bin: pkg.bin,
        dependencies: pkg.dependencies, optionalDependencies: pkg.optionalDependencies,
      },
    }
    for (const [path, { dev, devOptional, ...entry }] of Object.entries(lock.packages)) {
      if (path !== '' && !dev) packages[path] = devOptional ? { ...entry, optional: true } : entry
    }
    await mkdir(project)
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module', dependencies: { xaeroflux: tarball } }))
    await writeFile(join(project, 'package-lock.json'), JSON.stringify({ name: 'app', version: '1.0.0', lockfileVersion: 3, requires: true, packages }))
    const started = Date.now()
    await run('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: project }).catch((e) => {
      throw new Error(`npm ci --offline failed (is a dependency's tarball missing from npm's cache? npm ci in the repository fills it): ${e.stderr || e.message}`)
    })
    const installMs = Date.now() - started

    // In Node: import, open, append, query, root, reconcile between two stores.
    await copyFile(join(ROOT, 'test/fixtures/pack-node-app.js'), join(project, 'node-app.js'))
    const node = JSON.parse((await run(process.execPath, ['node-app.js'], { cwd: project })).stdout)
    assert.equal(node, { count: 30, rootMatches: true, kind2: 10, proof: true, notFound: 'E_NOT_FOUND', need: 20, have: 30, counts: [50, 50], converged: true })

    // In Chromium: the browser app, bundled from the project by a plain esbuild call.
    await copyFile(join(ROOT, 'test/fixtures/browser-app.js'), join(project, 'browser-app.js'))
    await bundleForBrowser(join(project, 'browser-app.js'), join(project, 'bundle.js'))
    const page = await runBundleInChromium<Record<string, unknown>>(join(project, 'bundle.js'), { query: '?store=pack' })
    const { count, rootMatches, proof, otherWorkers } = page.reports[0]
    assert.equal({ count, rootMatches, proof, otherWorkers }, { count: 20, rootMatches: true, proof: true, otherWorkers: 2 })
    assert.equal(page.requested.filter((p) => !['/', '/app.js', '/favicon.ico'].includes(p)), [])

    // What the install costs.
    const installed = JSON.parse(await readFile(join(project, 'node_modules/.package-lock.json'), 'utf8')) as { packages: Record<string, unknown> }
    const installedPackages = Object.keys(installed.packages).length // xaeroflux included
    const mb = Number((await run('du', ['-sk', 'node_modules'], { cwd: project })).stdout.split('\t')[0]) / 1024 // on disk, as du -sh says
    const bundle = (await stat(join(project, 'bundle.js'))).size
    console.log(`  tarball ${(packed.size / 1024).toFixed(0)} KiB (${packed.entryCount} files, ${(packed.unpackedSize / 1024).toFixed(0)} KiB unpacked); ` +
      `install: ${installedPackages} packages, ${mb.toFixed(1)} MiB in node_modules (du), ${installMs} ms offline; browser bundle ${(bundle / 1024).toFixed(0)} KiB unminified`)
    assert.ok(installedPackages <= MAX_PACKAGES, `${installedPackages} packages installed, over ${MAX_PACKAGES}`)
    assert.ok(mb <= MAX_INSTALL_MB, `${mb.toFixed(1)} MiB installed, over ${MAX_INSTALL_MB}`)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test.run()
