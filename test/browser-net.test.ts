// Browser peers (docs/NETWORK.md "Browser peers"): pages in Debian's Chromium (driven by
// playwright-core, test/browser/net-page.ts) open stores with `network`, dial a Node peer in a
// process of its own (test/fixtures/peer.ts) over WebSockets on 127.0.0.1, and sync, push live,
// run the group's DHT as clients and the secret handshake with it. Two browser contexts are two
// tabs with separate IndexedDB: separate stores, separate peers. Nothing here reaches an address
// outside 127.0.0.0/8: the Node peer listens on 127.0.0.1 only, and every WebSocket the pages
// open is checked. The tests run in order and share the Node peer, the pages and their stores.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { build } from 'esbuild'
import { chromium, type Browser, type Page } from 'playwright-core'
import { multiaddr } from '@multiformats/multiaddr'
import { fileURLToPath } from 'node:url'
import { Xaeroflux } from '../src/index.js'
import { refusedByBrowserDefault, refusedWithPrivateAllowed } from '../src/net/addresses.js'
import { CHROMIUM, servePage } from './helpers/chromium.js'
import { PeerProcess, until } from './helpers/peer-process.js'
import { within } from './helpers/watchdog.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const SECRET = 'a secret of the club, long enough to be one'
const NODE_EVENTS = 5000
const PAGE_EVENTS = 200

let node: PeerProcess
let served: Awaited<ReturnType<typeof servePage>>
let browser: Browser
let wsAddr = ''
const tabs: Page[] = []
const errors: string[] = []
const figures: Record<string, unknown> = {}

type Answer<T> = T | { error: { code: string; message: string } }

/** Calls `xf[fn](...args)` in the tab; arguments and answer are JSON. */
function call<T = any>(tab: Page, fn: string, ...args: unknown[]): Promise<T> {
  return within(tab.evaluate(({ fn, args }) => (globalThis as any).xf[fn](...args), { fn, args }) as Promise<T>, `page: ${fn}`, 60_000)
}

async function newTab(): Promise<Page> {
  const context = await browser.newContext() // its own IndexedDB
  const tab = await context.newPage()
  tab.on('pageerror', (e) => errors.push(String(e)))
  await tab.goto(served.url)
  await tab.waitForFunction(() => (globalThis as any).xf !== undefined, undefined, { timeout: 30_000 })
  tabs.push(tab)
  return tab
}

const nodeState = (group: string) => node.call('state', { group }) as unknown as Promise<{ root: string; count: number; peers: string[] }>
const pageState = (tab: Page, name: string) => call<{ root: string; count: number; peers: string[] }>(tab, 'state', name)
const percentile = (values: number[], p: number) => {
  const sorted = values.slice().sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]
}

test.before(async () => {
  const started = Date.now()
  // One Node peer (one libp2p node, TCP and WebSockets on 127.0.0.1) in an open group and a secret one.
  node = await PeerProcess.start({ groups: [{ group: 'web' }, { group: 'club', secret: SECRET }], shared: true }, { role: 'store', name: 'node' })
  wsAddr = node.addrs.find((a) => a.includes('/ws/'))!
  assert.ok(wsAddr && node.addrs.every((a) => a.startsWith('/ip4/127.0.0.1/')), `the Node peer listens on 127.0.0.1 only: ${node.addrs}`)
  const [{ ids }] = await Promise.all([
    node.call('append', { group: 'web', n: NODE_EVENTS }, 60_000),
    node.call('append', { group: 'club', n: 20 }),
  ])
  assert.is((ids as string[]).length, NODE_EVENTS)
  served = await servePage('dist/test/browser/net-page.js')
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
  console.log(`    set-up (Node peer, ${NODE_EVENTS} events, bundle, Chromium): ${Date.now() - started} ms`)
})

test.after(async () => {
  await browser?.close().catch(() => {})
  await served?.close().catch(() => {})
  await node?.close()
  console.log(`    ${JSON.stringify(figures)}`)
})

