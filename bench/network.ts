// The network figures, each beside Hypercore 11's in the same run: every peer is a process of its
// own (bench/network-peer.ts) on 127.0.0.1 over TCP; ours on libp2p (Noise, Yamux), Hypercore's
// replication stream piped to a plain net.Socket (it encrypts with Noise too).
//   1. full sync: N events of 200-byte payloads to an empty peer (`syncWith`), beside the receiving
//      side's own `ingestMany` of the same envelopes (a fresh process ingesting the signed file);
//   2. catch-up: a peer holding N − 100 gets the 100 it missed, from the connection being up (the
//      median of 3, each reader a fresh process reopening its store);
//   3. live push: one event appended on A, to indexed on connected B, one at a time;
//   4. convergence: M peers each append 1 000 events at once, until every peer holds all of them;
//   5. each peer's peak RSS.
// NETBENCH_N=<events> overrides N, NETBENCH_MESH=<peers> M; NETBENCH_MESH_ONLY=<peers> runs the convergence alone
// (with NETBENCH_MESH_OURS=1, without Hypercore's);
// NETBENCH_LATENCY_ONLY=<repetitions> the catch-up and live push alone, repeated; NETBENCH_DEBUG=1
// prints progress and lost sessions on stderr.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { defaultWorkers } from '../src/store/options.js'
import { signToFile } from './store.js'
import { inChild, median, round, target } from './util.js'
import { Peer, STALL_MS, latency, rate, sleep, syncAndWait, until, within, type Answer } from './network-driver.js'

const ENVELOPE = 344
const BLOCK = 200
const MISSED = 100
/** Catch-ups timed on each side, each on a fresh reader; the figure is their median. */
const CATCH_UPS = 3
const PROBES = 60
/** Between probes: each is pushed on its own. */
const PROBE_GAP_MS = 20
const PER_PEER = 1000
const progress = (what: string) => process.stderr.write(`bench: network: ${what}\n`)

/**
 * PROBES appends on `from`, one at a time, each timed until `to` reports it (ms): ours, one event
 * until B's subscription has it; Hypercore's, a block appended by the writer until the live reader has it.
 */
async function probe(from: Peer, to: Peer, system: 'ours' | 'hypercore'): Promise<number[]> {
  if (system === 'hypercore') await to.ask('hcLive')
  const ms: number[] = []
  for (let i = 0; i < PROBES; i++) {
    const sent = await from.ask(system === 'ours' ? 'probe' : 'hcProbe')
    const seen = await within(to.event((e) => e.event === 'seen' && (system === 'ours' ? e.id === sent.eventId : e.index === sent.index)), 10_000, 'a pushed event')
    ms.push(seen.at - sent.at)
    await sleep(PROBE_GAP_MS)
  }
  return ms
}

/**
 * The live push again at Hypercore's durability: A's and B's stores (`paths`) reopened in fresh
 * processes with durability 'none' (an append resolves once written to the OS: it survives a
 * process crash, not a power cut). Hypercore 11.39.5 does not fsync on append (strace: 500
 * appends, no fsync or fdatasync beyond those of open and close); the default figure, with
 * 'batch', fsyncs on both sides. Returns the processes, still running.
 */
async function reopenedAtHypercoreDurability(start: (name: string) => Promise<Peer>, paths: { a: string; b: string }) {
  const a = await start('xf A (durability none)')
  const aOpen = await a.ask('open', { path: paths.a, group: 'bench', durability: 'none' })
  const b = await start('xf B (durability none)')
  await b.ask('open', { path: paths.b, group: 'bench', durability: 'none' })
  await b.ask('syncWith', { addr: aOpen.addrs[0] })
  return { a, b }
}

