// The group DHT across processes (docs/NETWORK.md "Group DHT"): every node is a
// test/fixtures/peer.ts process (role 'dht') on 127.0.0.1; nothing here dials another address. Every wait is
// bounded (helpers/watchdog.ts), and every process is killed at the end of each suite.
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { PeerProcess, killAll } from './helpers/peer-process.js'
import { BUCKET_MS } from '../src/net/keys.js'
import { fromHex, toHex } from '../src/index.js'
import { kadOf } from '../src/net/group-dht.js'
import { groupNamespace } from '../src/net/namespace.js'
import { createNode } from '../src/net/node.js'
import { isCode, rejection, within } from './helpers/watchdog.js'

const G = 'net-dht open group'
const seedOf = (n: number) => toHex(new Uint8Array(32).fill(n))
const log = (...args: unknown[]) => console.log('      [net-dht]', ...args)
/** A node with group DHTs only, ready once it joined its groups. */
const startPeer = (config: { bootstrap?: string[]; listen?: string[]; seed?: string; groups: Array<{ name: string; secret?: string; deny?: string[]; maxPeers?: number }> }) =>
  PeerProcess.start(config, { role: 'dht', ms: 15_000 })

// 1 and 2 -----------------------------------------------------------------------------------
const chain = suite('five peers bootstrapped in a chain, then a late joiner')
const peers: PeerProcess[] = []
chain.after(killAll)

chain('each finds the four others through the group DHT', async () => {
  for (let i = 0; i < 5; i++) {
    peers.push(await startPeer({ seed: seedOf(i + 1), bootstrap: i === 0 ? [] : [peers[i - 1].addr], groups: [{ name: G }] }))
  }
  const start = peers[4].readyAt
  await Promise.all(peers.map((p) => p.until(() => p.peersOf(G).length >= 4, `peer ${p.peerId} finds 4 group peers`, 30_000)))
  const ids = new Set(peers.map((p) => p.peerId))
  for (const p of peers) {
    const found = p.peersOf(G)
    assert.ok(found.every((id) => ids.has(id) && id !== p.peerId), 'only the other group peers')
    // onPeer and peers() agree: every found peer is connected now.
    assert.equal(await p.value('peers', { group: G }), [...ids].filter((id) => id !== p.peerId).sort())
  }
  const done = Math.max(...peers.map((p) => Math.max(...p.found(G).values())))
  const each = peers.map((p) => Math.max(...p.found(G).values()) - Math.max(p.readyAt, start))
  log(`5 chained peers: all found all others ${done - start} ms after the 5th was ready (${done - peers[0].readyAt} ms after the 1st); per peer after the 5th was ready: ${each.join(', ')} ms`)
})

chain('a late joiner with one bootstrap address reaches group peers beyond it', async () => {
  const late = await startPeer({ bootstrap: [peers[4].addr], groups: [{ name: G }] })
  const beyond = () => late.peersOf(G).filter((id) => id !== peers[4].peerId)
  await late.until(() => beyond().length >= 3, 'late joiner finds 3 peers besides its bootstrap', 20_000)
  const first = Math.min(...[...late.found(G).entries()].filter(([id]) => id !== peers[4].peerId).map(([, t]) => t))
  log(`late joiner: first peer beyond its bootstrap after ${first - late.readyAt} ms, ${late.peersOf(G).length} group peers after ${Math.max(...late.found(G).values()) - late.readyAt} ms`)
  // And the others learn of it (it provided the group's CID).
  await peers[0].until(() => peers[0].peersOf(G).includes(late.peerId), 'the first peer finds the late joiner', 20_000)
})

