// Hostile peers against a store on the network (src/net/network.ts, docs/NETWORK.md "Hostile
// peers"): honest A and B are stores with `network` in processes of their own (test/fixtures/
// peer.ts); the hostile peer is a plain libp2p node in this process that writes raw frames and
// reconciliation messages. For each lie: what A does, that A's store is unchanged, that the liar is
// cut off with a stable code and refused afterwards (the ban lives in GroupNetwork), and that A
// keeps serving B — live push A → B of one event — within 2× its usual latency while the lie
// runs, again and again, from fresh peer ids.
import './helpers/with-resolvers.js'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Identity, decodeEvent, encodeEvent, fromHex, groupId } from '../src/index.js'
import { groupNamespace } from '../src/net/namespace.js'
import { multiaddr } from '@multiformats/multiaddr'
import { T, encodeEnvelopes, encodeFrame, u32 } from '../src/net/frames.js'
import { encodeHello, helloOf } from '../src/net/handshake.js'
import { DEFAULT_LIMITS } from '../src/net/limits.js'
import { KEYS, MAX_MESSAGE, MAX_SUBTREES, PUSH, SPLIT, SUBTREE, encodeItem, encodeKeys, encodeMessage, encodeSplit, parseMessage, type Addr, type ShapeNode } from '../src/sync/codec.js'
import { KeyRange } from '../src/sync/view.js'
import { PeerProcess, until } from './helpers/peer-process.js'
import { RawPeer } from './helpers/raw-peer.js'
import { within } from './helpers/watchdog.js'

const GROUP = 'hostile'
const ns = groupNamespace(fromHex(groupId(GROUP)))
const IDLE = 1500
/** A's reconciliation budget in this test: 15 messages a sync (the default is 10 000: docs/NETWORK.md, Hostile peers, scales the cost measured per message). */
const ROUNDS = 15
const figures: Record<string, unknown> = {}
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] }
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

// The liars are libp2p nodes in this process, and A hangs up on them while they dial: libp2p
// 3.3 then sometimes leaves a rejection of the dial unhandled (seen: ECONNRESET from the TCP
// connect, EncryptionFailedError from the upgrader), which would end this process. Those two,
// and only those, are the liar's lost connections, not a failure of the test.
const liarsLostDials: string[] = []
process.on('unhandledRejection', (e) => {
  const err = e as { code?: string; name?: string; message?: string }
  if (err?.code === 'ECONNRESET' || err?.name === 'EncryptionFailedError') { liarsLostDials.push(`${err.name}: ${err.message}`); return }
  throw e
})

/** The endless split: each of A's SPLITs comes back with its shape and every fingerprint flipped, each of its KEYS lists as a one-part SPLIT there. */
function neverMatch(message: Uint8Array, from: number, to: number): Uint8Array {
  const range = new KeyRange(from, to)
  const { salt, items } = parseMessage(message, { from, to, outside: (a) => range.outside(a) })
  const parts: Uint8Array[] = []
  for (const item of items) {
    if (item.type === SPLIT) {
      const shape: number[] = [], fps: Uint8Array[] = []
      const visit = (s: ShapeNode) => {
        if (!s.kids) { shape.push(0); if (s.fp) fps.push(s.fp.map((b) => b ^ 0xff)); return }
        shape.push((s.kids[0] ? 2 : 0) | (s.kids[1] ? 1 : 0))
        if (s.kids[0]) visit(s.kids[0])
        if (s.kids[1]) visit(s.kids[1])
      }
      visit(item.shape)
      const all = new Uint8Array(fps.length * 8)
      fps.forEach((fp, i) => all.set(fp, i * 8))
      parts.push(encodeSplit(item, shape, all))
    } else if (item.type === KEYS) {
      parts.push(encodeSplit(item, [0], globalThis.crypto.getRandomValues(new Uint8Array(8))))
    }
  }
  return encodeMessage(false, from, to, salt, parts)
}

