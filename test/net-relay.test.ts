// Live push's relay (docs/NETWORK.md, Live push): a store pushes its own events whole (PUSH),
// announces by id (HAVE) the events it received from a peer, fetches (FETCH) what a peer announces
// and it lacks, from one peer (another one, or a sync, when that one does not serve it), and
// serves each id it announced once. Store A runs in a process
// of its own (test/fixtures/peer.ts); its neighbours are raw sessions in this process that
// write the frames themselves (test/helpers/raw-peer.ts).
import './helpers/with-resolvers.js'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Identity, decodeEvent, encodeEvent, fromHex, groupId } from '../src/index.js'
import { concat } from '../src/bytes.js'
import { toHex } from '../src/hex.js'
import { groupNamespace } from '../src/net/namespace.js'
import { MAX_WANT_IDS, T, decodeEnvelopes, encodeEnvelopes, u32, type Frame } from '../src/net/frames.js'
import { FETCH_MS } from '../src/net/fetches.js'
import { PeerProcess, until } from './helpers/peer-process.js'
import { RawPeer } from './helpers/raw-peer.js'
import { within } from './helpers/watchdog.js'

const GROUP = 'relay'
const ns = groupNamespace(fromHex(groupId(GROUP)))
const author = Identity.generate()
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const signed = (n: number, tag: string) => Array.from({ length: n }, (_, i) => encodeEvent({ kind: 7, group: groupId(GROUP), payload: `${tag} ${i}`, timestamp: Date.now() - 5000 }, author))
const idOf = (envelope: Uint8Array) => decodeEvent(envelope).key.subarray(8)
const hexIds = (body: Uint8Array) => Array.from({ length: body.length / 32 }, (_, i) => toHex(body.subarray(i * 32, i * 32 + 32)))

/** A neighbour of A: answers A's syncs with "nothing", acknowledges its pushes and announcements, and lists what A sent it. */
async function neighbour(addr: string): Promise<RawPeer & { seq: number }> {
  const peer = Object.assign(await RawPeer.connect(addr, ns), { seq: 0 })
  peer.answerSyncs(() => undefined, (request) => peer.send(T.EVENTS_END, request))
  const answer = peer.onFrame
  peer.onFrame = (f) => { answer(f); if (f.type === T.HAVE) peer.send(T.PUSH_ACK, f.request, u32(f.size)) }
  return peer
}
const of = (peer: RawPeer, type: number): Frame[] => peer.frames.filter((f) => f.type === type)
const announcedTo = (peer: RawPeer) => of(peer, T.HAVE).flatMap((f) => hexIds(f.body))
const fetchedFrom = (peer: RawPeer) => of(peer, T.FETCH).flatMap((f) => hexIds(f.body))
const pushedTo = (peer: RawPeer) => of(peer, T.PUSH).flatMap((f) => decodeEnvelopes(f.body, 0)).map((e) => toHex(idOf(e)))