/** M peers each append PER_PEER events at once, until every peer holds all of them; Hypercore: M cores, every peer reading every core. */
async function convergence(start: (name: string) => Promise<Peer>, dir: string, mesh: number, withHypercore = true) {
  const total = mesh * PER_PEER
  progress(`xaeroflux: ${mesh} peers each append ${PER_PEER}`)
  const xs: Peer[] = []
  let first = ''
  for (let i = 0; i < mesh; i++) {
    const p = await start(`xf mesh ${i}`)
    // Each bootstraps from the first; the group's DHT finds the others.
    const o = await p.ask('open', { path: join(dir, `xf-m${i}`), group: 'bench-mesh', bootstrap: first ? [first] : [] })
    first ||= o.addrs[0]
    xs.push(p)
  }
  await until(async () => (await Promise.all(xs.map((p) => p.ask('progress')))).every((s) => s.peers >= 1), 60_000, 'every mesh peer to have a session', 200)
  const before = await Promise.all(xs.map((p) => p.ask('stats')))
  const t0 = performance.timeOrigin + performance.now()
  const appends = xs.map((p) => p.ask('append', { n: PER_PEER }))
  // Until every peer holds every event, or nothing has moved for STALL_MS (then `completed` is false).
  let polls = 0, heldSum = -1, movedAt = t0, meshHeld = 0, meshCompleted = false
  const tHeld = await until(async () => {
    const counts = (await Promise.all(xs.map((p) => p.ask('progress')))).map((s) => s.count as number)
    const sum = counts.reduce((a, b) => a + b, 0)
    const at = performance.timeOrigin + performance.now()
    if (sum !== heldSum) { heldSum = sum; movedAt = at }
    meshHeld = sum
    if (process.env.NETBENCH_DEBUG && ++polls % 25 === 0) progress(`mesh holds ${sum} of ${mesh * total}`)
    meshCompleted = counts.every((c) => c === total)
    return meshCompleted || at - movedAt > STALL_MS
  }, 1_800_000, `every mesh peer to hold ${total}`, 200)
  let roots: string[] = []
  const t1 = meshCompleted ? await until(async () => {
    roots = (await Promise.all(xs.map((p) => p.ask('state')))).map((s) => s.root)
    return roots.every((r) => r === roots[0])
  }, 60_000, 'the roots to be equal', 200) : movedAt
  const appendMs = (await Promise.all(appends)).map((a) => a.ms)
  const after = await Promise.all(xs.map((p) => p.ask('stats')))
  const peersOf = (await Promise.all(xs.map((p) => p.ask('progress')))).map((s) => s.peers)
  const oursBytes = after.map((s, i) => s.wire.received - before[i].wire.received)
  const oursMesh = {
    peers: mesh, eventsPerPeer: PER_PEER, completed: meshCompleted, held: meshHeld, ms: round(t1 - t0), msAllHeld: round((meshCompleted ? tHeld : movedAt) - t0), sessionsPerPeer: peersOf,
    sessionsLost: xs.reduce((k, p) => k + p.disconnects.length, 0), sessionsLostReasons: [...new Set(xs.flatMap((p) => p.disconnects.map((d) => d.code)))],
    syncsRun: after.reduce((n, s, i) => n + s.syncs.local - before[i].syncs.local, 0),
    appendMsMedian: round(median(appendMs)),
    bytesReceivedPerEvent: round(median(oursBytes) / (total - PER_PEER)), bytesReceivedPerEventMax: round(Math.max(...oursBytes) / (total - PER_PEER)),
    rssMB: { median: median(after.map((s) => s.rssMB)), max: Math.max(...after.map((s) => s.rssMB)) },
  }
  await Promise.all(xs.map((p) => p.close()))
  if (!withHypercore) return { ours: oursMesh }

  progress(`hypercore: ${mesh} peers each append ${PER_PEER} blocks to their own core, every peer reading every core`)
  const hs: Peer[] = []
  const opened: Answer[] = []
  for (let i = 0; i < mesh; i++) {
    const p = await start(`hc mesh ${i}`)
    opened.push(await p.ask('hcOpen', { dir: join(dir, `hc-m${i}`) }))
    hs.push(p)
  }
  const keys = opened.map((o) => o.key), ports = opened.map((o) => o.port)
  await Promise.all(hs.map((p, self) => p.ask('hcMeshReaders', { keys, self })))
  await Promise.all(hs.map((p, self) => p.ask('hcMeshDial', { ports, self })))
  const hBefore = await Promise.all(hs.map((p) => p.ask('hcStats')))
  const h0 = performance.timeOrigin + performance.now()
  await Promise.all(hs.map((p) => p.ask('hcAppend', { n: PER_PEER })))
  const h1 = await until(async () => (await Promise.all(hs.map((p) => p.ask('hcProgress')))).every((s) => s.total === total), 600_000, `every Hypercore mesh peer to hold ${total}`, 200)
  const hAfter = await Promise.all(hs.map((p) => p.ask('hcStats')))
  const hcBytes = hAfter.map((s, i) => s.wire.received - hBefore[i].wire.received)
  const hcMesh = {
    peers: mesh, blocksPerPeer: PER_PEER, ms: round(h1 - h0), connectionsPerPeer: mesh - 1,
    bytesReceivedPerBlock: round(median(hcBytes) / (total - PER_PEER)), bytesReceivedPerBlockMax: round(Math.max(...hcBytes) / (total - PER_PEER)),
    rssMB: { median: median(hAfter.map((s) => s.rssMB)), max: Math.max(...hAfter.map((s) => s.rssMB)) },
  }
  await Promise.all(hs.map((p) => p.close()))

  return { ours: oursMesh, hypercore: hcMesh }
}

