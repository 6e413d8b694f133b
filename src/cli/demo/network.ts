// The network demo's scenario: three peers in processes of their own, on 127.0.0.1, with their
// stores in `dir`. Peer 2 bootstraps from peer 1 and peer 3 from peer 2 only; peer 3 must find
// peer 1 through the group's DHT. Then all three append at once, and the demo waits until each
// holds every event; then it measures live push (probes from peer 1) and has peer 3 prove an
// event that peer 1 wrote, checked here against peer 3's root. It returns what it measured; every
// figure comes from the peers (counts, roots, bytes, clocks) or from this process's clock.
import { join } from 'node:path'
import { fromHex, verifyProof } from '../../index.js'
import { CliError, interrupted } from '../errors.js'
import { DemoPeer, bounded, type PeerEvent } from './peers.js'

export const GROUP = 'xaeroflux-demo'
/** Probes of live push, sent one at a time. */
const PROBES = 20
/** Between probes: each is pushed on its own, not in a batch with the previous one. */
const PROBE_GAP_MS = 50
const POLL_MS = 100

export interface PeerFigures {
  name: string
  peerId: string
  author: string
  wrote: number
  count: number
  root: string
  /** How long its own appends took (they ran while it received the others' events). */
  appendMs: number
  /** Bytes its TCP connections carried, and how many connections. */
  wire: { sent: number; received: number; connections: number }
  /** Syncs it ran, and served. */
  syncs: { local: number; remote: number }
  /** Events from other authors it indexed, and their size (envelopes). */
  received: { events: number; bytes: number }
}

/** `samplesMs`: each probe's, in the order they were sent. */
export interface Latency { probes: number; medianMs: number; maxMs: number; minMs: number; samplesMs: number[] }

export interface NetworkFigures {
  /** Events each peer appended at once (peer 1 appended the probes too). */
  perPeer: number
  /** Probes of live push, appended by peer 1 after the others. */
  probes: number
  peers: PeerFigures[]
  rootsEqual: boolean
  root: string
  /** From peer 3's start (ready) to its session with peer 1 (whichever dialed: neither was given the other's address). */
  discovery: { ms: number }
  /** From the appends' start to every peer holding every event. */
  replication: { events: number; ms: number; perSecond: number }
  /** Live push: from the append on peer 1 to the event indexed on peer 2, and on peer 3. */
  latency: { peer2: Latency; peer3: Latency }
  /** `hex`: the proof itself, which anyone can check against `root` (`xaeroflux verify`). */
  proof: { eventId: string; author: string; writtenBy: string; checkedBy: string; hex: string; bytes: number; root: string; valid: boolean; validOnWriter: boolean }
}

export type OnProgress = (stage: string, done: number, total: number) => void

