// The local demo (`xaeroflux demo --local`): a store on disk in a temporary folder, appends,
// ingests with tampered events, queries, a reopen, the Merkle root and a proof, and a
// reconciliation with a second, in-memory peer, printing what it measured. Everything it made is
// removed at the end.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { Identity, Xaeroflux, XaeroError, encodeEvent, groupId, merkleRoot, verifyProof } from '../../index.js'
import { interrupted } from '../errors.js'
import type { Output } from '../output.js'
import { progress } from '../progress.js'

const STEPS = 7

/** Runs it with `count` appends (and as many ingests); stops between stages when `signal` aborts. */
export async function runLocalDemo(count: number, out: Output, signal: AbortSignal): Promise<void> {
  const bar = progress('demo', STEPS)
  let step = 0
  const stage = (what: string) => {
    if (signal.aborted) throw interrupted()
    bar.update(step++, `demo: ${what}`)
  }
  // The bar is erased while a line is printed, then drawn again by the next stage.
  const say = async (line: string) => { bar.clear(); await out.line(line) }
  const report = (what: string, n: number, since: number) => {
    const ms = performance.now() - since
    return say(`${what} ${n} events in ${ms.toFixed(0)} ms (${Math.round(n / (ms / 1000)).toLocaleString('en')}/s)`)
  }

  const dir = await mkdtemp(join(tmpdir(), 'xaeroflux-demo-'))
  const alice = Identity.generate(), bob = Identity.generate()
  await say(`store ${dir}, group 'demo' = ${groupId('demo')}`)
  await say(`alice = ${alice.id.slice(0, 16)}…, bob = ${bob.id.slice(0, 16)}…`)
  const open: Xaeroflux[] = []
  try {
    // Alice appends to her store; each append resolves once it is durable in the WAL.
    stage('appending')
    let db = await Xaeroflux.open({ path: dir, group: 'demo', identity: alice, durability: 'batch' })
    open.push(db)
    let live = 0
    db.subscribe({ kind: 1 }, () => live++)
    let t = performance.now()
    await Promise.all(Array.from({ length: count }, (_, i) => db.append({ kind: i % 3, payload: `alice says ${i}` })))
    await report('appended (signed, logged, fsynced)', count, t)

    // Bob's events arrive from elsewhere: validated on worker threads, then stored.
    stage('ingesting')
    const group = groupId('demo')
    const fromBob = Array.from({ length: count }, (_, i) => encodeEvent({ kind: 1, group, payload: `bob says ${i}` }, bob))
    fromBob[7] = fromBob[7].slice(); fromBob[7][90] ^= 1   // tampered on the way
    fromBob[8] = fromBob[8].subarray(0, 100)               // cut short
    t = performance.now()
    const results = await db.ingestMany(fromBob)
    await db.flush()
    await report('ingested (validated: structure, id, Ed25519 signature)', count, t)
    for (const r of results) if (r instanceof XaeroError) await say(`  rejected: ${r.code} (${r.message})`)
    await db.ingest(fromBob[0])
    await say(`ingesting an event again changes nothing: count = ${await db.count()}, live kind-1 deliveries = ${live}`)

    stage('querying')
    const last = []
    for await (const e of db.range({ author: bob.id, kind: 1, reverse: true, limit: 3 })) last.push(new TextDecoder().decode(e.payload))
    await say(`bob's last three kind-1 events: ${last.join(' | ')}`)

    // Reopen: everything acknowledged is still there.
    stage('reopening')
    await db.close()
    open.pop()
    t = performance.now()
    db = await Xaeroflux.open({ path: dir, group: 'demo', identity: alice })
    open.push(db)
    await say(`reopened in ${(performance.now() - t).toFixed(0)} ms: ${await db.count()} events`)

    stage('Merkle root and proof')
    const keys = []
    for await (const e of db.range()) keys.push(e.key)
    t = performance.now()
    const root = merkleRoot(keys)
    await report('Merkle root over', keys.length, t)
    await say(`root = ${root} (equal sets give equal roots on every peer: ${merkleRoot(keys.slice().reverse()) === root})`)
    const proof = await db.prove(keys[keys.length - 1])
    await say(`proof that the latest event is stored: ${proof.length} bytes, verifies: ${verifyProof(proof, await db.root())}`)

    // A second peer holds every other event and 300 of its own; reconciliation finds the difference.
    stage('reconciling with a peer')
    const peer = await Xaeroflux.open({ group: 'demo', identity: bob })
    open.push(peer)
    const mine: Uint8Array[] = []
    let i = 0
    for await (const e of db.range()) if (i++ % 2 === 0) mine.push(e.bytes)
    await peer.ingestMany(mine)
    for (let j = 0; j < 300; j++) await peer.append({ kind: 2, payload: `only on the peer ${j}` })
    await peer.flush()
    t = performance.now()
    const a = db.reconcile(), b = peer.reconcile()
    let msg: Uint8Array | undefined = await a.open(), rounds = 0, bytes = 0
    while (msg) {
      rounds++; bytes += msg.length
      const reply: Uint8Array | undefined = await b.receive(msg)
      bytes += reply?.length ?? 0
      msg = reply && await a.receive(reply)
    }
    await say(`reconciled ${await db.count()} and ${await peer.count()} events in ${rounds} round trips, ${bytes} bytes, ${(performance.now() - t).toFixed(0)} ms: ` +
      `this side lacks ${a.need.length}, the peer lacks ${a.have.length}`)

    stage('exchanging the difference')
    for (const id of a.need) await db.ingest((await peer.get(id))!.bytes)
    await peer.ingestMany(await Promise.all(a.have.map(async (id) => (await db.get(id))!.bytes)))
    await db.flush(); await peer.flush()
    await say(`after exchanging them: ${await db.count()} events each, equal roots: ${(await db.root()) === (await peer.root())}`)
  } finally {
    bar.end()
    for (const store of open) await store.close().catch(() => {})
    await rm(dir, { recursive: true, force: true })
  }
}
