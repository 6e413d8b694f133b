// The sync protocol between peers (src/net/session.ts, docs/NETWORK.md "Sync protocol"), between
// real libp2p nodes in separate processes on 127.0.0.1 (test/fixtures/peer.ts), and against
// a hostile plain libp2p node in this process that writes raw frames. Every test runs under a
// watchdog and kills its processes at the end.
import './helpers/with-resolvers.js'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import type { Stream } from '@libp2p/interface'
import { Identity, Xaeroflux, decodeEvent, encodeEvent, fromHex, groupId } from '../src/index.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { groupNamespace } from '../src/net/namespace.js'
import { FrameReader, T, encodeEnvelopes, encodeFrame, type Frame } from '../src/net/frames.js'
import { PROTOCOL_VERSION, encodeHello, helloOf } from '../src/net/handshake.js'
import { DEFAULT_LIMITS } from '../src/net/limits.js'
import { PeerProcess } from './helpers/peer-process.js'
import { within } from './helpers/watchdog.js'

const START = 1_700_000_000_000
const figures: Record<string, unknown> = {}

async function withPeers<T>(configs: object[], fn: (peers: PeerProcess[]) => Promise<T>): Promise<T> {
  const peers = configs.map((c) => new PeerProcess(c))
  try {
    await within(Promise.all(peers.map((p) => p.ready())), 'the peer processes start', 30_000)
    return await fn(peers)
  } finally {
    await Promise.all(peers.map((p) => p.kill()))
  }
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]

test('two processes with 5 000 and 5 000 events (2 000 shared) converge in one sync, both ways', () => within(withPeers([{ group: 'net1', push: false }, { group: 'net1', push: false }], async ([a, b]) => {
  await a.call('gen', { n: 2000, seed: 'common', start: START })
  await b.call('gen', { n: 2000, seed: 'common', start: START })
  await a.call('gen', { n: 3000, seed: 'only-a', start: START + 1 })
  await b.call('gen', { n: 3000, seed: 'only-b', start: START + 3 })
  const before = [await a.call('root'), await b.call('root')]
  assert.is.not(before[0].root, before[1].root)
  await b.call('dial', { addr: a.addrs[0] })
  const { result } = await b.call('sync', {}, 60_000)
  const [ra, rb] = [await a.call('root'), await b.call('root')]
  assert.is(ra.count, 8000)
  assert.is(rb.count, 8000)
  assert.is(ra.root, rb.root)
  assert.is(result.eventsSent, 3000, 'B sent what A lacked')
  assert.is(result.eventsReceived, 3000, 'B received what it lacked')
  assert.ok(result.rounds >= 1 && result.bytesSent > 3000 * 144 && result.bytesReceived > 3000 * 144)
  // The side that served it reports the mirror figures.
  const served = await a.waitFor((e) => e.event === 'sync' && e.initiator === 'remote', 5000, 'sync served')
  assert.is(served.result.eventsSent, 3000)
  assert.is(served.result.eventsReceived, 3000)
  assert.is(served.result.bytesReceived, result.bytesSent)
  assert.is(served.result.bytesSent, result.bytesReceived)
  // A second sync finds nothing to move.
  const again = (await b.call('sync')).result
  assert.is(again.eventsSent + again.eventsReceived, 0)
  // Syncs started by both sides at once share the stream (request ids of each side's parity).
  await a.call('gen', { n: 500, seed: 'later-a', start: START + 5 })
  await b.call('gen', { n: 500, seed: 'later-b', start: START + 6 })
  const both = await Promise.all([a.call('sync', {}, 60_000), b.call('sync', {}, 60_000), b.call('sync', { from: START, to: START + 1000 }, 60_000)])
  const [ca, cb] = [await a.call('root'), await b.call('root')]
  assert.is(ca.count, 9000)
  assert.is(cb.count, 9000)
  assert.is(ca.root, cb.root)
  // Each of B's 500 new events reached A through one of the three syncs (concurrent ones may carry the same event twice).
  assert.ok(both[0].result.eventsReceived + both[1].result.eventsSent + both[2].result.eventsSent >= 500)
  assert.ok(both[0].result.eventsSent + both[1].result.eventsReceived + both[2].result.eventsReceived >= 500)
  figures.concurrent = both.map((r) => ({ ms: Math.round(r.result.ms), sent: r.result.eventsSent, received: r.result.eventsReceived }))
  figures.sync5k = { ms: Math.round(result.ms), rounds: result.rounds, bytesSent: result.bytesSent, bytesReceived: result.bytesReceived, again: Math.round(again.ms) }
}), 'test 1', 80_000))