chain('maxPeers caps the group peers kept', async () => {
  const capped = await startPeer({ bootstrap: [peers[0].addr], groups: [{ name: G, maxPeers: 2 }] })
  await capped.until(() => capped.peersOf(G).length >= 2, 'capped peer finds 2 group peers', 15_000)
  // Five more group peers are there to be found; give it a few rounds (0.25 s apart at best, 1 s, 2 s …).
  await new Promise((r) => setTimeout(r, 2_500))
  assert.is(capped.peersOf(G).length, 2, 'onPeer fired for 2 peers only')
  assert.is((await capped.value<string[]>('peers', { group: G })).length, 2)
  // With its 2 kept and its record provided, its later full rounds (at 1, 3 and 7 s) do nothing.
  await new Promise((r) => setTimeout(r, 5_000))
  const { full, skipped, lookups } = await capped.call('rounds', { group: G })
  const rounds = { full, skipped, lookups }
  assert.ok(rounds.skipped >= 1, `full rounds skipped once maxPeers are kept: ${JSON.stringify(rounds)}`)
  // A kept peer that refuses our sync session as full (E_PEER_FULL) gives its place to another.
  const [fullPeer] = capped.peersOf(G)
  assert.not.ok((await capped.value<string[]>('passOver', { group: G, peer: fullPeer })).includes(fullPeer), 'its place is freed at once')
  await capped.until(() => capped.found(G).size >= 3, 'capped peer finds another group peer', 15_000)
  const kept = await capped.value<string[]>('peers', { group: G })
  assert.is(kept.length, 2)
  assert.not.ok(kept.includes(fullPeer), 'the full peer is passed over, not taken back')
})

chain('content discovery: a peer that announced a day is found by findHolders on another', async () => {
  const day = Date.UTC(2026, 0, 15) // a fixed UTC day: bucket floor(t / BUCKET_MS)
  const holder = peers[1]
  let t = Date.now()
  await holder.value('announce', { group: G, timestamps: [day + 1_000, day + 3_600_000, day + BUCKET_MS - 1] })
  const announceMs = Date.now() - t
  t = Date.now()
  const found = await peers[3].value<string[]>('holders', { group: G, from: day + 10_000, to: day + 20_000 })
  const oneMs = Date.now() - t
  assert.equal(found, [holder.peerId], 'exactly the peer that announced this day')
  // A range that ends the day before does not touch the bucket: no holder.
  assert.equal(await peers[3].value('holders', { group: G, from: day - BUCKET_MS, to: day - 1 }), [])
  t = Date.now()
  const month = await peers[4].value<string[]>('holders', { group: G, from: day - 20 * BUCKET_MS, to: day + 9 * BUCKET_MS })
  const monthMs = Date.now() - t
  assert.equal(month, [holder.peerId], 'a 30-day range includes the day')
  log(`announce of 1 bucket: ${announceMs} ms; findHolders over 1 bucket: ${oneMs} ms, over 30 buckets: ${monthMs} ms (round trips through the test's stdin/stdout included)`)
})

chain('a hung-up group peer is reconnected and reported again; a dead one leaves peers(), and is reconnected when it is back', async () => {
  const [a, b] = [peers[0], peers[2]]
  const seen = () => a.events.filter((e) => e.event === 'peer' && e.group === G && e.id === b.peerId).length
  const before = seen()
  const t = Date.now()
  await a.value('hangup', { peer: b.peerId })
  await a.until(() => seen() > before, 'the hung-up peer is reported again', 10_000)
  log(`hung-up group peer reconnected and reported again after ${Date.now() - t} ms`)
  assert.ok((await a.value<string[]>('peers', { group: G })).includes(b.peerId))

  const dead = peers[3]
  dead.kill()
  await dead.until(() => dead.exited, 'the killed peer exits', 5_000)
  const gone = async () => !(await a.value<string[]>('peers', { group: G })).includes(dead.peerId)
  const deadline = Date.now() + 5_000
  while (!(await gone())) {
    assert.ok(Date.now() < deadline, 'the dead peer is still in peers() after 5 s')
    await new Promise((r) => setTimeout(r, 100))
  }
  // Back at the same address with the same key, and no bootstrap: only the others can reconnect it, by
  // their redials (1 s, 2 s, 4 s …) or their discovery rounds (its provider record outlives it). With
  // redials disabled the rounds alone did it here in ~1.9 s, so this does not single out the redials.
  const port = /\/tcp\/(\d+)\//.exec(dead.addr)![1]
  const lostAt = Date.now()
  const back = await startPeer({ seed: seedOf(4), listen: [`/ip4/127.0.0.1/tcp/${port}`], groups: [{ name: G }] })
  assert.is(back.peerId, dead.peerId)
  peers[3] = back
  await back.until(() => back.peersOf(G).includes(a.peerId), 'the restarted peer is reconnected to the first', 15_000)
  log(`a killed group peer restarted at its address was reconnected ${Date.now() - back.readyAt} ms after it was ready (${Date.now() - lostAt} ms after it was found lost)`)
})