/**
 * The catch-up's reader, on each side: a peer that holds the first N − 100 events and comes back
 * online. An earlier process got them (ours: ingested from the file; Hypercore: downloaded from
 * the writer, before it appended the last 100) and closed; a fresh process opens the store, as
 * an app restarted after being offline would, and is returned before it connects. Both readers
 * thus start from a settled store and code not yet run in their process.
 */
async function returningReader(start: (name: string) => Promise<Peer>, name: string, path: string, file: string, n: number): Promise<Peer> {
  const before = await start(`${name} (before)`)
  await before.ask('open', { path, group: 'bench', file, count: n - MISSED })
  await before.close()
  const reader = await start(name)
  await reader.ask('open', { path, group: 'bench' })
  return reader
}

/** Hypercore's: downloads all the writer on `port` holds now, closes, and reopens in a fresh process. */
async function hcReturningReader(start: (name: string) => Promise<Peer>, name: string, dir: string, key: string, port: number): Promise<Peer> {
  const before = await start(`${name} (before)`)
  await before.ask('hcOpen', { dir, key })
  const got = await before.ask('hcSync', { port })
  await before.close()
  if (got.contiguousLength !== got.length) throw new Error(`network bench: the Hypercore reader downloaded ${got.contiguousLength} of ${got.length} blocks`)
  const reader = await start(name)
  await reader.ask('hcOpen', { dir, key })
  return reader
}

interface CatchUp { msFromConnect: number; msFromCall: number; [figure: string]: unknown }

/** `reps` catch-ups of ours from A (at `addr`), each on a fresh returning reader; the last reader is left running. */
async function oursCatchUps(start: (name: string) => Promise<Peer>, dir: string, addr: string, file: string, n: number, reps: number) {
  const runs: CatchUp[] = []
  let reader: Peer | undefined
  for (let r = 0; r < reps; r++) {
    progress(`xaeroflux: a peer holding ${n - MISSED} catches up (${r + 1} of ${reps})`)
    await reader?.close()
    reader = await returningReader(start, `xf B2.${r}`, join(dir, `xf-b2.${r}`), file, n)
    const calledAt = performance.timeOrigin + performance.now()
    const caught = await syncAndWait(reader, addr, MISSED)
    const sync = caught.sync ?? { startAt: calledAt, endAt: 0, failures: ['syncWith had not returned'] }
    if (!caught.completed) throw new Error(`network bench: the catch-up did not complete (${caught.held} held)`)
    const stats = await reader.ask('stats')
    const end = Math.max(caught.at, sync.endAt)
    runs.push({ events: MISSED, msFromConnect: round(end - stats.connectedAt), msFromCall: round(end - sync.startAt),
      syncWith: sync.result, syncWithFailures: sync.failures, wireReceived: stats.wire.received, wireSent: stats.wire.sent })
    progress(`xaeroflux catch-up ${runs[r].msFromConnect} ms from connect (${runs[r].msFromCall} from the call)`)
  }
  return { runs, reader: reader!, path: join(dir, `xf-b2.${reps - 1}`) }
}

/**
 * Hypercore's: `reps` fresh returning readers in turn, each downloading all the writer `w` holds,
 * then catching up on the 100 blocks it appends meanwhile; the last reader is left running.
 */