// Short against the sync's length (7-8 s), long enough for a machine busy with other tests: 500 ms
// was tripped once by a pause of the peer while the suite ran in two shards, and 1 500 ms once on
// Node 24 in a fresh-clone run (2026-12-07: A cut the stream, B validating on its thread).
const IDLE = 2500
/** A's idle limit in test 5: the idle cut-offs it checks take this long. */
const HOSTILE_IDLE = 3000
/** A's busy limit there: how long a peer that says it is at work (PROGRESS) may keep A's sync waiting. */
const HOSTILE_BUSY = 6000

test('a far-behind peer (100 000 events vs 0) catches up in one sync under a short idle limit, and past its own syncBytes', () => within(withPeers(
  // B's syncBytes (1 MiB) is far below the ~35 MB it fetches: it bounds what a peer sends in the
  // peer's syncs, not what B asked for in its own. 100 000 events, so that the sync lasts several
  // idle limits (50 000 took 4.3 s once libsodium verified them, under 2 limits of 2.5 s).
  [{ group: 'net2', limits: { idleMs: IDLE } }, { group: 'net2', limits: { idleMs: IDLE, syncBytes: 1 << 20 } }], async ([a, b]) => {
    const n = 100_000
    await a.call('gen', { n, seed: 'far', start: START }, 120_000)
    await b.call('dial', { addr: a.addrs[0] })
    const { result, wall } = await b.call('sync', {}, 120_000)
    const [ra, rb] = [await a.call('root'), await b.call('root')]
    assert.is(rb.count, n)
    assert.is(ra.root, rb.root)
    assert.is(result.eventsReceived, n)
    // The sync lasted several idle limits: the limit bounds idleness, not length.
    assert.ok(result.ms > 2 * IDLE, `the sync took ${result.ms} ms`)
    figures.catchUp = { events: n, ms: Math.round(result.ms), eventsPerSecond: Math.round(n / (result.ms / 1000)), rounds: result.rounds, bytesReceived: result.bytesReceived, wall: Math.round(wall) }
  }), 'test 2', 150_000))

test('a peer whose reconciliation steps and reads outlast the other\'s idle limit says it is at work (PROGRESS), and its syncs complete both ways', () => within(withPeers(
  // B's steps each take 2.5 s (a process starved of CPU): 2.5 of the idle limit both sides run
  // with; its reads of the events it gives, 1.5 s each. No pushes: nothing else of B's would reach A meanwhile.
  [{ group: 'net6', push: false, limits: { idleMs: 1000 } }, { group: 'net6', push: false, slowStepMs: 2500, slowReadMs: 1500, limits: { idleMs: 1000 } }], async ([a, b]) => {
    await a.call('gen', { n: 1000, seed: 'slow', start: START })
    await b.call('dial', { addr: a.addrs[0] })
    await within((async () => { while ((await a.call('sessions')).peers.length === 0) await new Promise((r) => setTimeout(r, 20)) })(), 'A to attach the session', 5000)
    const progressHeard = async (p: PeerProcess) => {
      const [session] = (await p.call('sessions')).peers as Array<{ open: boolean; stats: { byType: Record<number, number> } }>
      assert.ok(session.open, 'the session is kept')
      return session.stats.byType[T.PROGRESS] ?? 0
    }
    // A opens: B, the responder, is slow at its step, and also waits for A's WANTs beside it.
    const { result } = await a.call('sync', {}, 30_000)
    assert.is(result.eventsSent, 1000)
    assert.ok(result.ms > 2500, `the sync took ${result.ms} ms`)
    assert.is((await b.call('root')).root, (await a.call('root')).root)
    const heard = await progressHeard(a)
    assert.ok(heard >= 3, `A heard ${heard} PROGRESS frames`)
    // B opens: its opening step is slow too (B's clock on A starts when its SYNC is sent), then its
    // next step, then each read of the events it gives A (A waits for them: "waiting for events").
    await b.call('gen', { n: 500, seed: 'slow-b', start: START + 3 })
    const back = (await b.call('sync', {}, 30_000)).result
    assert.is(back.eventsSent, 500)
    assert.is((await b.call('root')).root, (await a.call('root')).root)
    const heardAgain = await progressHeard(a)
    assert.ok(heardAgain > heard, `A heard ${heardAgain - heard} PROGRESS frames in B's sync`)
    figures.slowSteps = { ms: Math.round(result.ms), progress: heard, back: Math.round(back.ms), progressBack: heardAgain - heard }
  }), 'slow steps', 60_000))

