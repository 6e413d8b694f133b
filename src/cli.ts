#!/usr/bin/env node
// The `xaeroflux` command. Each subcommand is one function; `help` lists them.
import { performance } from 'node:perf_hooks'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Identity, Xaeroflux, groupId, encodeEvent, merkleRoot, verifyProof, XaeroError } from './index.js'

const commands: Record<string, { summary: string; run: (args: string[]) => Promise<void> | void }> = {
  demo: { summary: 'a store on disk: appends, ingests (tampered too), queries, reopen, proofs, reconciliation with a peer', run: demo },
  help: { summary: 'list the commands', run: help },
}

function help(): void {
  console.log('usage: xaeroflux <command>\n')
  for (const [name, c] of Object.entries(commands)) console.log(`  ${name.padEnd(8)} ${c.summary}`)
}

async function demo(args: string[]): Promise<void> {
  const count = Number(args[0] ?? 20_000)
  const dir = await mkdtemp(join(tmpdir(), 'xaeroflux-demo-'))
  const alice = Identity.generate(), bob = Identity.generate()
  console.log(`store ${dir}, group 'demo' = ${groupId('demo')}`)
  console.log(`alice = ${alice.id.slice(0, 16)}…, bob = ${bob.id.slice(0, 16)}…`)
  try {
    // Alice appends to her store; each append resolves once it is durable in the WAL.
    let db = await Xaeroflux.open({ path: dir, group: 'demo', identity: alice, durability: 'batch' })
    let live = 0
    db.subscribe({ kind: 1 }, () => live++)
    let t = performance.now()
    await Promise.all(Array.from({ length: count }, (_, i) => db.append({ kind: i % 3, payload: `alice says ${i}` })))
    report('appended (signed, logged, fsynced)', count, t)

    // Bob's events arrive from elsewhere: validated on worker threads, then stored.
    const group = groupId('demo')
    const fromBob = Array.from({ length: count }, (_, i) => encodeEvent({ kind: 1, group, payload: `bob says ${i}` }, bob))
    fromBob[7] = fromBob[7].slice(); fromBob[7][90] ^= 1   // tampered on the way
    fromBob[8] = fromBob[8].subarray(0, 100)               // cut short
    t = performance.now()
    const results = await db.ingestMany(fromBob)
    await db.flush()
    report('ingested (validated: structure, id, Ed25519 signature)', count, t)
    for (const r of results) if (r instanceof XaeroError) console.log(`  rejected: ${r.code} (${r.message})`)
    await db.ingest(fromBob[0])
    console.log(`ingesting an event again changes nothing: count = ${await db.count()}, live kind-1 deliveries = ${live}`)

    const last = []
    for await (const e of db.range({ author: bob.id, kind: 1, reverse: true, limit: 3 })) last.push(new TextDecoder().decode(e.payload))
    console.log(`bob's last three kind-1 events: ${last.join(' | ')}`)

    // Reopen: everything acknowledged is still there.
    await db.close()
    t = performance.now()
    db = await Xaeroflux.open({ path: dir, group: 'demo', identity: alice })
    console.log(`reopened in ${(performance.now() - t).toFixed(0)} ms: ${await db.count()} events`)
    const keys = []
    for await (const e of db.range()) keys.push(e.key)
    t = performance.now()
    const root = merkleRoot(keys)
    report('Merkle root over', keys.length, t)
    console.log(`root = ${root} (equal sets give equal roots on every peer: ${merkleRoot(keys.slice().reverse()) === root})`)
    const proof = await db.prove(keys[keys.length - 1])
    console.log(`proof that the latest event is stored: ${proof.length} bytes, verifies: ${verifyProof(proof, await db.root())}`)

    // A second peer holds every other event and 300 of its own; reconciliation finds the difference.
    const peer = await Xaeroflux.open({ group: 'demo', identity: bob })
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
    console.log(`reconciled ${await db.count()} and ${await peer.count()} events in ${rounds} round trips, ${bytes} bytes, ${(performance.now() - t).toFixed(0)} ms: ` +
      `this side lacks ${a.need.length}, the peer lacks ${a.have.length}`)
    for (const id of a.need) await db.ingest((await peer.get(id))!.bytes)
    await peer.ingestMany(await Promise.all(a.have.map(async (id) => (await db.get(id))!.bytes)))
    await db.flush(); await peer.flush()
    console.log(`after exchanging them: ${await db.count()} events each, equal roots: ${(await db.root()) === (await peer.root())}`)
    await peer.close()
    await db.close()
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

function report(what: string, n: number, since: number): void {
  const ms = performance.now() - since
  console.log(`${what} ${n} events in ${ms.toFixed(0)} ms (${Math.round(n / (ms / 1000)).toLocaleString('en')}/s)`)
}

const [name = 'help', ...args] = process.argv.slice(2)
const command = commands[name]
if (!command) {
  console.error(`unknown command: ${name}`)
  help()
  process.exit(2)
}
try {
  await command.run(args)
} catch (e) {
  console.error(e instanceof XaeroError ? `${e.code}: ${e.message}` : e)
  process.exit(1)
}