chain.run()

// 3 -----------------------------------------------------------------------------------------
const two = suite('two groups on the same three nodes, and a node only in the second')
two.after(killAll)
const A = 'net-dht group A'
const B = 'net-dht group B'

two('each group DHT holds only its own peers and provider records', async () => {
  const shared: PeerProcess[] = []
  for (let i = 0; i < 3; i++) shared.push(await startPeer({ bootstrap: i === 0 ? [] : [shared[i - 1].addr], groups: [{ name: A }, { name: B }] }))
  const onlyB = await startPeer({ bootstrap: [shared[0].addr], groups: [{ name: B }] })
  await Promise.all([
    ...shared.map((p) => p.until(() => p.peersOf(A).length >= 2 && p.peersOf(B).length >= 3, 'shared node finds 2 A peers and 3 B peers', 30_000)),
    onlyB.until(() => onlyB.peersOf(B).length >= 3, 'B-only node finds the 3 shared nodes in B', 30_000),
  ])
  const sharedIds = shared.map((p) => p.peerId)
  for (const p of shared) {
    const others = sharedIds.filter((id) => id !== p.peerId).sort()
    // The B-only node is connected to every shared node (through B), yet is in no A routing table.
    const tableA = await p.value<string[]>('table', { group: A })
    const tableB = await p.value<string[]>('table', { group: B })
    assert.not.ok(tableA.includes(onlyB.peerId), `A's routing table on ${p.peerId} holds the B-only node`)
    assert.ok(tableB.includes(onlyB.peerId), `B's routing table on ${p.peerId} holds the B-only node (the inspection sees it)`)
    assert.equal(await p.value('peers', { group: A }), others)
    // Provider records: A's DHT knows no provider of B's CID (B's DHT on the same node does).
    assert.equal(await p.value('providers', { group: A, of: B }), [])
    assert.ok((await p.value<string[]>('providers', { group: B, of: B })).includes(onlyB.peerId), "B's DHT finds the B-only node")
    assert.equal(await p.value('providers', { group: A, of: A }), others)
  }
  assert.equal(await onlyB.value('table', { group: B }), [...sharedIds].sort())
  assert.equal(await onlyB.value('providers', { group: B, of: A }), [], "the B-only node finds no provider of A's CID through B")
})

two.run()

// 4 -----------------------------------------------------------------------------------------
const secret = suite('a secret group refuses a peer that allow() refuses')
secret.after(killAll)
const S = { name: 'net-dht secret group', secret: 'a secret of at least sixteen bytes' }

secret('the refused peer finds nothing and enters no routing table; an admitted one finds everyone', async () => {
  const seed = toHex(new Uint8Array(32).fill(7))
  const outsiderId = peerIdFromPrivateKey(await generateKeyPairFromSeed('Ed25519', fromHex(seed))).toString()
  const spec = { ...S, deny: [outsiderId] }
  const members: PeerProcess[] = []
  for (let i = 0; i < 3; i++) members.push(await startPeer({ bootstrap: i === 0 ? [] : [members[i - 1].addr], groups: [spec] }))
  // Both bootstrap to the first member only; the outsider knows <ns> (it runs the same group) but is denied.
  const admitted = await startPeer({ bootstrap: [members[0].addr], groups: [spec] })
  const outsider = await startPeer({ seed, bootstrap: [members[0].addr], groups: [{ ...S }] })
  assert.is(outsider.peerId, outsiderId)
  const insiders = [...members, admitted]
  await Promise.all(insiders.map((p) => p.until(() => p.peersOf(S.name).length >= 3, 'member finds the 3 others', 30_000)))
  // The outsider has had the same time and more; give it one more discovery round (rounds at 1, 2, 4 s).
  await new Promise((r) => setTimeout(r, 2_000))

  assert.equal(outsider.peersOf(S.name), [], 'the outsider found no group peer')
  assert.equal(await outsider.value('providers', { group: S.name, of: S.name }), [], 'its provider lookup gets nothing')
  const outsiderTable = await outsider.value<string[]>('table', { group: S.name })
  // It may list the member it is connected to (its own identify told it the protocol), and nobody it could only learn from us.
  assert.ok(outsiderTable.every((id) => id === members[0].peerId), `the outsider's table holds ${outsiderTable.join(', ')}`)
  for (const p of insiders) {
    assert.not.ok((await p.value<string[]>('table', { group: S.name })).includes(outsiderId), 'the outsider is in an insider routing table')
    assert.not.ok(p.peersOf(S.name).includes(outsiderId))
  }
  // The admitted peer, bootstrapped the same way, reached the members beyond its bootstrap.
  assert.equal(admitted.peersOf(S.name).sort(), members.map((p) => p.peerId).sort())

  // Content: the outsider's announcement reaches nobody, a member's is found.
  const day = Date.UTC(2026, 1, 1)
  const refused = await outsider.value('announce', { group: S.name, timestamps: [day] }).then(() => undefined, (e) => e)
  assert.is((refused as { code?: string })?.code, 'E_DHT_QUERY', 'the outsider announce reached no peer')
  await members[2].value('announce', { group: S.name, timestamps: [day] })
  assert.equal(await admitted.value('holders', { group: S.name, from: day, to: day }), [members[2].peerId])
  assert.equal(await outsider.value('holders', { group: S.name, from: day, to: day }), [], 'the outsider finds no holder')
})