test('live push: appends on A reach B; a forced gap is reported and a sync repairs it', () => within(withPeers(
  [{ group: 'net3', limits: { pushQueue: 8 } }, { group: 'net3', autoRepair: true }], async ([a, b]) => {
    await a.call('gen', { n: 100, seed: 'base', start: START })
    await b.call('gen', { n: 100, seed: 'base', start: START })
    await b.call('dial', { addr: a.addrs[0] })
    await a.waitFor((e) => e.event === 'session', 5000, 'session')
    await b.call('subscribe')
    const n = 60
    const { times } = await a.call('live', { n, every: 20 }, 30_000)
    const arrived = new Map<string, number>()
    await within((async () => {
      while (arrived.size < n) {
        for (const e of b.events) if (e.event === 'indexed') arrived.set(e.eid, e.t)
        if (arrived.size < n) await new Promise((r) => setTimeout(r, 20))
      }
    })(), 'the pushed events reach B', 10_000)
    const latencies = times.map((x: { id: string; t: number }) => arrived.get(x.id)! - x.t).sort((x: number, y: number) => x - y)
    assert.ok(latencies.every((l: number) => l > 0 && Number.isFinite(l)))
    figures.pushLatency = { events: n, medianMs: +percentile(latencies, 50).toFixed(2), p99Ms: +percentile(latencies, 99).toFixed(2), maxMs: +latencies[latencies.length - 1].toFixed(2) }
    assert.is(b.events.filter((e) => e.event === 'gap').length, 0, 'no gap while the queue keeps up')

    // 300 events in one batch against a push queue of 8: most are dropped, the next PUSH skips a number.
    await a.call('burst', { n: 300 })
    const gap = await b.waitFor((e) => e.event === 'gap', 10_000, 'gap')
    assert.ok(gap.missed >= 1)
    await b.waitFor((e) => e.event === 'repaired', 20_000, 'repair sync')
    const [ra, rb] = [await a.call('root'), await b.call('root')]
    assert.is(ra.count, 100 + n + 300)
    assert.is(rb.count, ra.count)
    assert.is(rb.root, ra.root)
    const sessions = await a.call('sessions')
    assert.ok(sessions.peers[0].stats.pushDropped > 0)
    figures.gap = { dropped: sessions.peers[0].stats.pushDropped, repairedEvents: b.events.find((e) => e.event === 'repaired')!.result.eventsReceived }
  }), 'test 3', 60_000))

