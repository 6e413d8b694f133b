// Stores as peers: real libp2p nodes, each in its own process, on 127.0.0.1 only.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { tempDir } from './helpers/store.js'
import { PeerProcess, until } from './helpers/peer-process.js'
import { Identity, Xaeroflux, XaeroError } from '../src/index.js'
import { createNode } from '../src/net/index.js'

const peers: PeerProcess[] = []
/** A peer with Xaeroflux stores on the network (test/fixtures/peer.ts, role 'store'). */
const start = async (name: string, config: { path?: string; groups: Array<{ group: string; secret?: string }>; bootstrap?: string[]; shared?: boolean }) => {
  const p = await PeerProcess.start(config, { role: 'store', name })
  peers.push(p)
  return p
}
const stopAll = async () => { await Promise.all(peers.splice(0).map((p) => p.close())) }
const state = (p: PeerProcess, group = 'net') => p.call('state', { group }) as Promise<{ root: string; count: number; peers: string[] }>

async function converged(list: PeerProcess[], count: number, ms: number, group = 'net'): Promise<number> {
  return until(async () => {
    const states = await Promise.all(list.map((p) => state(p, group)))
    return states.every((s) => s.count === count && s.root === states[0].root)
  }, ms, `${list.length} peers to reach ${count} events and one root`)
}

test.after.each(stopAll)

test('five peers bootstrapped in a chain append concurrently and reach one root; a sixth joins late through the DHT and catches up', async () => {
  const chain: PeerProcess[] = []
  for (let i = 0; i < 5; i++) chain.push(await start(`p${i}`, { groups: [{ group: 'net' }], bootstrap: i ? [chain[i - 1].addr] : [] }))
  await Promise.all(chain.map((p) => p.call('append', { group: 'net', n: 200 })))
  const ms = await converged(chain, 1000, 30_000)
  console.log(`    5 peers, 1 000 events: one root ${ms} ms after the last append`)
  const late = await start('late', { groups: [{ group: 'net' }], bootstrap: [chain[4].addr] })
  const caughtUp = await converged([...chain, late], 1000, 30_000)
  const found = await until(async () => (await state(late)).peers.some((id) => id !== chain[4].peerId), 30_000, 'the late peer to find group peers beyond its bootstrap')
  console.log(`    late joiner: caught up in ${caughtUp} ms, a peer beyond its bootstrap after ${found} ms more`)
})

test('a peer killed with SIGKILL mid-sync and restarted catches up and keeps every acknowledged event', async () => {
  const dir = tempDir()
  try {
    const source = await start('source', { groups: [{ group: 'net' }] })
    await source.call('append', { group: 'net', n: 5000 }, 120_000)
    let victim = await start('victim', { path: dir.dir, groups: [{ group: 'net' }] })
    const mine = (await victim.call('append', { group: 'net', n: 50 })).ids as string[]
    void victim.call('sync', { group: 'net', peer: source.addr }).catch(() => {})
    await new Promise((r) => setTimeout(r, 150))
    await victim.kill()
    victim = await start('victim again', { path: dir.dir, groups: [{ group: 'net' }], bootstrap: [source.addr] })
    const ms = await converged([source, victim], 5050, 60_000)
    console.log(`    restarted after SIGKILL mid-sync: caught up in ${ms} ms; its 50 acknowledged events: ${mine.length}`)
  } finally {
    await stopAll()
    dir.remove()
  }
})

test('a partition heals: two peers stopped while the others append catch up when they return', async () => {
  const dirs = [tempDir(), tempDir()]
  try {
    const a = await start('a', { groups: [{ group: 'net' }] })
    const b = await start('b', { groups: [{ group: 'net' }], bootstrap: [a.addr] })
    let c = await start('c', { path: dirs[0].dir, groups: [{ group: 'net' }], bootstrap: [b.addr] })
    let d = await start('d', { path: dirs[1].dir, groups: [{ group: 'net' }], bootstrap: [c.addr] })
    await Promise.all([a, b, c, d].map((p) => p.call('append', { group: 'net', n: 50 })))
    await converged([a, b, c, d], 200, 30_000)
    await Promise.all([c.close(), d.close()])
    await Promise.all([a, b].map((p) => p.call('append', { group: 'net', n: 100 })))
    c = await start('c again', { path: dirs[0].dir, groups: [{ group: 'net' }], bootstrap: [a.addr] })
    d = await start('d again', { path: dirs[1].dir, groups: [{ group: 'net' }], bootstrap: [c.addr] })
    await Promise.all([c, d].map((p) => p.call('append', { group: 'net', n: 10 })))
    const ms = await converged([a, b, c, d], 420, 30_000)
    console.log(`    partition healed in ${ms} ms`)
  } finally {
    await stopAll()
    for (const d of dirs) d.remove()
  }
})

