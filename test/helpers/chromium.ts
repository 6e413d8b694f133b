// Runs a page in Debian's Chromium (driven by playwright-core) and returns the report it leaves
// on `globalThis.xaerofluxReport`. The page's script is bundled for browsers by one plain esbuild
// call, as an app's would be, and it is all that the server at 127.0.0.1 serves: the core and
// the pipeline worker are inlined in the package (docs/BROWSER.md), so there is no route for
// them. The page is cross-origin isolated (COOP/COEP headers) unless asked otherwise. Used by the
// browser tests and the browser bench; `servePage` by tests that drive tabs themselves.
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
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

/** Serves `script` (a bundled file) as the only script of a page at `url`, from 127.0.0.1; `requested` lists every path asked for. */
async function serveScript(script: string, options: PageOptions): Promise<{ url: string; requested: string[]; close(): void }> {
  const headers = { ...(options.isolated === false ? {} : ISOLATION), ...options.headers }
  const requested: string[] = []
  const server = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname
    requested.push(path)
    if (path === '/') return res.writeHead(200, { ...headers, 'Content-Type': 'text/html' }).end(PAGE)
    if (path === '/app.js') return res.writeHead(200, { ...headers, 'Content-Type': 'text/javascript' }).end(await readFile(script))
    res.writeHead(404, headers).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/`, requested, close: () => server.close() }
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
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install Debian's (apt-get install chromium) or set CHROMIUM`)
  const server = await serveScript(script, options)
  const { requested } = server
  try {
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
          if (Date.now() - started > 120_000) throw new Error('no report from the page within 120 s')
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
