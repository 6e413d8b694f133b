// The browser app of test/fixtures/browser-app.js as a user has it, and what its reports must say
// with and without cross-origin isolation, whichever bundler built it (test/browser-bundle.test.ts:
// esbuild; test/browser-vite.test.ts: Vite).
import * as assert from 'uvu/assert'
import { copyFile, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { PageRun } from './chromium.js'

const ROOT = fileURLToPath(new URL('../../..', import.meta.url)) // the package: dist/, test/

/** A report of test/fixtures/browser-app.js: its fields differ with the load and the page. */
export type AppReport = Record<string, unknown>

/** An app's folder in a temp dir: see `makeAppFolder`. */
export interface AppFolder {
  dir: string
  /** Deletes the folder and all in it. */
  remove(): Promise<void>
}

/**
 * Makes an app's folder in a temp dir: `app.js` (the fixture) and the package installed as
 * `node_modules/xaeroflux`, a link to this one.
 */
export async function makeAppFolder(): Promise<AppFolder> {
  const dir = await mkdtemp(join(tmpdir(), 'xaeroflux-app-'))
  await mkdir(join(dir, 'node_modules'))
  await symlink(ROOT, join(dir, 'node_modules/xaeroflux'), 'dir')
  await copyFile(join(ROOT, 'test/fixtures/browser-app.js'), join(dir, 'app.js'))
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) }
}

/** Paths the browser asks for by itself, whatever the page: not the page's doing. */
const BROWSER_OWN = new Set(['/favicon.ico'])

/** Fails if the page asked for a path outside `served` (the page and its bundle). */
function assertOnlyServed(run: PageRun<AppReport>, served: ReadonlySet<string>): void {
  assert.equal(run.requested.filter((p) => !served.has(p) && !BROWSER_OWN.has(p)), [],
    `the page asked for nothing but itself and its bundle (it asked for ${run.requested.join(', ')})`)
}

/**
 * Checks a run with isolation of two loads (`loads: 2`): the first opens the store on Web
 * Workers and writes, the reload finds the events in IndexedDB; no warning, and nothing asked
 * for outside `served`.
 */
export function assertIsolatedRun(run: PageRun<AppReport>, served: ReadonlySet<string>): void {
  const [first, second] = run.reports
  assert.ok((first.workers as number) >= 1, `the store runs on workers by default (${first.workers})`)
  assert.is(first.otherWorkers, 2)
  assert.ok((first.workersStarted as number) >= 2, `Web Workers started: ${first.workersStarted}`)
  const { workers, workersStarted, root, firstId, ...rest } = first
  assert.equal(rest, { crossOriginIsolated: true, count: 20, kind1: 10, rootMatches: true, proof: true, otherWorkers: 2 })
  assert.equal(second, { reloaded: true, count: 20, rootKept: true, firstKept: true })
  assert.equal(run.warnings, [])
  assertOnlyServed(run, served)
}

/**
 * Checks a run without isolation: both stores run inline (no worker started) and the page is
 * warned once for the two; nothing asked for outside `served`.
 */
export function assertNotIsolatedRun(run: PageRun<AppReport>, served: ReadonlySet<string>): void {
  const { root, firstId, ...rest } = run.reports[0]
  assert.equal(rest, { crossOriginIsolated: false, workers: 0, count: 20, kind1: 10, rootMatches: true, proof: true, otherWorkers: 0, workersStarted: 0 })
  assert.is(run.warnings.length, 1, `one warning for two stores: ${JSON.stringify(run.warnings)}`)
  assert.match(run.warnings[0], /without pipeline workers.*not cross-origin isolated.*Cross-Origin-Opener-Policy: same-origin/)
  assertOnlyServed(run, served)
}
