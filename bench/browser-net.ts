// The browser peer's figures (docs/NETWORK.md "Browser peers"), each beside a Node peer's in the
// same run: a Node peer in a process of its own (bench/network-peer.ts) holds N events of 200-byte
// payloads and listens on 127.0.0.1 (TCP and WebSockets); an empty receiver dials its WebSockets
// address and calls `syncWith`, then gets live pushes. The receivers, one after another:
//   - a page in Debian's Chromium (driven by playwright-core, test/browser/net-page.ts),
//     cross-origin isolated (its store verifies on Web Workers, the default count), and
//   - the same page not isolated (everything on the page's thread), then
//   - a Node peer (bench/network-peer.ts), the comparison: same transport, same holder.
// Each receiver has a holder of its own, a fresh process loading the same signed file, so every
// full sync starts from the same N events and no receiver's traffic overlaps another's. Figures:
//   1. full sync: from the receiver's `syncWith` call (so the dial, Noise, Yamux and the handshake
//      count) to the N-th event reaching its `subscribe` callback (indexed), and the call having
//      returned; the roots are then checked equal (untimed). Beside it, the receiver's own
//      `ingestMany` of the same envelopes: the page copies its synced events into a fresh store of
//      its own, the Node peer's is a fresh process ingesting the file (bench/store.ts).
//   2. live push: PROBES events appended one at a time on the holder, PROBE_GAP_MS apart, each
//      from just before its `append` on the holder to its `subscribe` callback on the receiver.
//      Each side stamps its own clock (performance.timeOrigin + performance.now()); the driver
//      measures each clock's offset from its own (bench/network-driver.ts clockOffset) and
//      subtracts it, and reports the offsets with their uncertainty.
// Only 127.0.0.1: the page dials the holder's ws:// address (`allowPrivateAddresses`), nothing else.
// BROWSERBENCH_N=<events> and BROWSERBENCH_PROBES=<n> override N and PROBES (while developing).
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { CHROMIUM, servePage } from '../test/helpers/chromium.js'
import { Peer, clockOffset, latency, rate, sleep, within, type Answer } from './network-driver.js'
import { defaultWorkers } from '../src/store/options.js'
import { signToFile } from './store.js'
import { inChild, round } from './util.js'

const ENVELOPE = 344
const GROUP = 'bench'
const PROBE_GAP_MS = 20
/** A full sync that has not finished after this long has failed. */
const SYNC_MS = 600_000
const LISTEN = ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws']
const progress = (what: string) => process.stderr.write(`bench: browser peer: ${what}\n`)
const clock = () => performance.timeOrigin + performance.now()

/** A store that receives: a page's (through `xf`, test/browser/net-page.ts) or a Node peer's. Every time is its own clock's epoch ms. */
interface Receiver {
  /** The `syncWith` call: when it started and ended, when the first connection came up, and what it returned. */
  syncWith(addr: string): Promise<{ startAt: number; endAt: number; connectedAt: number; result?: Answer; error?: string }>
  /** When the n-th event of another author reached its `subscribe` callback. */
  expect(n: number): Promise<number>
  state(): Promise<{ root: string; count: number }>
  /** When event `id` reached its `subscribe` callback. */
  arrival(id: string): Promise<number>
  clock(): Promise<number>
  /** Its own `ingestMany` of the same envelopes, events/s. */
  ingestMany(): Promise<number>
  close(): Promise<void>
}