test('the browser build: WebSockets only, no TCP, no ws package, no Node module; the gater allows loopback and LAN only when asked', async () => {
  const bundle = await build({ entryPoints: [`${ROOT}dist/src/index.js`], bundle: true, format: 'esm', platform: 'browser', target: 'es2022', write: false, metafile: true, logLevel: 'error', outdir: '/tmp/xaeroflux-bundle-check' })
  const inputs = Object.keys(bundle.metafile.inputs)
  assert.ok(inputs.some((i) => i.endsWith('dist/src/net/node-browser.js')), 'the network module and the browser node are in the bundle')
  assert.ok(inputs.some((i) => i.includes('@libp2p/websockets/')))
  assert.equal(inputs.filter((i) => /@libp2p\/tcp\/|\/node_modules\/ws\/|^node:|dist\/src\/net\/(node|polyfills)\.js$/.test(i)), [])

  const cases: Array<[string, boolean, boolean]> = [ // address, refused by default, refused with allowPrivateAddresses
    ['/ip4/127.0.0.1/tcp/4002/ws/p2p/12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq', true, false],
    ['/ip4/127.8.9.10/tcp/4002/ws', true, false],
    ['/ip6/::1/tcp/4002/ws', true, false],
    ['/dns4/localhost/tcp/4002/ws', true, false],
    ['/ip4/192.168.1.20/tcp/4002/ws', true, false],
    ['/ip4/10.1.2.3/tcp/443/wss', true, false],
    ['/ip4/172.31.0.1/tcp/4002/ws', true, false],
    ['/ip4/169.254.3.4/tcp/4002/ws', true, false],
    ['/ip6/fe80::1/tcp/4002/ws', true, false],
    ['/ip6/fd12:3456::1/tcp/4002/ws', true, false],
    ['/ip4/172.32.0.1/tcp/4002/ws', true, true], // outside 172.16/12: a plain ws:// on the internet
    ['/ip4/100.64.0.1/tcp/443/wss', true, true], // CGNAT: private, but not a LAN
    ['/ip4/198.18.0.1/tcp/443/wss', true, true], // benchmarking range
    ['/ip4/8.8.8.8/tcp/4002/ws', true, true], // plain ws:// on the internet
    ['/ip4/8.8.8.8/tcp/443/wss', false, false],
    ['/dns4/example.com/tcp/443/wss', false, false],
    ['/dns4/example.com/tcp/443/tls/ws', false, false],
  ]
  for (const [a, byDefault, withOption] of cases) {
    assert.is(refusedByBrowserDefault(multiaddr(a)), byDefault, `${a} by default`)
    assert.is(refusedWithPrivateAllowed(multiaddr(a)), withOption, `${a} with allowPrivateAddresses`)
  }
  // The option is checked at open: a boolean, and only for the store's own node.
  const misuse = (network: object) => Xaeroflux.open({ group: 'web', workers: 0, network: network as never }).then(() => 'opened', (e) => e)
  assert.instance(await misuse({ allowPrivateAddresses: 'yes' }), TypeError)
  assert.instance(await misuse({ allowPrivateAddresses: true, libp2p: {} }), TypeError)
})

test('without allowPrivateAddresses a page refuses the loopback peer with E_PEER_UNREACHABLE; a page cannot listen', async () => {
  const tab = await newTab()
  const refused = await call<Answer<unknown>>(tab, 'open', 'refused', { path: 'refused', group: 'web', network: { bootstrap: [wsAddr] } })
  assert.ok('error' in (refused as object), 'open with only a loopback bootstrap address fails')
  const { code, message } = (refused as { error: { code: string; message: string } }).error
  assert.is(code, 'E_PEER_UNREACHABLE')
  assert.match(message, 'allowPrivateAddresses')
  const alone = await call<Answer<unknown>>(tab, 'open', 'alone', { path: 'alone', group: 'web', network: {} })
  assert.not.ok('error' in (alone as object), 'a network with no bootstrap opens')
  const sync = await call<Answer<unknown>>(tab, 'syncWith', 'alone', wsAddr)
  assert.is((sync as { error: { code: string } }).error?.code, 'E_PEER_UNREACHABLE')
  assert.match((sync as { error: { message: string } }).error.message, 'connection gater refuses')
  assert.equal(await call(tab, 'multiaddrs', 'alone'), [], 'a page listens on nothing')
  assert.equal(await call(tab, 'dialed'), [], 'the refused dials opened no WebSocket')
  assert.is((await pageState(tab, 'alone')).count, 0)
  await call(tab, 'close', 'alone')
  const listening = await call<Answer<unknown>>(tab, 'open', 'listening', { path: 'listening', group: 'web', network: { listen: ['/ip4/127.0.0.1/tcp/0/ws'] } })
  assert.match((listening as { error: { message: string } }).error?.message ?? '', 'cannot listen')
})

