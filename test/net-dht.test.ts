// The group DHT across processes (docs/NETWORK.md "Group DHT"): every node is a
// test/fixtures/dht-peer.ts process on 127.0.0.1; nothing here dials another address. Every wait is
// bounded (helpers/watchdog.ts), and every process is killed at the end of each suite.
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { DhtPeer, killAll } from './helpers/dht-peers.js'
import { BUCKET_MS } from '../src/net/keys.js'
import { fromHex, toHex } from '../src/index.js'

const G = 'net-dht open group'
const log = (...args: unknown[]) => console.log('      [net-dht]', ...args)

// 1 and 2 -----------------------------------------------------------------------------------
const chain = suite('five peers bootstrapped in a chain, then a late joiner')
const peers: DhtPeer[] = []
chain.after(killAll)

chain('each finds the four others through the group DHT', async () => {
  for (let i = 0; i < 5; i++) {
    peers.push(await DhtPeer.start({ bootstrap: i === 0 ? [] : [peers[i - 1].tcpAddr], groups: [{ name: G }] }))
  }
  const start = peers[4].readyAt
  await Promise.all(peers.map((p) => p.until(() => p.peersOf(G).length >= 4, `peer ${p.id} finds 4 group peers`, 30_000)))
  const ids = new Set(peers.map((p) => p.id))
  for (const p of peers) {
    const found = p.peersOf(G)
    assert.ok(found.every((id) => ids.has(id) && id !== p.id), 'only the other group peers')
    // onPeer and peers() agree: every found peer is connected now.
    assert.equal(await p.cmd({ cmd: 'peers', group: G }), [...ids].filter((id) => id !== p.id).sort())
  }
  const done = Math.max(...peers.map((p) => Math.max(...p.found.get(G)!.values())))
  log(`5 chained peers: all found all others ${done - start} ms after the 5th was ready (${done - peers[0].readyAt} ms after the 1st)`)
})

chain('a late joiner with one bootstrap address reaches group peers beyond it', async () => {
  const late = await DhtPeer.start({ bootstrap: [peers[4].tcpAddr], groups: [{ name: G }] })
  const beyond = () => late.peersOf(G).filter((id) => id !== peers[4].id)
  await late.until(() => beyond().length >= 3, 'late joiner finds 3 peers besides its bootstrap', 20_000)
  const first = Math.min(...[...late.found.get(G)!.entries()].filter(([id]) => id !== peers[4].id).map(([, t]) => t))
  log(`late joiner: first peer beyond its bootstrap after ${first - late.readyAt} ms, ${late.peersOf(G).length} group peers after ${Math.max(...late.found.get(G)!.values()) - late.readyAt} ms`)
  // And the others learn of it (it provided the group's CID).
  await peers[0].until(() => peers[0].peersOf(G).includes(late.id), 'the first peer finds the late joiner', 20_000)
})

chain.run()
