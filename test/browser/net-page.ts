// Runs in Chromium: test/browser-net.test.ts bundles this file for the browser, opens it in tabs
// and drives it through `globalThis.xf` (each call's arguments and answer are JSON). Stores live
// on IndexedDB; a store opened with `network` is a browser peer of its group (docs/NETWORK.md
// "Browser peers"). Errors that the test checks come back as { error: { code, message } }.
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

interface Held { db: Xaeroflux; lags: Map<string, number>; syncs: unknown[] }
const stores = new Map<string, Held>()
const identity = Identity.generate()

const failure = (e: unknown) => ({ error: { code: e instanceof XaeroError ? e.code : (e as Error)?.name, message: String((e as Error)?.message ?? e) } })
const held = (name: string): Held => {
  const h = stores.get(name)
  if (!h) throw new Error(`no store ${name}`)
  return h
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const xf = {
  /** Opens a store under `name`; `network` as Xaeroflux.open takes it. Resolves with the ms it took, or { error }. */
  async open(name: string, options: { path: string; group: string; workers?: number; network?: { bootstrap?: string[]; secret?: string; allowPrivateAddresses?: boolean } }) {
    const started = performance.now()
    const syncs: unknown[] = []
    try {
      const db = await Xaeroflux.open({ ...options, identity })
      const lags = new Map<string, number>()
      db.subscribe({}, (e) => { lags.set(e.id, Date.now() - e.timestamp) })
      db.addEventListener('sync', (e) => { syncs.push({ at: performance.now() - started, ...(e as CustomEvent).detail }) })
      stores.set(name, { db, lags, syncs })
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
  async syncWith(name: string, peer: string) {
    try {
      return { result: await held(name).db.syncWith(peer) }
    } catch (e) {
      return failure(e)
    }
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
