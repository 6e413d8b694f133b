// The example app (examples/chat/) as a user runs it: `xaeroflux serve-example` (the compiled
// CLI, in a child process) serves the page and runs the Node peer; Chromium opens the URL it
// prints. The test posts from the page through the DOM (types in the box, clicks Send) and from
// another Node peer (a store with `network` in a process of its own, bootstrapped to the one of
// serve-example), waits until both messages are listed in the page, saves a screenshot, and checks through the
// DOM that both are shown and that the root the page shows is the Node peer's. Then SIGTERM: the
// command closes, exits 0, and removes its temporary store. Also: --help, a port in use.
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type Page } from 'playwright-core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { Identity, toHex } from '../src/index.js'
import { CHROMIUM } from './helpers/chromium.js'
import { PeerProcess, killAll, until } from './helpers/peer-process.js'

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url))
const GROUP = 'example-app-test'
const PAGE_TEXT = 'hello from the page'
const NODE_TEXT = 'hello from a Node peer'
/** Where the screenshot is left for a person to look at (overwritten at each run). */
const SCREENSHOT = join(tmpdir(), 'xaeroflux-example-app.png')

interface Result { code: number | null; stdout: string; stderr: string }

/** Runs the CLI to its end (at most 30 s). */
function cli(args: string[]): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, XAEROFLUX_DEBUG: '' }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = '', stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`xaeroflux ${args.join(' ')} did not end in 30 s`)) }, 30_000)
    child.once('error', reject).once('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
}

