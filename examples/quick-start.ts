// Quick start: two peers of one group on this machine. Bob starts from Alice's address, finds
// her through the group's DHT, syncs, and from then on receives her events live.
// Run it with `npm run build && node dist/examples/quick-start.js` (test/examples.test.ts does).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Xaeroflux, Identity, verifyProof } from 'xaeroflux'

const dir = mkdtempSync(join(tmpdir(), 'xaeroflux-quick-start-'))
try {
  const alice = await Xaeroflux.open({ path: join(dir, 'alice'), group: 'friends', identity: Identity.generate(), network: {} })
  await alice.append({ kind: 1, payload: 'written before bob came' })

  const bob = await Xaeroflux.open({ path: join(dir, 'bob'), group: 'friends', identity: Identity.generate(),
    network: { bootstrap: alice.multiaddrs() } })
  const live = new Promise<string>((resolve) => bob.subscribe({ kind: 2 }, (e) => resolve(new TextDecoder().decode(e.payload))))

  // Peers sync when they connect, and every 30 s; syncWith does it now and says what it moved
  // (nothing, if the sync on connect was quicker).
  const result = await bob.syncWith(alice.multiaddrs()[0])
  console.log(`bob synced with alice: ${result.eventsReceived} event(s) received, ${result.bytesReceived} bytes, ${result.ms.toFixed(0)} ms`)

  const hello = await alice.append({ kind: 2, payload: 'hello, bob' })  // pushed to bob as soon as it is indexed
  console.log(`bob received live: "${await live}"`)

  await alice.flush(); await bob.flush()
  const root = await bob.root()
  console.log(`bob has ${await bob.count()} events; same root on both: ${root === await alice.root()} (${root.slice(0, 16)}…)`)
  console.log(`bob proves alice's event against his root: ${verifyProof(await bob.prove(hello.id), root)}`)
  await bob.close()
  await alice.close()
} finally {
  rmSync(dir, { recursive: true, force: true })
}