test('secret group: a peer without the key gets E_AUTH and learns nothing; the honest side closes the stream', () => within(withPeers(
  [{ group: 'net4', secret: 'a group secret of 32 characters!' }, { group: 'net4', secret: 'a group secret of 32 characters!', wrongKey: true },
    { group: 'net4', secret: 'another secret, 32 characters...' }, { group: 'net4', secret: 'a group secret of 32 characters!' }], async ([a, mallory, stranger, c]) => {
    await a.call('gen', { n: 500, seed: 'secret', start: START })
    const tried = await mallory.call('dial', { addr: a.addrs[0] })
    assert.is(tried.failed, 'E_AUTH', 'the impostor fails the proof')
    // All it received: HELLO (public: version, namespace, nonce, limits) and the honest side's AUTH (an HMAC bound to this stream).
    assert.ok(tried.types.every((t: number) => t === T.HELLO || t === T.AUTH || t === T.ERROR), `frames: ${tried.types}`)
    assert.is(tried.types.filter((t: number) => t === T.RECON || t === T.SYNC || t === T.EVENTS || t === T.PUSH).length, 0)
    assert.is((await mallory.call('root')).count, 0)
    const refused = await a.waitFor((e) => e.event === 'handshake-failed', 5000, 'handshake-failed')
    assert.is(refused.code, 'E_AUTH')
    assert.ok(['closed', 'aborted', 'reset'].includes(refused.streamStatus), `stream ${refused.streamStatus}`)
    // A peer with another secret is in another namespace: the protocol is not even negotiated.
    const negotiated = await stranger.call('dial', { addr: a.addrs[0] }).then(() => true, () => false)
    assert.is(negotiated, false)
    assert.is((await stranger.call('root')).count, 0)
    // The control: with the secret, the same dial syncs.
    const ok = await c.call('dial', { addr: a.addrs[0] })
    assert.ok(ok.peer)
    await c.call('sync')
    assert.is((await c.call('root')).count, 500)
    figures.auth = { impostorFrames: tried.types, handshakeMs: +ok.ms.toFixed(1) }
  }), 'test 4', 60_000))

// --- hostile frames ------------------------------------------------------------------------------