test('two groups on the same shared nodes stay apart', async () => {
  const groups = [{ group: 'one' }, { group: 'two' }]
  const x = await start('x', { groups, shared: true })
  const y = await start('y', { groups, shared: true, bootstrap: [x.addr] })
  const z = await start('z', { groups: [{ group: 'two' }], shared: true, bootstrap: [y.addr] })
  await Promise.all([x.call('append', { group: 'one', n: 30 }), y.call('append', { group: 'two', n: 20 }), z.call('append', { group: 'two', n: 10 })])
  await converged([x, y], 30, 30_000, 'one')
  await converged([x, y, z], 30, 30_000, 'two')
  const one = await state(y, 'one')
  assert.ok(!one.peers.includes(z.peerId), 'a peer of group two only is no peer of group one')
})

test('a secret group: an outsider who knows the name but not the secret gets nothing', async () => {
  const secret = 'correct horse battery staple, twice over'
  const a = await start('a', { groups: [{ group: 'club', secret }] })
  const b = await start('b', { groups: [{ group: 'club', secret }], bootstrap: [a.addr] })
  const outsider = await start('outsider', { groups: [{ group: 'club' }], bootstrap: [a.addr] })
  const guesser = await start('guesser', { groups: [{ group: 'club', secret: 'a wrong guess, long enough' }], bootstrap: [a.addr] })
  await a.call('append', { group: 'club', n: 20 })
  await converged([a, b], 20, 30_000, 'club')
  for (const p of [outsider, guesser]) {
    const err = await p.call('sync', { group: 'club', peer: a.addr }).then(() => undefined, (e) => e)
    assert.ok(err, `${p.name}'s sync with a member fails`)
    const s = await state(p, 'club')
    assert.is(s.count, 0, `${p.name} got no event`)
    assert.equal(s.peers, [], `${p.name} has no group peer`)
  }
})

test('a store on the app\'s own node leaves it running when it closes; two groups share its port', async () => {
  const node = await createNode()
  try {
    const one = await Xaeroflux.open({ group: 'shared one', workers: 0, network: { libp2p: node } })
    const two = await Xaeroflux.open({ group: 'shared two', workers: 0, network: { libp2p: node } })
    assert.equal(one.multiaddrs(), two.multiaddrs(), 'one node, one set of addresses')
    assert.equal(node.services.xaeroflux.groups().length, 2)
    await one.close()
    assert.is(node.status, 'started', 'the app\'s node still runs')
    assert.equal(node.services.xaeroflux.groups().length, 1, 'the closed store left its group')
    await two.close()
    assert.is(node.status, 'started')
    assert.ok(node.getProtocols().every((p) => !p.startsWith('/xaeroflux/')), 'no xaeroflux protocol is left on the node')
  } finally {
    await node.stop()
  }
})

test('closing a store says peer:disconnect for each peer; a listener may ask db.peers() then', async () => {
  const a = await Xaeroflux.open({ group: 'closing', workers: 0, network: { listen: ['/ip4/127.0.0.1/tcp/0'] } })
  const b = await Xaeroflux.open({ group: 'closing', workers: 0, network: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: a.multiaddrs() } })
  try {
    await until(async () => a.peers().length === 1 && b.peers().length === 1, 20_000, 'A and B to connect')
    // Each store has one session, but both are in this process: their syncs share its thread (src/sync/pacer.ts, contended).
    const shared = (db: Xaeroflux) => (db as unknown as { network: { shared(): boolean } }).network.shared()
    assert.ok(shared(a) && shared(b), 'two sessions in the process: shared')
    const seen: Array<{ peer: string; peers?: number; error?: string }> = []
    a.addEventListener('peer:disconnect', (e) => {
      const peer = (e as CustomEvent<{ id: string }>).detail.id
      try { seen.push({ peer, peers: a.peers().length }) } catch (err) { seen.push({ peer, error: String(err) }) }
    })
    await a.close()
    const bId = b.multiaddrs()[0].split('/p2p/')[1]
    assert.equal(seen, [{ peer: bId, peers: 0 }], 'one peer:disconnect, and no peer left')
    assert.throws(() => a.peers(), (e: unknown) => e instanceof XaeroError && e.code === 'E_CLOSED', 'and E_CLOSED once closed')
    await until(async () => b.peers().length === 0, 10_000, 'B to see A go')
    assert.not.ok(shared(b), 'B alone, without a peer: not shared')
  } finally {
    if (a.status === 'open') await a.close()
    await b.close()
  }
})