async function hcCatchUps(start: (name: string) => Promise<Peer>, dir: string, w: Peer, writer: Answer, reps: number) {
  const runs: CatchUp[] = []
  let reader: Peer | undefined
  for (let r = 0; r < reps; r++) {
    progress(`hypercore: a reader holding all but ${MISSED} blocks catches up (${r + 1} of ${reps})`)
    await reader?.close()
    reader = await hcReturningReader(start, `hc R2.${r}`, join(dir, `hc-r2.${r}`), writer.key, writer.port)
    await w.ask('hcAppend', { n: MISSED })
    const h = await reader.ask('hcSync', { port: writer.port })
    if (h.contiguousLength - h.before !== MISSED || h.contiguousLength !== h.length) throw new Error(`network bench: the Hypercore reader caught up from ${h.before} to ${h.contiguousLength} of ${h.length}`)
    runs.push({ blocks: MISSED, msFromConnect: round(h.endAt - h.connectedAt), msFromCall: round(h.endAt - h.startAt) })
    progress(`hypercore catch-up ${runs[r].msFromConnect} ms from connect`)
  }
  return { runs, reader: reader! }
}

const medianOf = (runs: CatchUp[]) => round(median(runs.map((c) => c.msFromConnect)))

/**
 * The two latencies alone, `reps` times each side by side (NETBENCH_LATENCY_ONLY=<reps>): a fresh
 * peer holding N − 100 catches up from A (Hypercore: a fresh reader of N − 100 blocks from the
 * writer, which then appends 100), then the live push probes on the last pair. For work on
 * docs/dev/latency.md; the full run times CATCH_UPS of each.
 */
async function latencyOnly(start: (name: string) => Promise<Peer>, dir: string, n: number, reps: number) {
  const file = join(dir, 'events.bin')
  progress(`signing ${n} events into a file`)
  await signToFile(n, file)
  const a = await start('xf A')
  const aOpen = await a.ask('open', { path: join(dir, 'xf-a'), group: 'bench', file, count: n })
  const ours = await oursCatchUps(start, dir, aOpen.addrs[0], file, n, reps)
  const oursLat = await probe(a, ours.reader, 'ours')
  await Promise.all([a.close(), ours.reader.close()])
  const relaxed = await reopenedAtHypercoreDurability(start, { a: join(dir, 'xf-a'), b: ours.path })
  const oursRelaxedLat = await probe(relaxed.a, relaxed.b, 'ours')
  await Promise.all([relaxed.a.close(), relaxed.b.close()])

  const w = await start('hc writer')
  const wOpen = await w.ask('hcOpen', { dir: join(dir, 'hc-w'), n: n - MISSED })
  const hc = await hcCatchUps(start, dir, w, wOpen, reps)
  const hcLat = await probe(w, hc.reader, 'hypercore')
  await Promise.all([w.close(), hc.reader.close()])
  const results = {
    n,
    catchUp: { ours: ours.runs, hypercore: hc.runs, oursMedianMs: medianOf(ours.runs), hypercoreMedianMs: medianOf(hc.runs) },
    livePush: { ours: latency(oursLat), oursDurabilityNone: latency(oursRelaxedLat), hypercore: latency(hcLat) },
  }
  progress(`catch-up median ${results.catchUp.oursMedianMs} ms (Hypercore ${results.catchUp.hypercoreMedianMs}); live push median ${results.livePush.ours.medianMs} ms, p99 ${results.livePush.ours.p99Ms} ` +
    `(durability none: ${results.livePush.oursDurabilityNone.medianMs} / ${results.livePush.oursDurabilityNone.p99Ms}; Hypercore ${results.livePush.hypercore.medianMs} / ${results.livePush.hypercore.p99Ms})`)
  return { results, targets: {} }
}