test('relay: A fetches what a peer announces and it lacks, announces what it received, pushes its own events whole, serves each announced id once', () => within((async () => {
  const a = await PeerProcess.start({ groups: [{ group: GROUP }] }, { role: 'store', name: 'A' })
  try {
    const count = async () => (await a.call('state', { group: GROUP }) as unknown as { count: number }).count
    const r = await neighbour(a.addr), s = await neighbour(a.addr)
    await until(async () => ((await a.call('peers', { group: GROUP })).peers as unknown[]).length === 2, 10_000, 'A to hold both sessions')

    // R announces 10 events A lacks: A fetches all of them from R, and stores what R then pushes.
    const events = signed(10, 'from R'), ids = events.map((e) => toHex(idOf(e)))
    r.send(T.HAVE, ++r.seq, concat(...events.map(idOf)))
    await until(async () => fetchedFrom(r).length >= 10, 5000, 'A to fetch from R')
    assert.equal(new Set(fetchedFrom(r)), new Set(ids))
    r.send(T.PUSH, ++r.seq, encodeEnvelopes(events).body)
    await until(async () => (await count()) === 10, 5000, 'A to store the fetched events')

    // A announces them to S by id, never whole, and announces nothing back to R, where they came from.
    await until(async () => announcedTo(s).length >= 10, 5000, 'A to announce them to S')
    assert.equal(new Set(announcedTo(s)), new Set(ids))
    assert.equal(pushedTo(s), [], 'no envelope of them pushed to S')
    assert.equal(announcedTo(r), [], 'nothing announced back to R')

    // S fetches 5 of them and an id A never announced: A pushes those 5, once.
    const unknown = globalThis.crypto.getRandomValues(new Uint8Array(32))
    s.send(T.FETCH, 0, concat(...events.slice(0, 5).map(idOf), unknown))
    await until(async () => pushedTo(s).length >= 5, 5000, 'A to serve the fetch')
    s.send(T.FETCH, 0, concat(...events.slice(0, 5).map(idOf)))
    // R announces them again: A holds them, so it fetches nothing. A acknowledges a HAVE after acting on it.
    r.send(T.HAVE, ++r.seq, concat(...events.map(idOf)))
    await until(async () => of(r, T.PUSH_ACK).some((f) => f.request === r.seq), 5000, "A's acknowledgement of the second HAVE")
    assert.is(fetchedFrom(r).length, 10, 'no second fetch of held events')

    // A's own append goes whole to both, never announced; by then the second FETCH was long served.
    const { ids: [own] } = await a.call('append', { group: GROUP, n: 1 }) as unknown as { ids: string[] }
    await until(async () => pushedTo(r).includes(own) && pushedTo(s).includes(own), 5000, "A's append to reach R and S")
    await sleep(200)
    assert.equal(pushedTo(s).sort(), [...ids.slice(0, 5), own].sort(), 'each fetched id served once, the unknown one never')
    assert.ok(!announcedTo(s).includes(own) && !announcedTo(r).includes(own))
    assert.is(r.error() ?? s.error(), undefined)

    // An announcement that R does not serve goes to the next peer that announced it, after FETCH_MS.
    const [late] = signed(1, 'late')
    r.send(T.HAVE, ++r.seq, idOf(late))
    await until(async () => fetchedFrom(r).length === 11, 5000, 'A to fetch the late one from R')
    s.send(T.HAVE, ++s.seq, idOf(late))
    const t0 = performance.now()
    await until(async () => fetchedFrom(s).length === 1, FETCH_MS + 5000, 'A to fetch it from S instead')
    assert.ok(performance.now() - t0 > FETCH_MS / 2, 'not before R had its time')
    s.send(T.PUSH, ++s.seq, encodeEnvelopes([late]).body)
    await until(async () => (await count()) === 12, 5000, 'A to store it')

    // One that no one serves, with no other peer announcing it: given up after FETCH_MS, and A
    // syncs with R, the peer it asked (the Merkle sync repairs what R held).
    const [unserved] = signed(1, 'unserved')
    const syncsBefore = of(r, T.SYNC).length
    r.send(T.HAVE, ++r.seq, idOf(unserved))
    const t1 = performance.now()
    await until(async () => of(r, T.SYNC).length > syncsBefore, FETCH_MS + 5000, 'A to sync with R')
    assert.ok(performance.now() - t1 > FETCH_MS / 2, 'not before R had its time')
    assert.ok(fetchedFrom(r).includes(toHex(idOf(unserved))))
  } finally {
    await Promise.all([a.close(), ...[...RawPeer.running].map((p) => p.stop())])
  }
})(), 'relay', 60_000))

test('relay: malformed and excessive announcements and fetches cut the peer off', () => within((async () => {
  const a = await PeerProcess.start({ groups: [{ group: GROUP }] }, { role: 'store', name: 'A' })
  const reasonOf = (id: string) => (a.events.find((e) => e.event === 'peer:disconnect' && (e.detail as { id: string }).id === id)?.detail as { reason?: { code?: string } } | undefined)?.reason?.code
  try {
    const cases: Array<[string, string, (p: RawPeer) => void]> = [
      ['a HAVE that is not whole ids', 'E_PROTOCOL', (p) => p.send(T.HAVE, 1, new Uint8Array(33))],
      ['a FETCH of more ids than a frame may hold', 'E_PROTOCOL', (p) => p.send(T.FETCH, 0, new Uint8Array(32 * (MAX_WANT_IDS + 1)))],
      ['a HAVE whose sequence number goes back', 'E_PROTOCOL', (p) => { p.send(T.HAVE, 2, new Uint8Array(32)); p.send(T.HAVE, 2, new Uint8Array(32)) }],
      // 4 096 ids a frame, past the push bucket's burst of 4 000: an announced id counts as a pushed event.
      ['a flood of announcements', 'E_PEER_LIMIT', (p) => { for (let seq = 1; seq <= 2; seq++) p.send(T.HAVE, seq, Uint8Array.from({ length: 32 * MAX_WANT_IDS }, (_, i) => (i * 31 + seq) & 255)) }],
    ]
    for (const [what, code, send] of cases) {
      const p = await neighbour(a.addr)
      send(p)
      await within(p.closed, `A to cut off ${what}`, 10_000)
      await until(async () => reasonOf(p.id) !== undefined, 5000, 'A to report the disconnect')
      assert.is(reasonOf(p.id), code, what)
      // Told why, unless A's hang-up overtook its ERROR frame.
      if (p.error() !== undefined) assert.ok(p.error()!.startsWith(code), `${what}: told ${p.error()}`)
      await p.stop()
    }
  } finally {
    await Promise.all([a.close(), ...[...RawPeer.running].map((p) => p.stop())])
  }
})(), 'relay, malformed', 60_000))

test.run()