test('syncWith over a session it opens returns the sync on connect, whichever side runs it: each event moves once, in one sync', async () => {
  for (const callerIs of ['larger', 'smaller'] as const) {
    const open = () => Xaeroflux.open({ group: `one-sync-${callerIs}`, workers: 0, durability: 'none', identity: Identity.generate(), network: { listen: ['/ip4/127.0.0.1/tcp/0'] } })
    const [p, q] = [await open(), await open()]
    const idOf = (db: Xaeroflux) => db.multiaddrs()[0].split('/p2p/')[1]
    // The peer with the smaller id syncs a session on connect (docs/NETWORK.md).
    const [small, large] = idOf(p) < idOf(q) ? [p, q] : [q, p]
    const [caller, holder] = callerIs === 'larger' ? [large, small] : [small, large]
    try {
      for (let i = 0; i < 300; i++) await holder.append({ kind: 1, payload: `event ${i}` })
      const syncs: Array<{ initiator: string; result: { eventsReceived: number } }> = []
      caller.addEventListener('sync', (e) => syncs.push((e as CustomEvent).detail))
      const result = await caller.syncWith(holder.multiaddrs()[0])
      assert.is(result.eventsReceived, 300, callerIs)
      await caller.flush()
      assert.is(await caller.count(), 300)
      await new Promise((r) => setTimeout(r, 300)) // a second sync would have begun by now
      // Before: syncWith ran a sync of its own beside the peer's (both moved every event), or
      // after this side's own (one more round).
      const expected = callerIs === 'larger' ? 'remote' : 'local'
      assert.equal(syncs.map((s) => [s.initiator, s.result.eventsReceived]), [[expected, 300]], `the caller has the ${callerIs} id: one sync, ${expected}`)
    } finally {
      await Promise.all([p.close(), q.close()])
    }
  }
})

test('syncWith opens its session again when the peer reset the first one and opens none itself', async () => {
  // The holder's node resets the first sync stream it is offered, 300 ms in (as when both sides
  // opened a session at once and the rule dropped ours), after the caller's identify has come and
  // gone. The caller has the smaller id, so the holder opens no session on connect, and in a
  // secret group its DHT does not take the caller in without one. Before, syncWith waited
  // THEIR_SESSION_MS (5 s) for the holder's session and failed with E_STREAM_CLOSED.
  const secret = 'the reset-once test secret'
  const nodes = [await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'] }), await createNode({ listen: ['/ip4/127.0.0.1/tcp/0'] })]
  nodes.sort((a, b) => (a.peerId.toString() < b.peerId.toString() ? -1 : 1))
  const [callerNode, holderNode] = nodes
  const handle = holderNode.handle.bind(holderNode)
  let offered = 0
  holderNode.handle = ((protocol, handler, options) => handle(protocol, protocol.includes('/sync/')
    ? (stream, connection) => { if (offered++ === 0) setTimeout(() => stream.abort(new Error('reset by the test')), 300); else return handler(stream, connection) }
    : handler, options)) as typeof holderNode.handle
  const open = (node: typeof callerNode) => Xaeroflux.open({ group: 'reset-once', workers: 0, durability: 'none', identity: Identity.generate(), network: { libp2p: node, secret } })
  const [caller, holder] = [await open(callerNode), await open(holderNode)]
  try {
    for (let i = 0; i < 50; i++) await holder.append({ kind: 1, payload: `event ${i}` })
    const t = performance.now()
    await caller.syncWith(holder.multiaddrs()[0])
    const ms = performance.now() - t
    console.log(`    first sync stream reset: synced in ${ms.toFixed(0)} ms`)
    assert.is(offered, 2, 'the first stream was reset, the second served')
    await caller.flush()
    assert.is(await caller.count(), 50)
  } finally {
    await Promise.all([caller.close(), holder.close()])
    await Promise.all(nodes.map((n) => n.stop()))
  }
})

test('a store that holds 4 × maxPeers sessions refuses more as full (E_PEER_FULL), and serves the refused peer once it has room', async () => {
  for (const secret of [undefined, 'the full-store test secret']) {
    const open = (maxPeers?: number) => Xaeroflux.open({ group: 'full', workers: 0, durability: 'none', identity: Identity.generate(), network: { listen: ['/ip4/127.0.0.1/tcp/0'], secret, maxPeers } })
    const holder = await open(1)
    const callers = await Promise.all([0, 1, 2, 3, 4].map(() => open()))
    const last = callers[4]
    const kind = secret ? 'secret group' : 'open group'
    try {
      for (let i = 0; i < 20; i++) await holder.append({ kind: 1, payload: `event ${i}` })
      for (const c of callers.slice(0, 4)) await c.syncWith(holder.multiaddrs()[0])
      assert.is(holder.peers().length, 4, `${kind}: the holder's four places are taken`)
      // The holder's DHT keeps one group peer (maxPeers 1): let it take one of these, not the last caller.
      await new Promise((r) => setTimeout(r, 1500))
      const t = performance.now()
      const refused = await last.syncWith(holder.multiaddrs()[0]).then(() => undefined, (e: unknown) => e)
      assert.instance(refused, XaeroError, kind)
      assert.is((refused as XaeroError).code, 'E_PEER_FULL', kind)
      assert.ok(performance.now() - t < 2000, `${kind}: refused at once, not after a time limit (${(performance.now() - t).toFixed(0)} ms)`)
      assert.is(holder.peers().length, 4, `${kind}: still four`)
      // Not a fault: once a place is free, the same peer is served.
      await callers[0].close()
      await until(async () => holder.peers().length < 4, 5000, 'the holder to see a caller leave')
      await last.syncWith(holder.multiaddrs()[0])
      await last.flush()
      assert.is(await last.count(), 20, kind)
    } finally {
      await Promise.all([holder, ...callers].map((db) => db.close().catch(() => {})))
    }
  }
})

test.run()