/** `serve-example --json` running: its JSON lines so far, and its exit. */
class Served {
  readonly lines: Array<Record<string, any>> = []
  stderr = ''
  readonly exited: Promise<number | null>
  private readonly child: ChildProcess

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [CLI, 'serve-example', '--json', ...args], { env: { ...process.env, XAEROFLUX_DEBUG: '' }, stdio: ['ignore', 'pipe', 'pipe'] })
    let rest = ''
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      const parts = (rest + d).split('\n')
      rest = parts.pop()!
      for (const p of parts) if (p.trim()) this.lines.push(JSON.parse(p))
    })
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => { this.stderr += d })
    this.exited = new Promise((resolve) => this.child.once('close', (code) => resolve(code)))
  }

  /** The first line with this `event`, once printed (fails after `ms`, or if the command exits). */
  async line(event: string, ms: number): Promise<Record<string, any>> {
    let gone = false
    void this.exited.then(() => { gone = true })
    const started = Date.now()
    for (;;) {
      const found = this.lines.find((l) => l.event === event)
      if (found) return found
      if (gone) throw new Error(`serve-example exited before '${event}': ${this.stderr}`)
      if (Date.now() - started > ms) throw new Error(`no '${event}' line from serve-example in ${ms} ms: ${this.stderr}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }

  signal(name: NodeJS.Signals): void { this.child.kill(name) }
  kill(): void { if (this.child.exitCode === null) this.child.kill('SIGKILL') }
}

let served: Served | undefined
let browser: Browser | undefined
const errors: string[] = []

const test = suite('example app')
test.after(async () => {
  await browser?.close().catch(() => {})
  served?.kill()
  await killAll()
})

test('serve-example --help; a port in use is one line with E_HTTP_LISTEN, exit 1; a bad port, E_USAGE', async () => {
  const help = await cli(['serve-example', '--help'])
  assert.is(help.code, 0)
  assert.match(help.stdout, /^usage: xaeroflux serve-example \[options\]\n/)
  for (const option of ['--group <name>', '--port <n>', '--data <dir>', '--json']) assert.ok(help.stdout.includes(option), option)

  const taken = createServer()
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
  try {
    const port = (taken.address() as { port: number }).port
    const r = await cli(['serve-example', '--port', String(port)])
    assert.is(r.code, 1, r.stderr)
    assert.is(r.stdout, '')
    assert.is(r.stderr.trimEnd().split('\n').length, 1, r.stderr)
    assert.match(r.stderr, new RegExp(`^error E_HTTP_LISTEN: cannot serve the page on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE.*--port 0`))
  } finally {
    taken.close()
  }
  const bad = await cli(['serve-example', '--port', '70000'])
  assert.is(bad.code, 2)
  assert.match(bad.stderr, /^error E_USAGE: --port must be a whole number in 0\.\.65535/)
})

test('the chat in Chromium: a post from the page and one from a Node peer are both shown, with the Node peer\'s root', async () => {
  const started = Date.now()
  served = new Served(['--group', GROUP, '--port', '0'])
  const listening = await served.line('listening', 30_000)
  const { url, peerId, addrs, data } = listening as { url: string; peerId: string; addrs: string[]; data: string }
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/)
  assert.ok(existsSync(data), 'the temporary store exists while it runs')
  const nodeState = async () => (await (await fetch(new URL('state.json', url))).json()) as { count: number; root: string }

  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
  const tab: Page = await (await browser.newContext({ viewport: { width: 1100, height: 700 } })).newPage()
  tab.on('pageerror', (e) => errors.push(String(e)))
  await tab.goto(url)
  // Connected: the Node peer is listed among the page's peers, and the post box is enabled.
  await tab.locator(`#peers li[data-peer="${peerId}"]`).waitFor({ timeout: 30_000 })
  await tab.locator('#text:enabled').waitFor({ timeout: 10_000 })
  assert.is(await tab.evaluate(() => crossOriginIsolated), true, 'served cross-origin isolated')
  const pageAuthor = (await tab.locator('#me').textContent())!
  const connectedMs = Date.now() - started

  // From the page, as a person would.
  await tab.locator('#text').fill(PAGE_TEXT)
  await tab.locator('#send').click()
  await tab.locator('#messages li', { hasText: PAGE_TEXT }).waitFor({ timeout: 10_000 })
  await until(async () => (await nodeState()).count === 1, 10_000, 'the Node peer to hold the page\'s message')

  // From a Node peer: a store with `network` in a process of its own (test/fixtures/peer.ts),
  // bootstrapped to serve-example's peer. Its message reaches the page through that peer (live
  // push, Node peer to Node peer to page); the page's message reaches it the same way, or by sync.
  const tcp = addrs.find((a) => /\/tcp\/\d+\/p2p\//.test(a) && !a.includes('/ws'))!
  const seed = randomBytes(32)
  const other = await PeerProcess.start({ groups: [{ group: GROUP }], bootstrap: [tcp], seed: toHex(seed) }, { role: 'store', name: 'node-peer' })
  const otherAuthor = Identity.fromSecretKey(seed).id
  await until(async () => ((await other.call('state', { group: GROUP })).peers as string[]).includes(peerId), 10_000, 'the Node peer to join serve-example\'s')
  await other.call('append', { group: GROUP, n: 1, payload: NODE_TEXT })

  // Both in the page, pushed live by the Node peer; the page's root is the Node peer's.
  await tab.locator('#messages li', { hasText: NODE_TEXT }).waitFor({ timeout: 10_000 })
  await until(async () => (await nodeState()).count === 2 && (await other.call('state', { group: GROUP })).count === 2, 10_000, 'both Node peers to hold both')
  const node = await nodeState()
  assert.is(node.root, (await other.call('state', { group: GROUP })).root, 'both Node peers have one root')
  // The page's root is refreshed shortly after each event: wait for the one of both events.
  await tab.waitForFunction((root) => document.getElementById('root')?.textContent === root &&
    document.getElementById('match')?.classList.contains('ok'), node.root, { timeout: 10_000 })
  const shownMs = Date.now() - started

  await tab.screenshot({ path: SCREENSHOT, fullPage: true })
  const png = readFileSync(SCREENSHOT)
  assert.ok(png.length > 10_000, `a screenshot of ${png.length} bytes`)
  assert.equal([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG')

  // What is on it, through the DOM.
  const items = tab.locator('#messages li')
  assert.is(await items.count(), 2)
  const shown = await items.evaluateAll((lis) => lis.map((li) => ({
    author: li.querySelector('.author')!.textContent, text: li.querySelector('.text')!.textContent,
    full: (li as HTMLElement).dataset.author, time: li.querySelector('time')!.textContent, mine: li.classList.contains('mine'),
  })))
  const byText = (t: string) => shown.find((m) => m.text === t)!
  assert.equal({ ...byText(PAGE_TEXT), time: '' }, { author: `${pageAuthor.slice(0, 8)} (you)`, text: PAGE_TEXT, full: pageAuthor, time: '', mine: true })
  assert.equal({ ...byText(NODE_TEXT), time: '' }, { author: otherAuthor.slice(0, 8), text: NODE_TEXT, full: otherAuthor, time: '', mine: false })
  for (const m of shown) assert.match(m.time!, /\d\d.\d\d.\d\d/)
  for (const text of [PAGE_TEXT, NODE_TEXT]) assert.ok(await tab.locator('#messages li', { hasText: text }).isVisible(), `${text} is visible`)
  assert.is(await tab.locator('#root').textContent(), node.root, 'the root shown is the Node peer\'s')
  assert.is(await tab.locator('#node-root').textContent(), node.root)
  assert.match((await tab.locator('#match').textContent())!, /equal: this page and the Node peer hold the same 2 events/)
  // The last sync shown: with serve-example's peer, or with the Node peer if the page found it too.
  const synced = `(${peerId.slice(-8)}|${other.peerId.slice(-8)})`
  assert.match((await tab.locator('#sync').textContent())!, new RegExp(`with ${synced} \\(started by (this page|the peer)\\): received \\d+ events, sent \\d+`))
  assert.is(await tab.locator('#status').textContent(), 'connected')
  // A second tab of the same browser profile does not open the same IndexedDB store at once: it
  // waits for the first to close, then opens it (with both messages) and connects.
  const second = await tab.context().newPage()
  second.on('pageerror', (e) => errors.push(String(e)))
  await second.goto(url)
  await second.locator('#status', { hasText: 'open in another tab' }).waitFor({ timeout: 10_000 })
  assert.ok(await second.locator('#text').isDisabled(), 'the second tab cannot post while it waits')
  await tab.close()
  await second.locator(`#peers li[data-peer="${peerId}"]`).waitFor({ timeout: 15_000 })
  assert.is(await second.locator('#messages li').count(), 2, 'the store of the closed tab, with both messages')
  assert.is(await second.locator('#me').textContent(), pageAuthor, 'the same author (its key is in localStorage)')
  assert.equal(errors, [], 'no error in the pages')

  // SIGTERM: the command closes the store, stops the node, removes its temporary store, exits 0.
  served.signal('SIGTERM')
  assert.is(await served.exited, 0, served.stderr)
  const closed = served.lines.find((l) => l.event === 'closed')
  assert.equal(closed && { count: closed.count, root: closed.root }, { count: 2, root: node.root })
  assert.not.ok(existsSync(data), 'the temporary store is removed')
  assert.is(served.stderr, '')
  console.log(`    connected ${connectedMs} ms after start, both messages shown at ${shownMs} ms; screenshot: ${SCREENSHOT} (${png.length} bytes)`)
})

test.run()
