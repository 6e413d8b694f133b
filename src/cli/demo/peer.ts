// One peer of the network demo, in a process of its own (started by peers.ts): a store on disk on
// its own libp2p node (TCP on 127.0.0.1, so that wire.ts can count its bytes), in the demo's
// group. argv[2] is JSON: { name, path, group, bootstrap }.
//
// It speaks JSON lines (lines.ts). Out: first { ready, peerId, addrs, author, at }, then answers
// { id, ok, … } (or { id, ok: false, code, message }) and events: { event: 'peer:connect' |
// 'peer:disconnect', peer, at }, and { event: 'seen', id, at } for each probe event (kind
// PROBE_KIND) that reached it from another peer. Every `at` is epoch ms read from performance (sub-millisecond; the
// processes of one machine share the clock).
// In, one command a line: { id, cmd } with cmd one of
//   append { n }    appends n events (kind 1), many in flight at once → { ms, sample }
//   probe           appends one probe event → { eventId, at } (`at`: just before the append)
//   progress        → { count, peers } (no flush: for progress bars)
//   state           flushes → { count, root, peers }
//   prove { eventId }  flushes → { proof, root, author } (proof in hex)
//   stats           → { wire, syncs, received }
//   close           closes the store and the node, then exits 0.
// It also exits when its stdin ends: its parent is gone, and nothing else would stop it.
import { Identity, Xaeroflux, toHex, type Event } from '../../index.js'
import { createNode } from '../../net/node.js'
import { say, serve } from './lines.js'
import { WireCounter } from './wire.js'

export const PROBE_KIND = 2
/** Appends in flight at once: enough to fill the write path's batches, few enough to keep memory flat. */
const WINDOW = 256

interface Config { name: string; path: string; group: string; bootstrap: string[] }

const config = JSON.parse(process.argv[2]) as Config
const now = () => performance.timeOrigin + performance.now()

const identity = Identity.generate()
const wire = new WireCounter()
const node = await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: config.bootstrap, metrics: () => wire.metrics() })
// durability 'batch': one fsync per batch of appends, not per append (docs/STORAGE.md).
const db = await Xaeroflux.open({
  path: config.path, group: config.group, identity, durability: 'batch',
  network: { libp2p: node, bootstrap: config.bootstrap },
})

const syncs = { local: 0, remote: 0, eventsReceived: 0, bytes: 0 }
db.addEventListener('sync', (e) => {
  const { initiator, result } = (e as CustomEvent<{ initiator: 'local' | 'remote'; result: { eventsReceived: number; bytesSent: number; bytesReceived: number } }>).detail
  syncs[initiator]++
  syncs.eventsReceived += result.eventsReceived
  syncs.bytes += result.bytesSent + result.bytesReceived
})
const received = { events: 0, bytes: 0 }
db.subscribe({}, (e: Event) => {
  if (e.author === identity.id) return
  received.events++
  received.bytes += e.bytes.length
  if (e.kind === PROBE_KIND) say({ event: 'seen', id: e.id, at: now() })
})

for (const type of ['peer:connect', 'peer:disconnect']) {
  db.addEventListener(type, (e) => say({ event: type, peer: (e as CustomEvent<{ id: string }>).detail.id, at: now() }))
}

say({ ready: true, peerId: node.peerId.toString(), addrs: db.multiaddrs(), author: identity.id, at: now() })

async function append(n: number): Promise<{ ms: number; sample: string }> {
  const start = performance.now()
  // The sample (for the demo's proof) is the middle one: neither the first nor the last page's.
  const middle = Math.floor(n / 2)
  let sample = ''
  for (let i = 0; i < n; i += WINDOW) {
    const events = await Promise.all(Array.from({ length: Math.min(WINDOW, n - i) }, (_, j) => db.append({ kind: 1, payload: `${config.name} says ${i + j}` })))
    if (middle >= i && middle < i + events.length) sample = events[middle - i].id
  }
  return { ms: performance.now() - start, sample }
}

let closing = false
async function close(): Promise<void> {
  if (closing) return
  closing = true
  await db.close().catch(() => {})
  try { await node.stop() } catch { /* exiting anyway */ }
}

serve({
  append: (c) => append(c.n ?? 1),
  async probe() {
    const at = now()
    const event = await db.append({ kind: PROBE_KIND, payload: `probe from ${config.name}` })
    return { eventId: event.id, at }
  },
  progress: async () => ({ count: await db.count(), peers: db.peers().map((p) => p.id) }),
  async state() {
    await db.flush()
    return { count: await db.count(), root: await db.root(), peers: db.peers().map((p) => p.id) }
  },
  async prove(c) {
    await db.flush()
    const proof = await db.prove(c.eventId)
    return { proof: toHex(proof), root: await db.root(), author: (await db.get(c.eventId))?.author }
  },
  stats: () => ({ wire: wire.totals(), syncs, received }),
  async close() {
    await close()
    setImmediate(() => process.exit(0))
  },
}, () => close().then(() => process.exit(0)))