test('a page with its own events syncs both ways with the Node peer: both reach the same root', async () => {
  const tab = tabs[0]
  // Events of its own first, offline, on IndexedDB; then the same store opens on the network.
  assert.not.ok('error' in await call(tab, 'open', 'a', { path: 'a', group: 'web' }))
  await call(tab, 'append', 'a', PAGE_EVENTS)
  await call(tab, 'close', 'a')
  const opened = await call<Answer<{ ms: number }>>(tab, 'open', 'a', { path: 'a', group: 'web', network: { bootstrap: [wsAddr], allowPrivateAddresses: true } })
  assert.not.ok('error' in opened, JSON.stringify(opened))
  const total = NODE_EVENTS + PAGE_EVENTS
  const waited = await call<number>(tab, 'waitCount', 'a', total, 40_000)
  await until(async () => (await nodeState('web')).count === total, 10_000, 'the Node peer to hold the page\'s events')
  const [page, peer] = [await pageState(tab, 'a'), await nodeState('web')]
  assert.is(page.root, peer.root, 'one root')
  assert.equal(page.peers, [node.peerId], 'the page\'s one peer is the Node peer')
  assert.ok(peer.peers.length === 1, 'the Node peer has the page as a group peer')
  const syncs = await call<Array<{ at: number; result: { ms: number; eventsSent: number; eventsReceived: number; rounds: number } }>>(tab, 'syncs', 'a')
  // The page's offline events reached the Node peer by sync (a push carries only newly indexed
  // events). Normally one sync moved everything both ways; a session replaced at connect (both
  // sides opening one at once) may split or repeat the work, which the sums allow.
  const sum = (k: 'eventsReceived' | 'eventsSent') => syncs.reduce((n, s) => n + s.result[k], 0)
  assert.ok(sum('eventsReceived') >= NODE_EVENTS && sum('eventsSent') >= PAGE_EVENTS, JSON.stringify(syncs))
  const main = syncs.reduce((a, b) => (b.result.eventsReceived > a.result.eventsReceived ? b : a))
  const opening = (opened as { ms: number }).ms
  const rate = Math.round(main.result.eventsReceived / (main.result.ms / 1000))
  // The same page ingesting the same events with no network, to compare.
  const local = await call<{ events: number; ms: number }>(tab, 'ingestCopy', 'a', 'web')
  assert.is(local.events, total)
  const localRate = Math.round(local.events / (local.ms / 1000))
  figures.sync = {
    openMs: Math.round(opening), caughtUpMs: Math.round(opening + waited), syncMs: Math.round(main.result.ms), rounds: main.result.rounds,
    received: main.result.eventsReceived, sent: main.result.eventsSent, eventsPerSecond: rate, localIngestPerSecond: localRate,
  }
  console.log(`    page ↔ Node: open ${Math.round(opening)} ms; sync ${Math.round(main.result.ms)} ms, ${main.result.rounds} rounds, ${main.result.eventsReceived} events in (${rate}/s; the page's own ingestMany of ${total}: ${localRate}/s), ${main.result.eventsSent} out (${syncs.length} sync${syncs.length > 1 ? 's' : ''})`)
})

test('live push both ways: page → Node and Node → page', async () => {
  const tab = tabs[0]
  const up = await call<string[]>(tab, 'append', 'a', 30, 20)
  const down: string[] = []
  for (let i = 0; i < 30; i++) {
    down.push(...(await node.call('append', { group: 'web', n: 1 })).ids as string[])
    await new Promise((r) => setTimeout(r, 20))
  }
  let upLags: Array<number | null> = [], downLags: Array<number | null> = []
  await until(async () => {
    upLags = (await node.call('lags', { group: 'web', ids: up })).lags as Array<number | null>
    downLags = await call(tab, 'lags', 'a', down)
    return [...upLags, ...downLags].every((l) => l !== null)
  }, 10_000, 'every live event to arrive')
  // Pushed, not synced: anti-entropy runs every ~30 s, a gap would have shown as a late event.
  const u = upLags as number[], d = downLags as number[]
  assert.ok(Math.max(...u, ...d) < 5_000, `pushed at once: ${u} / ${d}`)
  // The page's own appends, append → indexed in the page: what the page→Node figure starts with.
  const own = (await call<number[]>(tab, 'lags', 'a', up))
  figures.push = {
    pageToNode: { median: percentile(u, 50), max: Math.max(...u) }, nodeToPage: { median: percentile(d, 50), max: Math.max(...d) },
    pageLocal: { median: percentile(own, 50), max: Math.max(...own) },
  }
  console.log(`    live push, append → indexed on the other side: page → Node median ${percentile(u, 50)} ms (max ${Math.max(...u)}; indexed in the page itself: median ${percentile(own, 50)} ms); Node → page median ${percentile(d, 50)} ms (max ${Math.max(...d)})`)
  const [page, peer] = [await pageState(tab, 'a'), await nodeState('web')]
  assert.is(page.root, peer.root)
})

