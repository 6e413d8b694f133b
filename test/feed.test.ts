// The store's internal stream of indexed events (src/store/feed.ts), which the network layer
// subscribes to: every newly indexed event once, with where it came from.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Identity, Xaeroflux, encodeEvent, groupId } from '../src/index.js'
import { internals, type Origin } from '../src/db.js'
import { Wal } from '../src/store/wal.js'
import { join } from 'node:path'
import { tempDir } from './helpers/store.js'

const GROUP = 'feed'
const other = Identity.fromSecretKey(new Uint8Array(32).fill(5))
const envelope = (payload: string) => encodeEvent({ kind: 1, group: groupId(GROUP), payload }, other)

test('appends are announced once each, once written to the log, before their append resolves; ingests are not', async () => {
  const { dir, remove } = tempDir()
  try {
    const db = await Xaeroflux.open({ path: dir, group: GROUP, identity: Identity.generate(), workers: 0 })
    const heard: string[] = []
    let resolved = 0
    const stop = db[internals].onAppended((events) => {
      for (const e of events) heard.push(e.id)
      assert.is(resolved, 0, 'announced before any of the appends resolved')
    })
    const pending = Array.from({ length: 5 }, (_, i) => db.append({ kind: 1, payload: `mine ${i}` }).then((e) => { resolved++; return e }))
    const appended = await Promise.all(pending)
    await db.ingest(envelope('theirs'))
    await db.flush()
    assert.equal(heard.sort(), appended.map((e) => e.id).sort())
    stop()
    await db.append({ kind: 1, payload: 'after stop' })
    assert.is(heard.length, 5, 'a removed listener hears nothing')
    await db.close()
  } finally {
    remove()
  }
})

test('each indexed event is announced once, with its origin (append, ingest, a peer); a removed listener hears nothing', async () => {
  const { dir, remove } = tempDir()
  try {
    const me = Identity.generate()
    let db = await Xaeroflux.open({ path: dir, group: GROUP, identity: me, workers: 0 })
    const seen = new Map<string, Origin[]>()
    const listen = (store: Xaeroflux) => store[internals].onIndexed((events, origins) => {
      assert.is(events.length, origins.length)
      events.forEach((e, i) => seen.set(e.id, [...(seen.get(e.id) ?? []), origins[i]]))
    })
    listen(db)
    const theirs = envelope('theirs'), relayed = envelope('relayed')
    const appended = await db.append({ kind: 1, payload: 'mine' })
    const ingested = await db.ingest(theirs)
    const [fromPeer] = await db[internals].ingestMany([relayed], { peer: 'peer-a' })
    await db[internals].ingestMany([relayed], { peer: 'peer-b' }) // a duplicate: not announced again
    await db.ingest(theirs)
    await db.flush()
    assert.equal(seen.get(appended.id), ['append'])
    assert.equal(seen.get(ingested.id), ['ingest'])
    assert.equal(seen.get((fromPeer as { id: string }).id), [{ peer: 'peer-a' }])
    assert.is(seen.size, 3)
    await db.close()
    // A logged event not yet indexed when the process stopped is indexed at the next open.
    const late = envelope('logged, never indexed')
    const wal = await Wal.open(join(dir, 'wal'), 'sync')
    await wal.replay({ segment: 1, offset: 0 }, () => {})
    await wal.appendMany([late])
    await wal.close()
    seen.clear()
    const replayed: Origin[] = []
    db = await Xaeroflux.open({ path: dir, group: GROUP, workers: 0 })
    assert.is(db.recovery.replayed, 1)
    assert.is(await db.count(), 4)
    listen(db)
    const stop = db[internals].onIndexed((_, origins) => replayed.push(...origins))
    stop()
    await db.ingest(envelope('after reopen'))
    await db.flush()
    assert.is(seen.size, 1, 'a removed listener hears nothing; the others do')
    assert.equal(replayed, [])
    await db.close()
  } finally {
    remove()
  }
})

test.run()