secret.run()

// The API on one node (in this process: it dials nothing) ------------------------------------
const api = suite('the service on one node: reference counting, leave, errors')

api('joins share one kad-dht, the last leave unhandles it and keeps the node; misuse and failures throw', async () => {
  const node = await within(createNode({ listen: ['/ip4/127.0.0.1/tcp/0'] }), 'createNode')
  try {
    const ns = groupNamespace(new Uint8Array(32).fill(9))
    const x = node.services.xaeroflux
    const [h1, h2] = await within(Promise.all([x.joinGroup(ns), x.joinGroup(ns)]), 'two joins')
    assert.is(kadOf(h1), kadOf(h2), 'one kad-dht for both handles')
    assert.ok(node.getProtocols().includes(ns.kad))
    assert.equal(x.groups(), [ns.ns])
    // Alone: nothing to ask, so announce fails at once and findHolders ends empty.
    const alone = await rejection(() => h1.announce([Date.now()]), 'announce alone')
    assert.ok(isCode('E_DHT_QUERY')(alone), String(alone))
    const none: unknown[] = []
    for await (const p of h1.findHolders({ from: 0, to: BUCKET_MS * 3 })) none.push(p)
    assert.equal(none, [])
    assert.throws(() => h1.findHolders({ from: 0, to: BUCKET_MS * 400 })[Symbol.asyncIterator]().next(), RangeError)
    await h1.leave()
    await h1.leave() // idempotent
    assert.ok(isCode('E_LEFT')(await rejection(() => h1.peers(), 'peers after leave')))
    assert.ok(node.getProtocols().includes(ns.kad), 'still handled while h2 is joined')
    await h2.leave()
    assert.not.ok(node.getProtocols().includes(ns.kad), 'unhandled after the last leave')
    assert.equal(x.groups(), [])
    assert.is(node.status, 'started', 'leave never stops the node')
    const again = await x.joinGroup(ns, { maxPeers: 2 })
    assert.ok(kadOf(again) !== undefined)
    await assert_rejects(() => x.joinGroup(ns, { maxPeers: 0 }), RangeError)
    await assert_rejects(() => x.joinGroup({ ...ns, kad: '/other/kad/1.0.0' }), TypeError)
    await within(Promise.resolve(node.stop()), 'node stop')
    assert.is(kadOf(again), undefined, 'the node stop stopped the group DHT')
    assert.ok(isCode('E_NODE_STOPPED')(await rejection(() => x.joinGroup(ns), 'join on a stopped node')))
  } finally {
    await within(Promise.resolve(node.stop()), 'node stop')
  }
})

async function assert_rejects(call: () => Promise<unknown>, type: new (...args: any[]) => Error) {
  const e = await rejection(call, 'a misuse')
  assert.instance(e, type)
}

api.run()