test('two pages (separate browser contexts, separate IndexedDB) converge through the Node peer', async () => {
  const a = tabs[0], b = await newTab()
  const before = (await nodeState('web')).count
  const opened = await call<Answer<unknown>>(b, 'open', 'b', { path: 'b', group: 'web', network: { bootstrap: [wsAddr], allowPrivateAddresses: true } })
  assert.not.ok('error' in (opened as object), JSON.stringify(opened))
  await call(b, 'waitCount', 'b', before, 40_000)
  await Promise.all([call(a, 'append', 'a', 50), call(b, 'append', 'b', 50)])
  const total = before + 100
  const ms = await until(async () => {
    const states = await Promise.all([pageState(a, 'a'), pageState(b, 'b'), nodeState('web')])
    return states.every((s) => s.count === total && s.root === states[0].root)
  }, 20_000, 'two pages and the Node peer to reach one root')
  figures.twoPages = { convergedMs: ms }
  console.log(`    two pages, 50 events each at once: one root everywhere after ${ms} ms (polled every 100 ms)`)
  assert.equal((await pageState(b, 'b')).peers, [node.peerId], 'pages reach each other only through the Node peer')
  assert.is((await nodeState('web')).peers.length, 2)
})

test('a secret group: the page with the secret syncs; with none, or a wrong one, it gets nothing', async () => {
  const [a, b] = tabs
  const member = await call<Answer<unknown>>(a, 'open', 'club', { path: 'club', group: 'club', network: { bootstrap: [wsAddr], allowPrivateAddresses: true, secret: SECRET } })
  assert.not.ok('error' in (member as object), JSON.stringify(member))
  await call(a, 'waitCount', 'club', 20, 20_000)
  await call(a, 'append', 'club', 5)
  await until(async () => (await nodeState('club')).count === 25, 10_000, 'the Node peer to get the member\'s events')
  assert.is((await pageState(a, 'club')).root, (await nodeState('club')).root)

  for (const [name, secret] of [['outsider', undefined], ['guesser', 'a wrong guess of the secret, long enough']] as const) {
    const opened = await call<Answer<unknown>>(b, 'open', name, { path: name, group: 'club', network: { bootstrap: [wsAddr], allowPrivateAddresses: true, ...(secret ? { secret } : {}) } })
    assert.not.ok('error' in (opened as object), JSON.stringify(opened))
    const sync = await call<Answer<unknown>>(b, 'syncWith', name, wsAddr)
    assert.is((sync as { error: { code: string } }).error?.code, 'E_NOT_IN_GROUP', `${name}: ${JSON.stringify(sync)}`)
    await new Promise((r) => setTimeout(r, 1000)) // time for discovery, a session or a push, if any would come
    const s = await pageState(b, name)
    assert.is(s.count, 0, `${name} got no event`)
    assert.equal(s.peers, [], `${name} has no group peer`)
    await call(b, 'append', name, 3)
    await new Promise((r) => setTimeout(r, 300))
    assert.is((await nodeState('club')).count, 25, `${name}'s events reached no member`)
  }
  assert.equal((await pageState(a, 'club')).peers, [node.peerId], 'the member page\'s club peer is the Node peer')
  assert.is((await nodeState('club')).peers.length, 1, 'the Node peer\'s one club peer is the member page')
})

test('no page opened a WebSocket outside 127.0.0.0/8, and no page error', async () => {
  for (const tab of tabs) {
    const urls = await call<string[]>(tab, 'dialed')
    assert.ok(urls.every((u) => u.startsWith('ws://127.0.0.1:')), urls.join(' '))
  }
  assert.equal(errors, [])
})

test.run()
