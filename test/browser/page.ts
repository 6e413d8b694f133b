// Runs in Chromium: test/browser.test.ts bundles this file for the browser and reads the
// report it leaves on `globalThis.xaerofluxReport`. The store is on IndexedDB, run inline and
// with two pipeline workers (Web Workers on the shared memory).
import { Xaeroflux, Identity, XaeroError, encodeEvent, groupId, merkleRoot, verifyProof, type Event } from '../../src/index.js'

const byKey = (a: Event, b: Event) => {
  for (let i = 0; i < 40; i++) if (a.key[i] !== b.key[i]) return a.key[i] - b.key[i]
  return 0
}

async function collect(it: AsyncIterable<Event>): Promise<string[]> {
  const ids: string[] = []
  for await (const e of it) ids.push(e.id)
  return ids
}

// IndexedDB stores a view with its whole buffer, so a stored value that views a larger buffer
// takes all of it on disk: every value of the store must own exactly its bytes. (browser-level
// names its database 'level-js-' + path.)
async function storedValuesOwnTheirBytes(path: string): Promise<boolean> {
  const idb = await new Promise<IDBDatabase>((resolve, reject) => {
    const request = indexedDB.open(`level-js-${path}`)
    request.onsuccess = () => resolve(request.result)
    request.onerror = () => reject(request.error)
  })
  const name = idb.objectStoreNames[0]
  const values = await new Promise<Uint8Array[]>((resolve, reject) => {
    const request = idb.transaction(name).objectStore(name).getAll()
    request.onsuccess = () => resolve(request.result)
    request.onerror = () => reject(request.error)
  })
  idb.close()
  return values.length > 600 && values.every((v) => v.byteLength === v.buffer.byteLength)
}

// Counts the Web Workers the store starts (the page's own instrument, not a stand-in).
let workersStarted = 0
globalThis.Worker = class extends globalThis.Worker {
  constructor(url: string | URL, options?: WorkerOptions) {
    super(url, options)
    workersStarted++
  }
}

async function run(workers: number): Promise<Record<string, unknown>> {
  workersStarted = 0
  const name = `xaeroflux-browser-${workers}-${Date.now()}`
  const me = Identity.generate(), peer = Identity.generate()
  const report: Record<string, unknown> = {
    crossOriginIsolated: globalThis.crossOriginIsolated,
    webCryptoEd25519: await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign']).then(() => true, () => false),
  }

  let db = await Xaeroflux.open({ path: name, group: 'browser', identity: me, workers })
  const events = await Promise.all(Array.from({ length: 300 }, (_, i) => db.append({ kind: i % 3, payload: `post ${i}`, timestamp: 1_700_000_000_000 + (i * 7919) % 300 })))
  // Without a WAL an append resolves once its IndexedDB batch has committed: it is visible at once.
  report.visibleOnResolve = (await db.get(events[299].id))?.id === events[299].id
  const fromPeer = encodeEvent({ kind: 9, group: groupId('browser'), payload: 'from a peer' }, peer)
  const ingested = await db.ingest(fromPeer)
  report.ingestAgainIsNoop = (await db.ingest(fromPeer)).id === ingested.id
  const tampered = fromPeer.slice()
  tampered[tampered.length - 1] ^= 1
  report.tampered = await db.ingest(tampered).then(() => 'accepted', (e) => (e instanceof XaeroError ? e.code : String(e)))
  report.count = await db.count()
  // One open store per path, in this tab and any other of the origin (a Web Lock).
  report.secondOpen = await Xaeroflux.open({ path: name, group: 'browser', workers }).then(async (d) => { await d.close(); return 'opened' }, (e) => (e instanceof XaeroError ? e.code : String(e)))
  // The appends were signed by the pipeline (WebCrypto where the browser has it): another store
  // checks every signature when it ingests them.
  const check = await Xaeroflux.open({ path: `${name}-check`, group: 'browser', workers })
  report.appendsVerify = (await check.ingestMany(events.map((e) => e.bytes))).every((r) => !(r instanceof XaeroError))
  await check.close()

  const mine = events.slice().sort(byKey)
  report.byAuthor = JSON.stringify(await collect(db.range({ author: me.id }))) === JSON.stringify(mine.map((e) => e.id))
  const kind1 = mine.filter((e) => e.kind === 1 && e.timestamp >= 1_700_000_000_050 && e.timestamp < 1_700_000_000_250).reverse().slice(0, 20)
  report.byKindReverse = JSON.stringify(await collect(db.range({ kind: 1, from: 1_700_000_000_050, to: 1_700_000_000_250, reverse: true, limit: 20 }))) === JSON.stringify(kind1.map((e) => e.id))
  const all = [...events, ingested].sort(byKey)
  const root = await db.root()
  report.root = root === merkleRoot(all.map((e) => e.key))
  report.proof = verifyProof(await db.prove(ingested.id), root)
  await db.close()
  report.storedValuesOwnTheirBytes = await storedValuesOwnTheirBytes(name)

  db = await Xaeroflux.open({ path: name, group: 'browser', identity: me, workers })
  report.countAfterReopen = await db.count()
  report.rootAfterReopen = (await db.root()) === root
  report.getAfterReopen = (await db.get(ingested.id))?.payload.length === 11
  await db.close()
  report.workersStarted = workersStarted
  return report
}

async function runAll(): Promise<Record<string, unknown>> {
  return { inline: await run(0), workers2: await run(2) }
}

;(globalThis as { xaerofluxReport?: Promise<unknown> }).xaerofluxReport = runAll().catch((e) => ({ error: String(e?.stack ?? e) }))
