// The store's lifecycle (opening → open → closing → closed), on every backend, under a
// watchdog: no promise may stay pending after 10 s. Each test here failed on 2acba3e.
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { Identity, Xaeroflux, encodeEvent, groupId, type Event } from '../src/index.js'
import { openCursorIterators } from '../src/store/cursor.js'
import { backends } from './helpers/store.js'
import { isCode, outcomes, rejection, within } from './helpers/watchdog.js'

const GROUP = 'lifecycle'
const other = Identity.fromSecretKey(new Uint8Array(32).fill(9))
const envelope = (i: number, timestamp = Date.now() - 60_000) => encodeEvent({ kind: 1, timestamp, group: groupId(GROUP), payload: `ingested ${i}` }, other)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

for (const backend of backends()) {
  const test = suite(`lifecycle, ${backend.name}`)
  const me = Identity.generate()
  test.after(() => backend.cleanup())

  test('flush covers every call made before it, even those still queued for the workers', async () => {
    const db = await backend.open({ group: GROUP, identity: me })
    try {
      for (let round = 1; round <= 5; round++) {
        void db.append({ kind: 1, payload: `not awaited ${round}` })
        void db.ingest(envelope(round))
        void db.ingestMany([envelope(1000 + round)])
        await within(db.flush(), 'flush')
        assert.is(await db.count(), 3 * round, `round ${round}: the three calls made before flush are indexed`)
      }
    } finally {
      await within(db.close(), 'close')
    }
  })

  test('close settles every call in flight, whenever it comes during a burst of appends', async () => {
    for (const delay of [0, 1, 5, 10, 20]) {
      const db = await backend.open({ group: GROUP, identity: me })
      const appends = Array.from({ length: 2000 }, (_, i) => db.append({ kind: 2, payload: `burst ${i}` }))
      const ingests = Array.from({ length: 200 }, (_, i) => db.ingest(envelope(10_000 * delay + i)))
      if (delay > 0) await sleep(delay)
      const closing = db.close()
      assert.is(db.status, 'closing')
      const results = await outcomes([...appends, ...ingests], `appends and ingests with close after ${delay} ms`)
      await within(closing, 'close')
      assert.is(db.status, 'closed')
      // Accepted before close: finished, not dropped.
      assert.ok(results.every((r) => r.ok), `delay ${delay}: every call made before close resolved`)
    }
  })

  test('a second close waits for the first; every call after close rejects with E_CLOSED', async () => {
    const db = await backend.open({ group: GROUP, identity: me })
    const ev = await db.append({ kind: 3, payload: 'x' })
    void db.append({ kind: 3, payload: 'in flight' })
    const first = db.close(), second = db.close()
    await within(second, 'the second close')
    assert.is(db.status, 'closed', 'the second close resolved only once the store was closed')
    await within(first, 'the first close')
    const calls: Record<string, () => unknown> = {
      append: () => db.append({ kind: 1, payload: 'late' }),
      ingest: () => db.ingest(envelope(1)),
      ingestMany: () => db.ingestMany([envelope(2)]),
      flush: () => db.flush(),
      get: () => db.get(ev.id),
      count: () => db.count(),
      root: () => db.root(),
      prove: () => db.prove(ev.id),
      rebuildIndex: () => db.rebuildIndex(),
      range: () => db.range().next(),
      subscribe: () => db.subscribe({}, () => {}),
      reconcile: () => db.reconcile(),
    }
    for (const [name, call] of Object.entries(calls)) assert.ok(isCode('E_CLOSED')(await rejection(call, name)), `${name} after close`)
    await within(db.close(), 'close again')
  })

  test('iterators and reconciliations begun before close end with E_CLOSED', async () => {
    const db = await backend.open({ group: GROUP, identity: me })
    await db.ingestMany(Array.from({ length: 600 }, (_, i) => envelope(i, Date.now() - 100_000 + i)))
    await db.flush()
    const byTime = db.range()
    const byAuthor = db.range({ author: other.publicKey })
    assert.ok(!(await byTime.next()).done)
    assert.ok(!(await byAuthor.next()).done)
    const peer = await Xaeroflux.open({ group: GROUP, workers: 0 })
    const mine = db.reconcile(), theirs = peer.reconcile()
    const opening = await mine.open()
    const reply = await theirs.receive(opening)
    await within(db.close(), 'close')
    const drain = async (it: AsyncGenerator<Event>) => { for (let r = await it.next(); !r.done; r = await it.next()); }
    assert.ok(isCode('E_CLOSED')(await rejection(() => drain(byTime), 'a range by time')), 'range by time')
    assert.ok(isCode('E_CLOSED')(await rejection(() => drain(byAuthor), 'a range by author')), 'range by author')
    assert.ok(reply, 'the peer answered')
    assert.ok(isCode('E_CLOSED')(await rejection(() => mine.receive(reply!), 'a reconciliation')), 'reconciliation')
    await peer.close()
  })

  test('an abandoned range holds no LevelDB iterator', async () => {
    const db = await backend.open({ group: GROUP, identity: me })
    try {
      await db.ingestMany(Array.from({ length: 400 }, (_, i) => envelope(i, Date.now() - 200_000 + i)))
      await db.flush()
      for (let i = 0; i < 50; i++) {
        const it = i % 2 ? db.range() : db.range({ kind: 1, reverse: true })
        assert.ok(!(await it.next()).done)
        // then dropped without return(): what an app that breaks off with an exception does
      }
      assert.is(openCursorIterators(), 0, 'no LevelDB iterator is left open between reads')
    } finally {
      await within(db.close(), 'close')
    }
  })

  test.run()
}