/**
 * Fingerprints that never match, as far as the protocol lets them: each part A offers comes back
 * as a one-part SPLIT with a fingerprint that differs, so A descends its whole tree, and its KEYS
 * lists go unanswered ("I lack none of them"); once A has only lists left to send, one of them
 * comes back as a one-part SPLIT there, a part A never offered.
 */
function everyPartDiffers(message: Uint8Array, from: number, to: number): Uint8Array {
  const range = new KeyRange(from, to)
  const { salt, items } = parseMessage(message, { from, to, outside: (a) => range.outside(a) })
  const parts: Uint8Array[] = []
  const visit = (s: ShapeNode) => {
    if (s.kids) { for (const k of s.kids) if (k) visit(k) } else if (s.fp) parts.push(encodeSplit(s, [0], s.fp.map((b) => b ^ 0xff)))
  }
  for (const item of items) if (item.type === SPLIT) visit(item.shape)
  const list = items.find((item) => item.type === KEYS)
  if (parts.length === 0 && list) parts.push(encodeSplit(list, [0], globalThis.crypto.getRandomValues(new Uint8Array(8))))
  return encodeMessage(false, from, to, salt, parts)
}

/** Our reply to A's opening message: a PUSH at the root of `keys` (40 bytes each, ascending): "I have these, you lack them". */
function claim(keys: Uint8Array[]) {
  return (message: Uint8Array, from: number, to: number): Uint8Array | undefined => {
    if (keys.length === 0) return undefined
    const range = new KeyRange(from, to)
    const { salt } = parseMessage(message, { from, to, outside: (a) => range.outside(a) })
    const sorted = keys.splice(0).sort((a, b) => Buffer.compare(a, b))
    return encodeMessage(false, from, to, salt, [encodeKeys(PUSH, { bits: 0, prefix: new Uint8Array(0) }, sorted)])
  }
}

/** Replies to A's first message with a SUBTREE at `addr` (a node where the liar says A has nothing), then ends. */
function nameSubtree(addr: Addr) {
  let named = false
  return (message: Uint8Array, from: number, to: number): Uint8Array | undefined => {
    if (named) return undefined
    named = true
    const range = new KeyRange(from, to)
    const { salt } = parseMessage(message, { from, to, outside: (a) => range.outside(a) })
    return encodeMessage(false, from, to, salt, [encodeItem(SUBTREE, addr, new Uint8Array(0))])
  }
}

/** Names `total` subtrees (disjoint 24-bit nodes), as many as fit in each reply to A's messages, saying there is more until done. */
function nameSubtrees(total: number) {
  let named = 0
  return (message: Uint8Array, from: number, to: number): Uint8Array | undefined => {
    if (named === total) return undefined
    const range = new KeyRange(from, to)
    const { salt } = parseMessage(message, { from, to, outside: (a) => range.outside(a) })
    const n = Math.min(total - named, Math.floor((MAX_MESSAGE - 64) / 6))
    const items = Array.from({ length: n }, (_, i) => { const v = named + i; return encodeItem(SUBTREE, { bits: 24, prefix: new Uint8Array([v >> 16, (v >> 8) & 255, v & 255]) }, new Uint8Array(0)) })
    named += n
    return encodeMessage(named < total, from, to, salt, items)
  }
}

const keyOf = (envelope: Uint8Array) => { const e = decodeEvent(envelope); return e.key }
const fakeKeys = (n: number) => Array.from({ length: n }, (_, i) => { const k = globalThis.crypto.getRandomValues(new Uint8Array(40)); new DataView(k.buffer).setBigUint64(0, BigInt(Date.now() - 1000 - i)); return k })
const forger = Identity.generate()
const signed = (group: string, n: number, tag: string) => Array.from({ length: n }, (_, i) => encodeEvent({ kind: 7, group: groupId(group), payload: `${tag} ${i} ${Math.random()}`, timestamp: Date.now() - 5000 }, forger))

interface Outcome { code: string; ms: number; told: boolean }