/** A plain libp2p node in this process that speaks raw frames. */
async function hostileNode(): Promise<Libp2p> {
  return createLibp2p({ addresses: { listen: [] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
}

/** Resolves once `frames` holds a frame of `type` (5 s at most). */
const frameSeen = (frames: Frame[], type: number, what: string) =>
  within((async () => { while (!frames.some((f) => f.type === type)) await new Promise((r) => setTimeout(r, 5)) })(), what, 5000)

/** A raw stream to `addr` on the group's protocol, past HELLO; collects what the honest side sends. */
async function rawSession(node: Libp2p, addr: string, ns: string, protocol: string, limits = { ...DEFAULT_LIMITS }): Promise<{ stream: Stream; frames: Frame[]; closed: Promise<number> }> {
  const stream = await node.dialProtocol(multiaddr(addr), protocol)
  const reader = new FrameReader(1 << 30), frames: Frame[] = []
  const t0 = performance.now()
  const closed = new Promise<number>((resolve) => stream.addEventListener('close', () => resolve(performance.now() - t0)))
  stream.addEventListener('message', (evt) => {
    reader.push(evt.data instanceof Uint8Array ? evt.data : evt.data.subarray())
    for (let f; (f = reader.next());) frames.push(f)
  })
  stream.send(encodeFrame(T.HELLO, 0, encodeHello(helloOf(limits, ns, false, new Uint8Array(32)))))
  await frameSeen(frames, T.HELLO, 'the honest HELLO')
  return { stream, frames, closed }
}

test('hostile frames are cut off with their codes in bounded time; the honest node still serves', () => within((async () => {
  const group = 'net5'
  const ns = groupNamespace(fromHex(groupId(group)))
  const node = await hostileNode()
  const mine = await Xaeroflux.open({ group, workers: 0 })
  try {
    // A's idle limit also bounds the honest B's syncs at the end: at 1.5 s, CI's load (two shards
    // on 2 cores) cut B's sync off with E_TIMEOUT in both Node runs of one .ci/run (2026-12-07).
    await withPeers([{ group, limits: { idleMs: HOSTILE_IDLE, busyMs: HOSTILE_BUSY, handshakeMs: 1000, syncBurst: 2 } }, { group }], async ([a, b]) => {
      await a.call('gen', { n: 5000, seed: 'h', start: START })
      const addr = a.addrs[0]
      const results: Record<string, { code: string; ms: number; errorFrame: boolean }> = {}
      let closes = 0
      const expectClose = async (label: string, code: string, start: number, s: { frames: Frame[]; closed: Promise<number> }) => {
        const ev = await a.waitFor((e) => e.event === 'close' && a.events.filter((x) => x.event === 'close').indexOf(e) === closes, 10_000, `close after ${label}`)
        closes++
        const ms = performance.now() - start
        assert.is(ev.code, code, `${label}: ${ev.message}`)
        await within(s.closed, `the stream of ${label} closes`, 5000)
        const error = s.frames.find((f) => f.type === T.ERROR)
        assert.ok(error && new TextDecoder().decode(error.body).startsWith(code), `${label}: the peer is told why`)
        results[label] = { code, ms: Math.round(ms), errorFrame: true }
      }

      // Garbage after the handshake: an unknown frame type.
      let s = await rawSession(node, addr, ns.ns, ns.sync)
      let t = performance.now()
      s.stream.send(Uint8Array.from([0, 0, 0, 9, 0xee, 1, 2, 3, 4, 5, 6, 7, 8]))
      await expectClose('garbage', 'E_PROTOCOL', t, s)

      // A frame announcing 64 MiB: refused from its header, before its body is buffered.
      s = await rawSession(node, addr, ns.ns, ns.sync)
      t = performance.now()
      const big = new Uint8Array(9 + 1024)
      new DataView(big.buffer).setUint32(0, 64 << 20)
      big[4] = T.PUSH
      s.stream.send(big)
      await expectClose('oversized frame', 'E_PEER_LIMIT', t, s)

      // A live push of events whose signatures are broken.
      s = await rawSession(node, addr, ns.ns, ns.sync)
      const forger = Identity.generate()
      const forged = Array.from({ length: 3 }, (_, i) => { const e = encodeEvent({ kind: 1, group: groupId(group), payload: `forged ${i}`, timestamp: Date.now() }, forger); e[e.length - 1] ^= 1; return e })
      t = performance.now()
      s.stream.send(encodeFrame(T.PUSH, 1, encodeEnvelopes(forged).body))
      await expectClose('bad signatures', 'E_BAD_EVENT', t, s)
      assert.is(a.events.filter((e) => e.event === 'close').at(-1)!.cause, 'E_BAD_SIGNATURE')

      // A push faster than the rate limit (a burst over 4 000 events in one frame).
      s = await rawSession(node, addr, ns.ns, ns.sync)
      const small = encodeEvent({ kind: 1, group: groupId(group), payload: '', timestamp: Date.now() }, forger)
      t = performance.now()
      s.stream.send(encodeFrame(T.PUSH, 1, encodeEnvelopes(Array.from({ length: 5000 }, () => small)).body))
      await expectClose('push flood', 'E_PEER_LIMIT', t, s)

      // Syncs opened faster than the sync rate (A allows a burst of 2): the third is cut off.
      s = await rawSession(node, addr, ns.ns, ns.sync)
      const range = new Uint8Array(16)
      new DataView(range.buffer).setFloat64(0, 0)
      new DataView(range.buffer).setFloat64(8, Number.MAX_SAFE_INTEGER)
      const openings = await Promise.all([0, 1, 2].map(() => mine.reconcile().open()))
      t = performance.now()
      openings.forEach((first, i) => s.stream.send(encodeFrame(T.SYNC, 2 + 2 * i, new Uint8Array([...range, ...first]))))
      await expectClose('syncs over the rate', 'E_PEER_LIMIT', t, s)

      // A peer that starts a sync and stops answering: the idle limit (HOSTILE_IDLE) cuts it off.
      s = await rawSession(node, addr, ns.ns, ns.sync)
      const rec = mine.reconcile()
      const first = await rec.open()
      t = performance.now()
      s.stream.send(encodeFrame(T.SYNC, 2, new Uint8Array([...range, ...first])))
      await expectClose('silent mid-sync', 'E_TIMEOUT', t, s)
      assert.ok(s.frames.some((f) => f.type === T.RECON), 'the honest side answered the first message')
      assert.ok(results['silent mid-sync'].ms >= HOSTILE_IDLE && results['silent mid-sync'].ms < HOSTILE_IDLE + 3000)

      // ... or that says it is still at work on its reply (PROGRESS, well within A's idle limit)
      // and never sends it: A waits past its idle limit, up to its busy limit (HOSTILE_BUSY).
      s = await rawSession(node, addr, ns.ns, ns.sync)
      s.stream.send(encodeFrame(T.SYNC, 2, new Uint8Array([...range, ...await mine.reconcile().open()])))
      await frameSeen(s.frames, T.RECON, 'the RECON reply')
      t = performance.now()
      const working = setInterval(() => { try { s.stream.send(encodeFrame(T.PROGRESS, 2)) } catch {} }, HOSTILE_IDLE / 3)
      try { await expectClose('at work forever', 'E_TIMEOUT', t, s) } finally { clearInterval(working) }
      assert.match(a.events.filter((e) => e.event === 'close').at(-1)!.message as string, /still at work/)
      assert.ok(results['at work forever'].ms >= HOSTILE_BUSY - 200 && results['at work forever'].ms < HOSTILE_BUSY + 3000, `${results['at work forever'].ms} ms`)

      // A PROGRESS out of turn: with its SYNC, while A's reply is due.
      s = await rawSession(node, addr, ns.ns, ns.sync)
      t = performance.now()
      s.stream.send(new Uint8Array([...encodeFrame(T.SYNC, 2, new Uint8Array([...range, ...await mine.reconcile().open()])), ...encodeFrame(T.PROGRESS, 2)]))
      await expectClose('PROGRESS out of turn', 'E_PROTOCOL', t, s)

      // A slow reader: it announces a 64 KiB window, wants all 5 000 events (~1.1 MB) and never acknowledges.
      // The honest side sends while its unacknowledged bytes are under the window (so at most the
      // window plus one frame), then waits, and cuts it off after the idle limit.
      s = await rawSession(node, addr, ns.ns, ns.sync, { ...DEFAULT_LIMITS, window: 64 << 10 })
      const who = Identity.fromSecretKey(sha256(new TextEncoder().encode('h')))
      const ids = Array.from({ length: 5000 }, (_, i) => decodeEvent(encodeEvent({ kind: 1, timestamp: START + i * 7, group: groupId(group), payload: `h/${i}/${'x'.repeat(64)}` }, who)).id)
      const open = await mine.reconcile().open()
      t = performance.now()
      s.stream.send(encodeFrame(T.SYNC, 2, new Uint8Array([...range, ...open])))
      await frameSeen(s.frames, T.RECON, 'the RECON reply')
      s.stream.send(encodeFrame(T.RECON, 2))
      for (let i = 0; i < ids.length; i += 500) s.stream.send(encodeFrame(T.WANT, 2, Uint8Array.from(Buffer.from(ids.slice(i, i + 500).join(''), 'hex'))))
      s.stream.send(encodeFrame(T.WANT_END, 2))
      await expectClose('slow reader', 'E_TIMEOUT', t, s)
      const held = s.frames.filter((f) => f.type === T.EVENTS).reduce((n, f) => n + f.size, 0)
      assert.ok(held > 0 && held <= (64 << 10) + DEFAULT_LIMITS.batchBytes + 64 * 1024, `the slow reader was sent ${held} bytes`)
      assert.ok(held < 5000 * 226 / 4, 'far less than it asked for')
      results['slow reader'] = { ...results['slow reader'], sentBeforeCutOff: held } as never

      // Before the handshake: bytes that are not a frame (an HTTP request: its first 4 bytes read as
      // a length of ~1.2 GB, over the 512-byte limit of handshake frames), then a frame that is not HELLO.
      const http = await node.dialProtocol(multiaddr(addr), ns.sync)
      t = performance.now()
      http.send(new TextEncoder().encode('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))
      let hs = await a.waitFor((e) => e.event === 'handshake-failed', 5000, 'handshake-failed')
      assert.is(hs.code, 'E_PEER_LIMIT')
      results['HTTP instead of HELLO'] = { code: hs.code, ms: Math.round(performance.now() - t), errorFrame: false }
      const early = await node.dialProtocol(multiaddr(addr), ns.sync)
      t = performance.now()
      early.send(encodeFrame(T.PUSH, 1, encodeEnvelopes([]).body))
      hs = await a.waitFor((e) => e.event === 'handshake-failed' && e !== hs, 5000, 'handshake-failed')
      assert.is(hs.code, 'E_PROTOCOL')
      results['PUSH before HELLO'] = { code: hs.code, ms: Math.round(performance.now() - t), errorFrame: false }
      const failures = () => a.events.filter((e) => e.event === 'handshake-failed').length
      // A HELLO of another protocol version.
      const v2 = await node.dialProtocol(multiaddr(addr), ns.sync)
      let before = failures()
      t = performance.now()
      v2.send(encodeFrame(T.HELLO, 0, encodeHello({ ...helloOf({ ...DEFAULT_LIMITS }, ns.ns, false, new Uint8Array(32)), version: PROTOCOL_VERSION + 1 })))
      hs = await a.waitFor((e) => e.event === 'handshake-failed' && a.events.filter((x) => x.event === 'handshake-failed').indexOf(e) === before, 5000, 'handshake-failed')
      assert.is(hs.code, 'E_PROTOCOL')
      assert.match(hs.message, new RegExp(`version ${PROTOCOL_VERSION + 1}`))
      results['HELLO of another version'] = { code: hs.code, ms: Math.round(performance.now() - t), errorFrame: false }
      // A stream that never says HELLO: the handshake limit (1 s here).
      await node.dialProtocol(multiaddr(addr), ns.sync)
      before = failures()
      t = performance.now()
      hs = await a.waitFor((e) => e.event === 'handshake-failed' && a.events.filter((x) => x.event === 'handshake-failed').indexOf(e) === before, 5000, 'handshake-failed')
      assert.is(hs.code, 'E_TIMEOUT')
      const silentHello = Math.round(performance.now() - t)
      assert.ok(silentHello >= 900 && silentHello < 3000, `${silentHello} ms`)
      results['no HELLO'] = { code: hs.code, ms: silentHello, errorFrame: false }

      for (const [label, r] of Object.entries(results)) if (!['silent mid-sync', 'at work forever', 'slow reader', 'no HELLO'].includes(label)) assert.ok(r.ms < 2000, `${label} took ${r.ms} ms`)
      // The honest node still serves another peer.
      await b.call('dial', { addr })
      const { result } = await b.call('sync')
      assert.is(result.eventsReceived, 5000)
      assert.is((await b.call('root')).root, (await a.call('root')).root)
      // ... and paces its syncs under A's announced rate: three more in a row wait for their turn
      // (~2.1 s each past a burst of 1, 95 % of A's), where opening them at once would be cut off.
      const closesBefore = a.events.filter((e) => e.event === 'close').length
      t = performance.now()
      for (let i = 0; i < 3; i++) await b.call('sync')
      const paced = performance.now() - t
      assert.ok(paced > 3000, `three syncs in ${Math.round(paced)} ms`)
      assert.is(a.events.filter((e) => e.event === 'close').length, closesBefore, 'B was not cut off')
      figures.pacedSyncsMs = Math.round(paced)
      figures.hostile = results
    })
  } finally {
    await node.stop()
    await mine.close()
  }
})(), 'test 5', 100_000))

test.after(() => { console.log('measured:', JSON.stringify(figures, null, 1)) })

test.run()
