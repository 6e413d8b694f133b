// The indexer (src/store/indexer.ts) indexes events queued once written to the WAL, while their
// fsync runs, and announces a batch only once its WAL calls are durable.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Identity, groupId } from '../src/index.js'
import { signEvent } from '../src/event.js'
import { defaultRuntime } from '../src/core/default.js'
import { fromHex } from '../src/hex.js'
import { MerkleTree } from '../src/merkle/tree.js'
import { Indexer, type Queued } from '../src/store/indexer.js'
import { openLevel } from '../src/store/level.js'

const author = Identity.fromSecretKey(new Uint8Array(32).fill(7))
const group = fromHex(groupId('indexer'))

test('a batch is committed while its fsync runs, and announced (and caught up) only once that fsync settled', async () => {
  const { db, sub } = await openLevel(undefined)
  const announced: Queued[][] = []
  const indexer = new Indexer({
    db, events: sub.events, tree: new MerkleTree(defaultRuntime(), sub.pages, 64), merkleIndex: true, total: 0,
    onBatch: (batch) => { announced.push(batch) }, onStop: () => {},
  })
  let fsynced!: () => void
  const durable = new Promise<void>((resolve) => { fsynced = resolve })
  const events = [1, 2, 3].map((i) => signEvent({ kind: 1, group, payload: `event ${i}`, timestamp: 1_700_000_000_000 + i }, author))
  for (const e of events) indexer.enqueue(e, undefined, 'append', durable)
  let caughtUp = false
  const waiting = indexer.caughtUp().then(() => { caughtUp = true })

  // Committed without waiting for the fsync: its events can be read from LevelDB.
  for (let tries = 0; (await sub.events.getMany(events.map((e) => e.key))).includes(undefined); tries++) {
    assert.ok(tries < 500, 'the batch is committed while its fsync is pending')
    await new Promise((r) => setTimeout(r, 2))
  }
  await new Promise((r) => setTimeout(r, 20))
  assert.is(announced.length, 0, 'not announced before its fsync settled')
  assert.not.ok(caughtUp, 'caughtUp waits for the fsync too')

  fsynced()
  await waiting
  assert.is(announced.length, 1, 'announced once durable')
  assert.equal(announced[0].map((q) => q.event.id).sort(), events.map((e) => e.id).sort())
  assert.is(indexer.total, 3)
  await db.close()
})

test('an announcement that throws fails indexing: a later caughtUp rejects with it instead of waiting for ever', async () => {
  const { db, sub } = await openLevel(undefined)
  const indexer = new Indexer({
    db, events: sub.events, tree: new MerkleTree(defaultRuntime(), sub.pages, 64), merkleIndex: true, total: 0,
    onBatch: () => { throw new Error('a listener broke') }, onStop: () => {},
  })
  const [first, second] = [0, 1].map((i) => signEvent({ kind: 1, group, payload: `event ${i}`, timestamp: 1_700_000_000_000 + i }, author))
  indexer.enqueue(first, undefined, 'append', Promise.resolve())
  await indexer.caughtUp() // its batch was counted before the listener threw
  indexer.enqueue(second, undefined, 'append', Promise.resolve())
  await new Promise((r) => setTimeout(r, 50))
  const outcome = await Promise.race([
    indexer.caughtUp().then(() => 'resolved', (e: Error) => e.message),
    new Promise((r) => setTimeout(() => r('still waiting after 2 s'), 2000)),
  ])
  assert.is(outcome, 'a listener broke')
  await db.close()
})

test.run()