/** Calls `xf[fn](...args)` in the tab; arguments and answer are JSON. */
function call<T>(tab: Page, fn: string, ...args: unknown[]): Promise<T> {
  return within(tab.evaluate(({ fn, args }) => (globalThis as any).xf[fn](...args), { fn, args }) as Promise<T>, SYNC_MS, `page: ${fn}`) // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** A page of its own browser context (its own IndexedDB), served isolated or not, with one store on the network and no bootstrap. */
async function pageReceiver(browser: Browser, url: string): Promise<Receiver & { store: { workers: number; crossOriginIsolated: boolean } }> {
  const context = await browser.newContext()
  const tab = await context.newPage()
  const errors: string[] = []
  tab.on('pageerror', (e) => errors.push(String(e)))
  await tab.goto(url)
  await tab.waitForFunction(() => (globalThis as { xf?: unknown }).xf !== undefined, undefined, { timeout: 30_000 })
  const opened = await call<Answer>(tab, 'open', 'peer', { path: 'peer', group: GROUP, network: { allowPrivateAddresses: true } })
  if (opened.error) throw new Error(`the page's store did not open: ${JSON.stringify(opened.error)}`)
  const checked = async <T>(p: Promise<T>) => {
    const value = await p
    if (errors.length) throw new Error(`errors in the page: ${errors.join('; ')}`)
    return value
  }
  const { workers, crossOriginIsolated } = await call<Answer>(tab, 'info', 'peer')
  return {
    store: { workers, crossOriginIsolated },
    async syncWith(addr) {
      const s = await checked(call<Answer>(tab, 'syncWith', 'peer', addr))
      const { connectedAt } = await call<Answer>(tab, 'info', 'peer')
      return { startAt: s.startAt, endAt: s.endAt, connectedAt, result: s.result, error: s.error && `${s.error.code}: ${s.error.message}` }
    },
    expect: (n) => checked(call<number>(tab, 'expect', 'peer', n)),
    state: () => checked(call(tab, 'state', 'peer')),
    arrival: (id) => checked(call<number>(tab, 'arrival', 'peer', id, 10_000)),
    clock: () => call<number>(tab, 'clock'),
    async ingestMany() {
      const { events, ms } = await checked(call<{ events: number; ms: number }>(tab, 'ingestCopy', 'peer', GROUP))
      return rate(events, ms)
    },
    close: () => context.close(),
  }
}

/** A Node peer (bench/network-peer.ts), an empty store; `file` is the signed file the holder loaded, for its own ingestMany. */
async function nodeReceiver(dir: string, file: string): Promise<Receiver> {
  const peer = await Peer.start('xf receiver')
  await peer.ask('open', { path: join(dir, 'receiver'), group: GROUP })
  return {
    async syncWith(addr) {
      // network-peer's syncWith runs the call again (up to three times) if it lost to a session the
      // holder opened at the same moment; the events then come by the kept session's sync.
      const s = await peer.ask('syncWith', { addr })
      return { startAt: s.startAt, endAt: s.endAt || clock(), connectedAt: s.connectedAt, result: s.result, error: s.failures.join('; ') || undefined }
    },
    expect: async (n) => (await peer.ask('expect', { n })).at,
    state: async () => { const s = await peer.ask('state'); return { root: s.root, count: s.count } },
    arrival: async (id) => (await within(peer.event((e) => e.event === 'seen' && e.id === id), 10_000, 'a pushed event')).at,
    clock: async () => (await peer.ask('clock')).at,
    // As the network bench measures it: a fresh store in a fresh process, default workers.
    ingestMany: async () => Math.round((await inChild<{ rate: number }>('--store-run', JSON.stringify({ phase: 'ingest', workers: defaultWorkers(), file }))).rate),
    close: () => peer.close(),
  }
}

/** One receiver's run against a holder of its own: the full sync, its own ingestMany, then the live pushes. */
async function measure(name: string, receiver: Receiver, dir: string, file: string, n: number, probes: number) {
  progress(`${name}: a holder of ${n} events`)
  const holder = await Peer.start(`holder for ${name}`)
  try {
    const opened = await holder.ask('open', { path: join(dir, `holder-${name}`), group: GROUP, file, count: n, listen: LISTEN })
    const ws = (opened.addrs as string[]).find((a) => a.includes('/ws/'))
    if (!ws || !(opened.addrs as string[]).every((a) => a.startsWith('/ip4/127.0.0.1/'))) throw new Error(`browser peer bench: the holder listens on ${opened.addrs}`)

    progress(`${name}: full sync of ${n}`)
    const [sync, lastAt] = await Promise.all([receiver.syncWith(ws), within(receiver.expect(n), SYNC_MS, `${name}: ${n} events`)])
    const endAt = Math.max(lastAt, sync.endAt)
    const [mine, theirs] = await Promise.all([receiver.state(), holder.ask('state')])
    if (mine.count !== n || mine.root !== theirs.root) throw new Error(`browser peer bench: ${name} holds ${mine.count} events, root ${mine.root}; the holder ${theirs.count}, ${theirs.root}`)
    const fullSync = {
      eventsPerSec: rate(n, endAt - sync.startAt), msFromCall: round(endAt - sync.startAt), msFromConnect: round(endAt - sync.connectedAt),
      syncWithMs: round(sync.endAt - sync.startAt), syncWith: sync.result, syncWithError: sync.error,
    }

    progress(`${name}: its own ingestMany of the same ${n} envelopes`)
    const ingestManyEventsPerSec = await receiver.ingestMany()

    progress(`${name}: live push, ${probes} probes`)
    const [holderClock, receiverClock] = [await clockOffset(async () => (await holder.ask('clock')).at), await clockOffset(() => receiver.clock())]
    const ms: number[] = []
    for (let i = 0; i < probes; i++) {
      const probe = await holder.ask('probe')
      const seenAt = await receiver.arrival(probe.eventId)
      ms.push((seenAt - receiverClock.offsetMs) - (probe.at - holderClock.offsetMs))
      await sleep(PROBE_GAP_MS)
    }
    const clocks = { holderOffsetMs: round(holderClock.offsetMs), holderUncertaintyMs: round(holderClock.uncertaintyMs),
      receiverOffsetMs: round(receiverClock.offsetMs), receiverUncertaintyMs: round(receiverClock.uncertaintyMs) }
    return { fullSync, ingestManyEventsPerSec, fullSyncVsOwnIngestMany: round(fullSync.eventsPerSec / ingestManyEventsPerSec), livePush: { ...latency(ms), clocks } }
  } finally {
    await Promise.all([receiver.close(), holder.close()])
  }
}

export async function browserNetBench(options: { quick?: boolean } = {}) {
  if (!existsSync(CHROMIUM)) return { skipped: `no Chromium at ${CHROMIUM}` }
  const n = Number(process.env.BROWSERBENCH_N) || (options.quick ? 5_000 : 20_000)
  const probes = Number(process.env.BROWSERBENCH_PROBES) || (options.quick ? 50 : 200)
  const started = performance.now()
  const dir = mkdtempSync(join(tmpdir(), 'xaeroflux-browserbench-'))
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
  try {
    const file = join(dir, 'events.bin')
    progress(`signing ${n} events into a file`)
    await signToFile(n, file)
    // The 1-minute load average before and after: the machine is shared, and other work slows these figures.
    const loadAverage = [round(loadavg()[0])]
    const results: Record<string, unknown> = { n, envelopeBytes: ENVELOPE, probes, chromium: browser.version(), loadAverage }
    for (const isolated of [true, false]) {
      const served = await servePage('dist/test/browser/net-page.js', { isolated })
      try {
        const page = await pageReceiver(browser, served.url)
        const name = isolated ? 'pageIsolated' : 'pageNotIsolated'
        results[name] = { store: page.store, ...await measure(name, page, dir, file, n, probes) }
      } finally {
        await served.close()
      }
    }
    results.node = await measure('node', await nodeReceiver(dir, file), dir, file, n, probes)
    results.seconds = round((performance.now() - started) / 1000)
    loadAverage.push(round(loadavg()[0]))
    const r = results as Record<string, Answer>
    progress(`full sync of ${n} over WebSockets: page isolated ${r.pageIsolated.fullSync.eventsPerSec}/s, not isolated ${r.pageNotIsolated.fullSync.eventsPerSec}/s, ` +
      `Node ${r.node.fullSync.eventsPerSec}/s (own ingestMany ${r.pageIsolated.ingestManyEventsPerSec}, ${r.pageNotIsolated.ingestManyEventsPerSec}, ${r.node.ingestManyEventsPerSec}/s); ` +
      `live push median / p99: page isolated ${r.pageIsolated.livePush.medianMs} / ${r.pageIsolated.livePush.p99Ms} ms, not isolated ${r.pageNotIsolated.livePush.medianMs} / ${r.pageNotIsolated.livePush.p99Ms} ms, ` +
      `Node ${r.node.livePush.medianMs} / ${r.node.livePush.p99Ms} ms; ${results.seconds} s`)
    return results
  } finally {
    await browser.close()
    rmSync(dir, { recursive: true, force: true })
  }
}