export async function networkBench(options: { quick?: boolean } = {}) {
  const n = Number(process.env.NETBENCH_N) || (options.quick ? 20_000 : 200_000)
  const mesh = Number(process.env.NETBENCH_MESH) || (options.quick ? 6 : 20)
  const dir = mkdtempSync(join(tmpdir(), 'xaeroflux-netbench-'))
  const peers: Peer[] = []
  const start = async (name: string) => { const p = await Peer.start(name); peers.push(p); return p }
  try {
    // For work on convergence alone: NETBENCH_MESH_ONLY=<peers>.
    const meshOnly = Number(process.env.NETBENCH_MESH_ONLY)
    if (meshOnly > 0) return { results: { convergence: await convergence(start, dir, meshOnly, !process.env.NETBENCH_MESH_OURS) }, targets: {} }
    // For work on the catch-up and live push latencies alone: NETBENCH_LATENCY_ONLY=<repetitions>.
    const latencyReps = Number(process.env.NETBENCH_LATENCY_ONLY)
    if (latencyReps > 0) return await latencyOnly(start, dir, n, latencyReps)
    const file = join(dir, 'events.bin')
    progress(`signing ${n} events into a file`)
    await signToFile(n, file)
    // The receiving peers' own ingest, in a fresh process, with the store's default workers.
    const workers = defaultWorkers()
    const ingestRun = async () => (await inChild<{ rate: number }>('--store-run', JSON.stringify({ phase: 'ingest', workers, file }))).rate
    progress('ingestMany of the same envelopes (own process)')
    const ingestRates = [await ingestRun()]

    // --- ours: full sync, catch-up, live push ---
    progress(`xaeroflux: a peer holding ${n} events, an empty one syncs them`)
    const a = await start('xf A')
    const aOpen = await a.ask('open', { path: join(dir, 'xf-a'), group: 'bench', file, count: n })
    const b1 = await start('xf B1')
    await b1.ask('open', { path: join(dir, 'xf-b1'), group: 'bench' })
    const startAt = performance.timeOrigin + performance.now()
    const full = await syncAndWait(b1, aOpen.addrs[0], n)
    const sync = full.sync ?? { startAt, endAt: 0, failures: ['syncWith had not returned'] }
    const aState = await a.ask('state')
    if (full.completed && full.held === n && (await b1.ask('state')).root !== aState.root) throw new Error('network bench: B1 holds every event but its root differs from A\'s')
    const b1Stats = await b1.ask('stats')
    await b1.close()
    const endAt = Math.max(full.at, sync.endAt ?? 0)
    const oursFull = {
      events: n, completed: full.completed, held: full.held,
      msFromCall: round(endAt - startAt), msFromConnect: round(endAt - b1Stats.connectedAt),
      syncWith: sync.result, syncWithMs: sync.endAt ? round(sync.endAt - sync.startAt) : null, syncWithFailures: sync.failures,
      sessionsLost: b1.disconnects.map((d) => `${d.code}: ${d.message}`), holderSessionsLost: a.disconnects.map((d) => `${d.code}: ${d.message}`),
      wireReceived: b1Stats.wire.received, wireSent: b1Stats.wire.sent, syncs: b1Stats.syncs,
      /** Bytes received on the wire per byte of the envelopes received. */
      wirePerEnvelopeByte: round(b1Stats.wire.received / (full.held * ENVELOPE)),
    }
    // Events stored per second, over the time they took to arrive (until the sync was cut off, if it was).
    const oursFullRate = rate(full.held, oursFull.msFromCall)

    // Each catch-up on a fresh reader, CATCH_UPS times: one catch-up is ~70 ms, and one alone moved by 10–20 ms between runs.
    const oursCatch = await oursCatchUps(start, dir, aOpen.addrs[0], file, n, CATCH_UPS)

    progress(`xaeroflux: live push, ${PROBES} probes`)
    const oursLat = await probe(a, oursCatch.reader, 'ours')
    const oursRss = { holder: (await a.ask('stats')).rssMB, emptyReceiver: b1Stats.rssMB, catchUpAndLive: (await oursCatch.reader.ask('stats')).rssMB }
    await Promise.all([a.close(), oursCatch.reader.close()])
    progress(`xaeroflux: live push at Hypercore's durability, ${PROBES} probes`)
    const relaxed = await reopenedAtHypercoreDurability(start, { a: join(dir, 'xf-a'), b: oursCatch.path })
    const oursRelaxedLat = await probe(relaxed.a, relaxed.b, 'ours')
    await Promise.all([relaxed.a.close(), relaxed.b.close()])

    // --- Hypercore: the same three ---
    progress(`hypercore: a writer of ${n} blocks, an empty reader downloads them`)
    const w = await start('hc writer')
    const wOpen = await w.ask('hcOpen', { dir: join(dir, 'hc-w'), n })
    const r1 = await start('hc R1')
    await r1.ask('hcOpen', { dir: join(dir, 'hc-r1'), key: wOpen.key })
    const hFull = await r1.ask('hcSync', { port: wOpen.port })
    if (hFull.contiguousLength !== n) throw new Error(`network bench: the Hypercore reader holds ${hFull.contiguousLength} blocks, not ${n}`)
    const r1Stats = await r1.ask('hcStats')
    await r1.close()
    const hcFullRes = { blocks: n, msFromCall: round(hFull.endAt - hFull.startAt), msFromConnect: round(hFull.endAt - hFull.connectedAt), wireReceived: r1Stats.wire.received, wireSent: r1Stats.wire.sent,
      wirePerBlockByte: round(r1Stats.wire.received / (n * BLOCK)) }
    const hcFullRate = rate(n, hcFullRes.msFromCall)

    // Each catch-up reader downloads all the writer holds (N, then N + 100 …), and gets the 100 it appends meanwhile.
    const hcCatch = await hcCatchUps(start, dir, w, wOpen, CATCH_UPS)

    progress(`hypercore: live, ${PROBES} probes`)
    const hcLat = await probe(w, hcCatch.reader, 'hypercore')
    const hcRss = { holder: (await w.ask('hcStats')).rssMB, emptyReceiver: r1Stats.rssMB, catchUpAndLive: (await hcCatch.reader.ask('hcStats')).rssMB }
    await Promise.all([w.close(), hcCatch.reader.close()])

    progress('ingestMany of the same envelopes again (own process)')
    ingestRates.push(await ingestRun())
    const ingestRate = Math.round(Math.max(...ingestRates))

    const { ours: oursMesh, hypercore: hcMesh } = await convergence(start, dir, mesh) as Required<Awaited<ReturnType<typeof convergence>>>

    const results = {
      n, envelopeBytes: ENVELOPE, blockBytes: BLOCK,
      fullSync: {
        oursEventsPerSec: oursFullRate, hypercoreBlocksPerSec: hcFullRate, ownIngestManyEventsPerSec: ingestRate, ingestManyRuns: ingestRates.map(Math.round),
        ours: oursFull, hypercore: hcFullRes,
      },
      catchUp: { oursMs: medianOf(oursCatch.runs), hypercoreMs: medianOf(hcCatch.runs), ours: oursCatch.runs, hypercore: hcCatch.runs },
      livePush: { ours: latency(oursLat), oursDurabilityNone: latency(oursRelaxedLat), hypercore: latency(hcLat) },
      convergence: { ours: oursMesh, hypercore: hcMesh },
      peakRssMB: { ours: oursRss, hypercore: hcRss },
    }
    const targets = {
      fullSyncVsHypercore: target(oursFullRate / hcFullRate, 3, 'network.fullSync: oursEventsPerSec / hypercoreBlocksPerSec'),
      fullSyncVsOwnIngest: target(oursFullRate / ingestRate, 0.7, 'network.fullSync: oursEventsPerSec / ownIngestManyEventsPerSec (the faster of its runs)'),
      catchUpVsHypercore: target(medianOf(hcCatch.runs) / medianOf(oursCatch.runs), 1, 'network.catchUp: hypercoreMs / oursMs (medians)'),
      livePushVsHypercore: target(results.livePush.hypercore.medianMs / results.livePush.ours.medianMs, 1, 'network.livePush: hypercore.medianMs / ours.medianMs (durability batch)'),
      livePushAtEqualDurability: target(results.livePush.hypercore.medianMs / results.livePush.oursDurabilityNone.medianMs, 1, 'network.livePush: hypercore.medianMs / oursDurabilityNone.medianMs'),
    }
    progress(`full sync ${oursFull.completed ? '' : `cut off at ${full.held}, `}${oursFullRate} events/s (Hypercore ${hcFullRate} blocks/s, own ingestMany ${ingestRate}/s); ` +
      `catch-up median ${medianOf(oursCatch.runs)} ms (Hypercore ${medianOf(hcCatch.runs)} ms); live push median ${results.livePush.ours.medianMs} ms, p99 ${results.livePush.ours.p99Ms} ms ` +
      `(durability none ${results.livePush.oursDurabilityNone.medianMs} / ${results.livePush.oursDurabilityNone.p99Ms} ms; Hypercore ${results.livePush.hypercore.medianMs} / ${results.livePush.hypercore.p99Ms} ms); ${mesh} peers converge in ${oursMesh.ms} ms ` +
      `(Hypercore ${hcMesh.ms} ms), ${oursMesh.bytesReceivedPerEvent} bytes received per ${ENVELOPE}-byte event (Hypercore ${hcMesh.bytesReceivedPerBlock} per ${BLOCK}-byte block)`)
    return { results, targets }
  } catch (e) {
    // Printed now: a peer's answer arriving after the clean-up below could end the process first.
    progress(`failed: ${(e as Error).stack ?? e}`)
    throw e
  } finally {
    for (const p of peers) p.kill()
    await Promise.all(peers.map((p) => p.exited))
    rmSync(dir, { recursive: true, force: true })
  }
}
