// Runs a page in Debian's Chromium (driven by playwright-core) and returns the report it leaves
// on `globalThis.xaerofluxReport`. The page's script is bundled for browsers by one plain esbuild
// call, as an app's would be, and it is all that the server at 127.0.0.1 serves: the core and
// the pipeline worker are inlined in the package (docs/BROWSER.md), so there is no route for
// them. Or the page is a folder a bundler wrote (Vite's index.html and assets/), served as static
// files and nothing else. The page is cross-origin isolated (COOP/COEP headers) unless asked
// otherwise. Used by the browser tests and the browser bench; `servePage` by tests that drive
// tabs themselves.
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { extname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { chromium } from 'playwright-core'

const ROOT = fileURLToPath(new URL('../../..', import.meta.url)) // the package: dist/, test/
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium'
const ISOLATION = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' }
const PAGE = '<!doctype html><meta charset="utf-8"><script src="/app.js"></script>'

/**
 * Bundles `entry` into `outfile` for browsers the way the docs tell an app to: esbuild with
 * `bundle` and `platform: 'browser'` and nothing else (the default format, an iife).
 */
export async function bundleForBrowser(entry: string, outfile: string): Promise<void> {
  await build({ entryPoints: [entry], outfile, bundle: true, platform: 'browser', logLevel: 'error' })
}

export interface PageOptions {
  /** Served with the COOP/COEP headers that make the page cross-origin isolated. @default true */
  isolated?: boolean
  /** More command-line flags for Chromium. */
  args?: string[]
  /** Loads of the page: after each report the tab reloads, until there are this many. @default 1 */
  loads?: number
  /** The page's query string, e.g. '?store=x'. */
  query?: string
  /** More response headers, e.g. a Content-Security-Policy. */
  headers?: Record<string, string>
}

export interface PageRun<T> {
  /** One report per load. */
  reports: T[]
  /** What the page logged with console.warn. */
  warnings: string[]
  /** Every path the page asked the server for. */
  requested: string[]
}

/** A server at 127.0.0.1: open `url`; `requested` lists every path asked for, in order. */
interface Served {
  url: string
  requested: string[]
  close(): void
}

/** What a route serves for a path, or undefined for a 404. */
type Route = (path: string) => Promise<{ type: string; body: string | Buffer } | undefined>

/** Serves `route` from 127.0.0.1 with the page's headers (isolation, `options.headers`) on every response. */
async function serve(route: Route, options: PageOptions): Promise<Served> {
  const headers = { ...(options.isolated === false ? {} : ISOLATION), ...options.headers }
  const requested: string[] = []
  const server = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname
    requested.push(path)
    const found = await route(path).catch(() => undefined)
    if (found === undefined) return res.writeHead(404, headers).end()
    res.writeHead(200, { ...headers, 'Content-Type': found.type }).end(found.body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/`, requested, close: () => server.close() }
}

/** Serves `script` (a bundled file) as the only script of a page at `url`. */
function serveScript(script: string, options: PageOptions): Promise<Served> {
  return serve(async (path) => {
    if (path === '/') return { type: 'text/html', body: PAGE }
    if (path === '/app.js') return { type: 'text/javascript', body: await readFile(script) }
    return undefined
  }, options)
}

const TYPES: Record<string, string> = {
  '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css',
  '.json': 'application/json', '.wasm': 'application/wasm', '.svg': 'image/svg+xml',
}

/** Serves the files under `dir` as they are, '/' being its index.html: a static host for a bundler's output. */
function serveDirectory(dir: string, options: PageOptions): Promise<Served> {
  return serve(async (path) => {
    const file = join(dir, decodeURIComponent(path === '/' ? '/index.html' : path))
    if (relative(dir, file).split(sep)[0] === '..' || !(await stat(file)).isFile()) return undefined
    return { type: TYPES[extname(file)] ?? 'application/octet-stream', body: await readFile(file) }
  }, options)
}

/**
 * Bundles `page` (a compiled module under dist/, e.g. 'dist/test/browser/page.js') and serves it:
 * open `url` in a tab. `close` stops the server and removes the bundle. For tests that drive
 * tabs themselves.
 */
export async function servePage(page: string, options: PageOptions = {}): Promise<{ url: string; close(): Promise<void> }> {
  const out = await mkdtemp(join(tmpdir(), 'xaeroflux-browser-'))
  try {
    await bundleForBrowser(join(ROOT, page), join(out, 'app.js'))
    const served = await serveScript(join(out, 'app.js'), options)
    return { url: served.url, close: async () => { served.close(); await rm(out, { recursive: true, force: true }) } }
  } catch (e) {
    await rm(out, { recursive: true, force: true })
    throw e
  }
}

/**
 * Serves `script` (a bundled file) as the only script of a page and runs it in Chromium, once
 * per load. An error thrown in the page, or a report with an `error`, fails the run.
 */
export async function runBundleInChromium<T>(script: string, options: PageOptions = {}): Promise<PageRun<T>> {
  return drive<T>(await serveScript(script, options), options)
}

/**
 * Serves the files under `dir` (a bundler's output: index.html and what it loads) and runs its
 * index.html in Chromium, as `runBundleInChromium` does. A path that is not a file under `dir`
 * is a 404, and is listed in `requested` like any other.
 */
export async function runDirectoryInChromium<T>(dir: string, options: PageOptions = {}): Promise<PageRun<T>> {
  return drive<T>(await serveDirectory(dir, options), options)
}

/** Opens `server`'s page in Chromium and collects one report per load; closes the server. */
async function drive<T>(server: Served, options: PageOptions): Promise<PageRun<T>> {
  const { requested } = server
  try {
    if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install Debian's (apt-get install chromium) or set CHROMIUM`)
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', ...(options.args ?? [])] })
    try {
      const tab = await browser.newPage()
      const errors: string[] = [], warnings: string[] = [], reports: T[] = []
      tab.on('pageerror', (e) => errors.push(String(e)))
      tab.on('console', (m) => { if (m.type() === 'warning') warnings.push(m.text()) })
      await tab.goto(`${server.url}${options.query ?? ''}`)
      for (let load = 1; ; load++) {
        // Polled from here: waitForFunction evaluates in the page, which a CSP without 'unsafe-eval' forbids.
        const started = Date.now()
        while (!await tab.evaluate(() => (globalThis as { xaerofluxReport?: unknown }).xaerofluxReport !== undefined)) {
          if (Date.now() - started > 120_000) throw new Error(`no report from the page within 120 s (it asked for ${requested.join(', ')})`)
          await new Promise((resolve) => setTimeout(resolve, 50))
        }
        const report = await tab.evaluate(() => (globalThis as { xaerofluxReport?: Promise<unknown> }).xaerofluxReport) as T & { error?: string }
        if (errors.length > 0) throw new Error(`errors in the page: ${errors.join('; ')}`)
        if (report?.error) throw new Error(`the page failed: ${report.error}`)
        reports.push(report)
        if (load >= (options.loads ?? 1)) break
        await tab.reload()
      }
      return { reports, warnings, requested }
    } finally {
      await browser.close()
    }
  } finally {
    server.close()
  }
}

/** `page`: a compiled module under dist/, e.g. 'dist/test/browser/page.js', bundled and run cross-origin isolated. */
export async function runInChromium<T>(page: string, options: PageOptions = {}): Promise<T> {
  const out = await mkdtemp(join(tmpdir(), 'xaeroflux-browser-'))
  try {
    await bundleForBrowser(join(ROOT, page), join(out, 'app.js'))
    return (await runBundleInChromium<T>(join(out, 'app.js'), options)).reports[0]
  } finally {
    await rm(out, { recursive: true, force: true })
  }
}