test('hostile peers: lies are bounded and cut off, the liar is refused, and A serves B within 2× its latency meanwhile', () => within((async () => {
  const peers: PeerProcess[] = []
  try {
    const a = await PeerProcess.start({ groups: [{ group: GROUP }], limits: { idleMs: IDLE }, budget: { rounds: ROUNDS } }, { role: 'store', name: 'honest A' })
    peers.push(a)
    await a.call('append', { group: GROUP, n: 2000 }, 60_000)
    const b = await PeerProcess.start({ groups: [{ group: GROUP }], bootstrap: [a.addr] }, { role: 'store', name: 'honest B' })
    peers.push(b)
    const state = (p: PeerProcess) => p.call('state', { group: GROUP }) as unknown as Promise<{ root: string; count: number; peers: string[] } & Record<string, unknown>>
    await until(async () => { const [x, y] = await Promise.all([state(a), state(b)]); return y.count === 2000 && x.root === y.root && x.peers.includes(b.peerId) }, 30_000, 'B to catch up with A')
    await b.call('watch', { group: GROUP })
    const addr = a.addr
    let probes = 0

    // One probe: A appends an event; the time until B has indexed it (both clocks are this machine's).
    let seen = 0
    const arrived = new Map<string, number>()
    const probe = async (): Promise<number> => {
      const { eid, t } = await a.call('probe', { group: GROUP }) as unknown as { eid: string; t: number }
      probes++
      await within((async () => {
        for (;;) {
          for (; seen < b.events.length; seen++) { const e = b.events[seen]; if (e.event === 'indexed') arrived.set((e.detail as { id: string }).id, (e.detail as { t: number }).t) }
          if (arrived.has(eid)) return
          await sleep(1)
        }
      })(), 'a probe to reach B', 10_000)
      return arrived.get(eid)! - t
    }
    /** Probes that started while an attack was under way (between its first hostile frame and its cut-off). */
    let active = 0
    const during: number[] = []
    const series = async (n: number, busy?: () => boolean): Promise<number[]> => {
      const out: number[] = []
      while (out.length < n || (busy?.() && out.length < 80)) {
        const live = active > 0
        const ms = await probe()
        out.push(ms)
        if (live) during.push(ms)
        await sleep(10)
      }
      return out
    }
    for (let i = 0; i < 5; i++) await probe() // warm up
    figures.firstBaselineMs = +median(await series(21)).toFixed(2)

    /** Runs `attack` from fresh peer ids, one after another, while probes run; each attack returns A's verdict on it. */
    const under = async (label: string, attack: (i: number) => Promise<Outcome>, stores = 0) => {
      // The machine is shared and its load drifts: each case is held against a baseline taken just before it.
      const baseline = median(await series(21))
      const before = await state(a)
      const probesBefore = probes
      let running = true, attacks = 0
      const outcomes: Outcome[] = []
      active = 0
      const loop = (async () => {
        try {
          while (running || attacks === 0) { outcomes.push(await attack(attacks)); attacks++ }
        } finally { running = false }
      })()
      const all = await series(21, () => running && (attacks < 1 || during.length < 11))
      const latencies = during.length >= 11 ? during.splice(0) : all
      during.length = 0
      running = false
      await loop
      const after = await state(a)
      // Unchanged: nothing but the probes (and at most `stores` events an attack, for the valid ones of a flood) was added.
      const added = after.count - before.count - (probes - probesBefore)
      assert.ok(added >= 0 && added <= stores * attacks, `${label}: A's store changed by ${added} events besides the probes`)
      await until(async () => (await state(b)).root === (await state(a)).root, 10_000, `${label}: B to have what A has`)
      const m = median(latencies)
      figures[label] = { baselineMs: +baseline.toFixed(2), attacks, outcomes: outcomes.slice(0, 3), pushMedianMs: +m.toFixed(2), pushMaxMs: +Math.max(...latencies).toFixed(2), ratio: +(m / baseline).toFixed(2) }
      // 2× the baseline, but never under baseline + 3 ms: on this shared 2-core machine, two series of
      // probes a second apart with no attack in them moved the median of a ~2.5 ms probe by up to
      // ~2.6 ms (2.28 → 5.10, 2.57 → 5.17 ms around attacks cut off in 5–30 ms). Before the
      // reconciliation accepted descriptions of offered parts only, the endless-split case ran at
      // 18–69 ms, far over either bound: the assertion can fail.
      const allowed = Math.max(2 * baseline, baseline + 3)
      figures[label] = { ...(figures[label] as object), allowedMs: +allowed.toFixed(2) }
      assert.ok(m <= allowed, `${label}: A's live push to B took ${m.toFixed(2)} ms (median) under attack against ${baseline.toFixed(2)} ms before`)
    }

    const reasonOf = (id: string) => (a.events.find((e) => e.event === 'peer:disconnect' && (e.detail as { id: string }).id === id)?.detail as { reason?: { code?: string } } | undefined)?.reason

    /** Waits until A cuts the liar off, checks A's reason (and what A told the liar, when the ERROR frame made it before the hang-up), that A refuses its id (GroupNetwork's ban) and that a redial is refused. */
    const cutOff = async (liar: RawPeer, code: string, t0: number): Promise<Outcome> => {
      active++
      try { await within(liar.closed, `A to cut the liar off (${code})`, 60_000) } finally { active-- }
      const ms = performance.now() - t0
      if (liar.failure) throw liar.failure
      await until(async () => reasonOf(liar.id) !== undefined, 5000, 'A to report the disconnect')
      const told = liar.error()
      assert.is(reasonOf(liar.id)!.code, code, `A's reason: ${JSON.stringify(reasonOf(liar.id))}; frames ${liar.frames.map((f) => f.type).join(',').slice(0, 200)}`)
      if (told !== undefined) assert.ok(told.startsWith(code), `the liar was told: ${told}`)
      const refused = await a.call('sync', { group: GROUP, peer: liar.id }).then(() => 'synced', (e) => e.code)
      assert.is(refused, 'E_PEER_REFUSED', 'A refuses the liar')
      const again = await liar.node.dialProtocol(multiaddr(addr), ns.sync).then(async (s) => {
        const got: number[] = []
        s.addEventListener('message', () => got.push(1))
        try { s.send(encodeFrame(T.HELLO, 0, encodeHello(helloOf({ ...DEFAULT_LIMITS }, ns.ns, false, new Uint8Array(32))))) } catch {}
        await Promise.race([new Promise((r) => s.addEventListener('close', r)), sleep(2000)])
        return got.length === 0 && s.status !== 'open' ? 'refused' : `stream ${s.status}, ${got.length} chunks`
      }, () => 'refused')
      assert.is(again, 'refused', 'a redial of the liar is refused')
      await liar.stop()
      return { code, ms: Math.round(ms), told: told !== undefined }
    }


    // 1. Splits that never end: every SPLIT of A's is described again, with its fingerprints
    //    flipped (a part A did not offer: cut off at once) ...
    await under('splits never end', async () => {
      const liar = await RawPeer.connect(addr, ns)
      liar.answerSyncs(neverMatch, () => {})
      const t0 = performance.now()
      liar.gap()
      return cutOff(liar, 'E_PROTOCOL', t0)
    })
    // ... and fingerprints that never match: A descends its whole tree (each part once), then the
    //    liar splits a part A listed instead.
    await under('fingerprints never match', async () => {
      const liar = await RawPeer.connect(addr, ns)
      liar.answerSyncs(everyPartDiffers, () => {})
      const t0 = performance.now()
      liar.gap()
      const outcome = await cutOff(liar, 'E_PROTOCOL', t0)
      const descents = liar.frames.filter((f) => f.type === T.SYNC || f.type === T.RECON).length
      assert.ok(descents >= 3, `A descended (${descents} reconciliation messages) before it cut the liar off`)
      return outcome
    })

    // 2. Ids it does not have: it claims 1 000 events A lacks, then accounts for A's WANTs without sending them.
    await under('claims ids, never sends them', async () => {
      const liar = await RawPeer.connect(addr, ns)
      liar.answerSyncs(claim(fakeKeys(1000)), (request, wanted) => {
        liar.send(T.EVENTS, request, new Uint8Array([...u32(wanted.length), ...u32(0)]))
        liar.send(T.EVENTS_END, request)
      })
      const t0 = performance.now()
      liar.gap()
      return cutOff(liar, 'E_PROTOCOL', t0)
    })

    // 3. ... or sends other events (valid, signed, of the group, that A lacks) in their place: refused before they are stored.
    await under('claims ids, sends others', async () => {
      const liar = await RawPeer.connect(addr, ns)
      liar.answerSyncs(claim(fakeKeys(1000)), (request, wanted) => {
        liar.send(T.EVENTS, request, new Uint8Array([...u32(wanted.length), ...encodeEnvelopes(signed(GROUP, 5, 'instead')).body]))
        liar.send(T.EVENTS_END, request)
      })
      const t0 = performance.now()
      liar.gap()
      return cutOff(liar, 'E_PROTOCOL', t0)
    })

    // ... or names a subtree A lacks (timestamps before 2^40 ms, in 2004), then sends events outside it.
    await under('names a subtree, sends events outside it', async () => {
      const liar = await RawPeer.connect(addr, ns)
      liar.answerSyncs(nameSubtree({ bits: 24, prefix: new Uint8Array(3) }), (request) => {
        liar.send(T.EVENTS, request, new Uint8Array([...u32(0), ...encodeEnvelopes(signed(GROUP, 5, 'outside')).body]))
        liar.send(T.EVENTS_END, request)
      })
      const t0 = performance.now()
      liar.gap()
      return cutOff(liar, 'E_PROTOCOL', t0)
    })

    // ... or names more subtrees than a sync may (MAX_SUBTREES), a message's worth at a time: each
    //    one A keeps until the sync ends.
    await under('names too many subtrees', async () => {
      const liar = await RawPeer.connect(addr, ns)
      liar.answerSyncs(nameSubtrees(MAX_SUBTREES + 1), () => {})
      const t0 = performance.now()
      liar.gap()
      return cutOff(liar, 'E_PROTOCOL', t0)
    })

    // 4. Events of another group, validly signed: pushed live, and served in a sync in answer to the ids it claimed.
    await under('another group, pushed', async () => {
      const liar = await RawPeer.connect(addr, ns)
      const t0 = performance.now()
      liar.send(T.PUSH, 1, encodeEnvelopes(signed('another group', 3, 'elsewhere')).body)
      return cutOff(liar, 'E_BAD_EVENT', t0)
    })
    await under('another group, in a sync', async () => {
      const liar = await RawPeer.connect(addr, ns)
      const foreign = signed('another group', 3, 'elsewhere')
      liar.answerSyncs(claim(foreign.map(keyOf)), (request) => {
        liar.send(T.EVENTS, request, new Uint8Array([...u32(3), ...encodeEnvelopes(foreign).body]))
        liar.send(T.EVENTS_END, request)
      })
      const t0 = performance.now()
      liar.gap()
      return cutOff(liar, 'E_BAD_EVENT', t0)
    })

    // 5. A flood: pushes of valid events as fast as it can write them, 1 000 a frame, past the push rate.
    await under('push flood', async () => {
      const liar = await RawPeer.connect(addr, ns)
      const one = signed(GROUP, 1, 'flood')[0]
      const frame = encodeEnvelopes(Array.from({ length: 1000 }, () => one)).body
      const t0 = performance.now()
      for (let seq = 1; seq <= 10 && liar.stream.writeStatus === 'writable'; seq++) { liar.send(T.PUSH, seq, frame); await sleep(0) }
      return cutOff(liar, 'E_PEER_LIMIT', t0)
    }, 1)

    // After all of it, B still syncs with A: one root.
    await b.call('sync', { group: GROUP, peer: addr })
    const [x, y] = await Promise.all([state(a), state(b)])
    assert.is(x.root, y.root)
  } finally {
    await Promise.all([...peers.map((p) => p.close()), ...[...RawPeer.running].map((l) => l.stop())])
  }
})(), 'hostile peers', 90_000))

test.after(() => { console.log('measured:', JSON.stringify(figures, null, 1)) })

test.run()
