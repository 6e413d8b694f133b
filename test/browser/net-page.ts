// Runs in Chromium: test/browser-net.test.ts and the browser-peer bench (bench/browser-net.ts)
// bundle this file for the browser, open it in tabs and drive it through `globalThis.xf` (each
// call's arguments and answer are JSON). Stores live on IndexedDB; a store opened with `network`
// is a browser peer of its group (docs/NETWORK.md "Browser peers"). Errors that the test checks
// come back as { error: { code, message } }. Times named `…At` are epoch ms read from
// `performance.timeOrigin + performance.now()`, the clock the bench's Node processes read too.
import { Identity, Xaeroflux, XaeroError } from '../../src/index.js'

// Every WebSocket the page opens (libp2p's only transport here): the test checks that none goes
// anywhere but 127.0.0.0/8.
const dialed: string[] = []
globalThis.WebSocket = class extends globalThis.WebSocket {
  constructor(url: string | URL, protocols?: string | string[]) {
    dialed.push(String(url))
    super(url, protocols)
  }
}

interface Held {
  db: Xaeroflux
  lags: Map<string, number>
  syncs: unknown[]
  /** When each event reached the store's subscription (…At). */
  seenAt: Map<string, number>
  /** Events of other authors seen, and the waits on their count (`expect`). */
  received: number
  waits: Array<{ n: number; resolve: (at: number) => void }>
  /** The first peer:connect (…At), 0 before. */
  connectedAt: number
}
const stores = new Map<string, Held>()
const identity = Identity.generate()

const failure = (e: unknown) => ({ error: { code: e instanceof XaeroError ? e.code : (e as Error)?.name, message: String((e as Error)?.message ?? e) } })
const held = (name: string): Held => {
  const h = stores.get(name)
  if (!h) throw new Error(`no store ${name}`)
  return h
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const now = () => performance.timeOrigin + performance.now()

const xf = {
  /** Opens a store under `name`; `network` as Xaeroflux.open takes it. Resolves with the ms it took, or { error }. */
  async open(name: string, options: { path: string; group: string; workers?: number; network?: { bootstrap?: string[]; secret?: string; allowPrivateAddresses?: boolean } }) {
    const started = performance.now()
    const syncs: unknown[] = []
    try {
      const db = await Xaeroflux.open({ ...options, identity })
      const h: Held = { db, lags: new Map(), syncs, seenAt: new Map(), received: 0, waits: [], connectedAt: 0 }
      db.subscribe({}, (e) => {
        const at = now()
        h.lags.set(e.id, Date.now() - e.timestamp)
        h.seenAt.set(e.id, at)
        if (e.author === identity.id) return
        h.received++
        if (h.waits.length) h.waits = h.waits.filter((w) => (w.n <= h.received ? (w.resolve(at), false) : true))
      })
      db.addEventListener('sync', (e) => { syncs.push({ at: performance.now() - started, ...(e as CustomEvent).detail }) })
      db.addEventListener('peer:connect', () => { h.connectedAt ||= now() })
      stores.set(name, h)
      return { ms: performance.now() - started }
    } catch (e) {
      return failure(e)
    }
  },
  /** Appends `n` events, `gapMs` apart (all at once if 0); their ids. */
  async append(name: string, n: number, gapMs = 0): Promise<string[]> {
    const { db } = held(name)
    if (gapMs === 0) return (await Promise.all(Array.from({ length: n }, (_, i) => db.append({ kind: 1, payload: `page ${name} ${i}` })))).map((e) => e.id)
    const ids: string[] = []
    for (let i = 0; i < n; i++) {
      ids.push((await db.append({ kind: 1, payload: `page ${name} live ${i}` })).id)
      await sleep(gapMs)
    }
    return ids
  },
  async state(name: string) {
    const { db } = held(name)
    await db.flush()
    return { root: await db.root(), count: await db.count(), peers: db.peers().map((p) => p.id) }
  },
  /** Polls until the store holds `count` events (then resolves with the ms waited), for at most `ms`. */
  async waitCount(name: string, count: number, ms: number) {
    const { db } = held(name)
    const started = performance.now()
    while (await db.count() < count) {
      if (performance.now() - started > ms) throw new Error(`${name}: ${await db.count()} events, not ${count}, after ${ms} ms`)
      await sleep(20)
    }
    return performance.now() - started
  },
  /** `db.syncWith(peer)`: { result } or { error }, and when the call started and ended (…At). */
  async syncWith(name: string, peer: string) {
    const startAt = now()
    try {
      return { result: await held(name).db.syncWith(peer), startAt, endAt: now() }
    } catch (e) {
      return { ...failure(e), startAt, endAt: now() }
    }
  },
  /** Resolves once `n` events of other authors reached the store's subscription (counted from the open): when the n-th did (…At). */
  async expect(name: string, n: number) {
    const h = held(name)
    return h.received >= n ? now() : new Promise<number>((resolve) => h.waits.push({ n, resolve }))
  },
  /** When event `id` reached the store's subscription (…At); waits for it at most `ms`. */
  async arrival(name: string, id: string, ms: number) {
    const { seenAt } = held(name)
    const started = performance.now()
    while (!seenAt.has(id)) {
      if (performance.now() - started > ms) throw new Error(`${name}: event ${id} not seen after ${ms} ms`)
      await sleep(2)
    }
    return seenAt.get(id)!
  },
  /** This page's clock (…At), for a driver to work out its offset. */
  clock() { return now() },
  /** What the store runs with: its pipeline workers, the page's isolation, its first connection (…At). */
  info(name: string) {
    const { db, connectedAt } = held(name)
    return { workers: db.workers, crossOriginIsolated: globalThis.crossOriginIsolated, connectedAt }
  },
  /** For each id: ms from the event's timestamp to its indexing here (null if not seen). */
  lags(name: string, ids: string[]) {
    const { lags } = held(name)
    return ids.map((id) => lags.get(id) ?? null)
  },
  syncs(name: string) { return held(name).syncs },
  /** Ingests every event of store `from` into a new in-page store (no network): the page's local ingest rate, to compare. */
  async ingestCopy(from: string, group: string) {
    const envelopes: Uint8Array[] = []
    for await (const e of held(from).db.range()) envelopes.push(e.bytes)
    const db = await Xaeroflux.open({ path: `copy-${from}-${Date.now()}`, group })
    try {
      const started = performance.now()
      const results = await db.ingestMany(envelopes)
      return { events: results.filter((r) => !(r instanceof XaeroError)).length, ms: performance.now() - started }
    } finally {
      await db.close()
    }
  },
  multiaddrs(name: string) { return held(name).db.multiaddrs() },
  dialed() { return dialed },
  async close(name: string) {
    await held(name).db.close()
    stores.delete(name)
  },
}

;(globalThis as { xf?: typeof xf }).xf = xf