/** Runs the scenario; on any failure or interruption its peers are killed before it rejects. */
export async function runNetworkDemo(perPeer: number, dir: string, signal: AbortSignal, onProgress: OnProgress): Promise<NetworkFigures> {
  const peers: DemoPeer[] = []
  let done = false
  try {
    const start = async (name: string, bootstrap: string[]) => {
      const peer = await DemoPeer.start({ name, path: join(dir, name.replace(' ', '')), group: GROUP, bootstrap }, signal)
      peers.push(peer)
      return peer
    }
    onProgress('starting three peers', 0, 3)
    const p1 = await start('peer 1', [])
    onProgress('starting three peers', 1, 3)
    const p2 = await start('peer 2', [p1.addr])
    onProgress('starting three peers', 2, 3)
    const p3 = await start('peer 3', [p2.addr])

    // Discovery: peer 3 was given peer 2's address only.
    onProgress('peer 3 looks for peer 1 in the group\'s DHT', 0, 1)
    const found = await bounded(p3.event((e) => e.event === 'peer:connect' && e.peer === p1.peerId), 30_000, 'peer 3 to find peer 1 through the DHT', signal)
    const discovery = { ms: (found.at as number) - p3.readyAt }
    await poll(async () => (await Promise.all(peers.map((p) => p.ask<{ peers: string[] }>('progress')))).every((s) => s.peers.length === 2),
      10_000, 'every peer to connect to the two others', signal)

    // Concurrent appends; live push and syncs carry them to the others.
    const total = 3 * perPeer
    onProgress('appending and replicating', 0, 3 * total)
    const started = performance.now()
    const appends = peers.map((p) => p.ask<{ ms: number; sample: string }>('append', { n: perPeer }, 60_000 + 20 * perPeer))
    appends.forEach((a) => a.catch(() => {})) // awaited below; a failure meanwhile must not go unhandled
    await poll(async () => {
      const counts = await Promise.all(peers.map((p) => p.ask<{ count: number }>('progress')))
      const held = counts.reduce((n, c) => n + c.count, 0)
      onProgress('appending and replicating', held, 3 * total)
      return counts.every((c) => c.count === total)
    }, 60_000 + 20 * perPeer, `every peer to hold ${total} events`, signal)
    const replicationMs = performance.now() - started
    const appended = await Promise.all(appends)

    // Live push: one event at a time from peer 1, timed to its arrival on peers 2 and 3.
    const lat2: number[] = [], lat3: number[] = []
    for (let i = 0; i < PROBES; i++) {
      onProgress('timing live push', i, PROBES)
      const probe = await p1.ask<{ eventId: string; at: number }>('probe')
      const seen = (p: DemoPeer) => p.event((e: PeerEvent) => e.event === 'seen' && e.id === probe.eventId)
      const [s2, s3] = await bounded(Promise.all([seen(p2), seen(p3)]), 10_000, 'a pushed event to reach peers 2 and 3', signal)
      lat2.push((s2.at as number) - probe.at)
      lat3.push((s3.at as number) - probe.at)
      await pause(PROBE_GAP_MS, signal)
    }
    // Every peer has indexed every probe (seen): the final state holds them all.
    const states = await Promise.all(peers.map((p) => p.ask<{ count: number; root: string }>('state')))

    // A proof by a peer that did not write the event, checked against that peer's root.
    onProgress('peer 3 proves an event of peer 1', 0, 1)
    const eventId = appended[0].sample
    const proven = await p3.ask<{ proof: string; root: string; author: string }>('prove', { eventId })
    const proofBytes = fromHex(proven.proof)
    const writerRoot = states[0].root

    const stats = await Promise.all(peers.map((p) => p.ask<{ wire: PeerFigures['wire']; syncs: PeerFigures['syncs']; received: PeerFigures['received'] }>('stats')))
    onProgress('closing the peers', 0, 1)
    await Promise.all(peers.map((p) => p.close()))
    done = true
    return {
      perPeer,
      probes: PROBES,
      peers: peers.map((p, i) => ({
        name: p.name, peerId: p.peerId, author: p.author, wrote: perPeer + (p === p1 ? PROBES : 0), count: states[i].count, root: states[i].root,
        appendMs: appended[i].ms, wire: { sent: stats[i].wire.sent, received: stats[i].wire.received, connections: stats[i].wire.connections },
        syncs: stats[i].syncs, received: stats[i].received,
      })),
      rootsEqual: states.every((s) => s.root === states[0].root),
      root: states[0].root,
      discovery,
      replication: { events: total, ms: replicationMs, perSecond: total / (replicationMs / 1000) },
      latency: { peer2: summary(lat2), peer3: summary(lat3) },
      proof: {
        eventId, author: proven.author, writtenBy: p1.name, checkedBy: p3.name, hex: proven.proof, bytes: proofBytes.length, root: proven.root,
        valid: verifyProof(proofBytes, proven.root), validOnWriter: verifyProof(proofBytes, writerRoot),
      },
    }
  } finally {
    if (!done) for (const p of peers) p.kill()
    // Returns only once every process is gone: nothing of the demo outlives it.
    await Promise.all(peers.map((p) => p.gone()))
  }
}

/** Calls `check` every POLL_MS until it returns true; E_DEMO_FAILED after `ms`. */
async function poll(check: () => Promise<boolean>, ms: number, what: string, signal: AbortSignal): Promise<void> {
  const deadline = performance.now() + ms
  while (!(await check())) {
    if (performance.now() > deadline) throw new CliError('E_DEMO_FAILED', `${what}: not after ${(ms / 1000).toFixed(0)} s`)
    await pause(POLL_MS, signal)
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(interrupted())
  return new Promise((resolve, reject) => {
    const onAbort = () => { clearTimeout(timer); reject(interrupted()) }
    const timer = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve() }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

function summary(ms: number[]): Latency {
  const sorted = ms.slice().sort((a, b) => a - b)
  const mid = sorted.length >> 1
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
  return { probes: sorted.length, medianMs: median, minMs: sorted[0], maxMs: sorted[sorted.length - 1], samplesMs: ms.map((x) => Math.round(x * 10) / 10) }
}