const test = suite('lifecycle: what open checks')

test('append refuses a timestamp further ahead than maxSkew, as every peer would', async () => {
  const me = Identity.generate()
  const db = await Xaeroflux.open({ group: GROUP, identity: me, workers: 0, maxSkew: 60_000 })
  try {
    const yearAhead = Date.now() + 365 * 86_400_000
    assert.ok(isCode('E_FUTURE_TIMESTAMP')(await rejection(() => db.append({ kind: 1, payload: 'x', timestamp: yearAhead }), 'a year ahead')))
    await db.append({ kind: 1, payload: 'within skew', timestamp: Date.now() + 30_000 })
    await db.flush()
    assert.is(await db.count(), 1)
  } finally {
    await db.close()
  }
})

test('open checks its options: misuse is a TypeError or RangeError', async () => {
  const bad: Array<[string, Record<string, unknown>, ErrorConstructor]> = [
    ['maxSkew NaN', { maxSkew: NaN }, RangeError],
    ['maxSkew Infinity', { maxSkew: Infinity }, RangeError],
    ['maxSkew a string', { maxSkew: '600000' }, TypeError],
    ['maxSkew negative', { maxSkew: -1 }, RangeError],
    ['an empty group', { group: '' }, RangeError],
    ['an identity that is not one', { identity: { publicKey: new Uint8Array(32) } }, TypeError],
    ['a typo: Path', { Path: '/tmp/nowhere' }, TypeError],
    ['workers fractional', { workers: 1.5 }, RangeError],
    ['merkleIndex a string', { merkleIndex: 'no' }, TypeError],
  ]
  for (const [what, options, kind] of bad) {
    const e = await rejection(() => Xaeroflux.open({ group: GROUP, ...options } as never), what)
    assert.ok(e instanceof kind, `${what}: ${e}`)
  }
})

test('ingestMany gives one result per envelope, a lone rejected one included', async () => {
  const writer = Identity.generate()
  const db = await Xaeroflux.open({ group: GROUP, writers: [writer.publicKey], workers: 0 })
  try {
    const results = await within(db.ingestMany([envelope(1)]), 'ingestMany')
    assert.is(results.length, 1)
    assert.ok(isCode('E_NOT_WRITER')(results[0]), 'the lone envelope by a non-writer is a result, not a rejection')
    const mixed = await db.ingestMany([envelope(2), encodeEvent({ kind: 1, group: groupId(GROUP), payload: 'ok' }, writer), envelope(4).subarray(0, 100)])
    assert.is(mixed.length, 3)
    assert.ok(isCode('E_NOT_WRITER')(mixed[0]))
    assert.ok(!(mixed[1] instanceof Error))
    assert.ok(isCode('E_TRUNCATED')(mixed[2]))
    assert.ok(isCode('E_NOT_WRITER')(await rejection(() => db.ingest(envelope(3)), 'ingest of a non-writer')))
  } finally {
    await db.close()
  }
})

test.run()
