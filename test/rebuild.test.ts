import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ClassicLevel } from 'classic-level'
import { Xaeroflux, Identity, encodeEvent, groupId, merkleRoot, verifyProof, type Event } from '../src/index.js'
import { tempDir } from './helpers/store.js'
import { rng } from './helpers/keys.js'

const group = groupId('rebuild')
const random = rng(5)
const T0 = Date.now() - 10 * 3_600_000
const author = Identity.generate()
const envelopes = Array.from({ length: 4000 }, (_, i) =>
  encodeEvent({ kind: 1, timestamp: T0 + Math.floor(random() * 10 * 3_600_000), group, payload: `e${i}` }, author))

async function collect(db: Xaeroflux): Promise<Event[]> {
  const out: Event[] = []
  for await (const e of db.range()) out.push(e)
  return out
}

/** Rewrites stored Merkle pages with a plain classic-level while the store is closed. */
async function tamper(dir: string, change: (pages: Array<[Uint8Array, Uint8Array]>) => Array<[Uint8Array, Uint8Array | undefined]>) {
  const plain = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' })
  const pages = plain.sublevel<Uint8Array, Uint8Array>('pages', { keyEncoding: 'view', valueEncoding: 'view' })
  const all: Array<[Uint8Array, Uint8Array]> = []
  for await (const [k, v] of pages.iterator()) all.push([new Uint8Array(k), new Uint8Array(v)])
  for (const [k, v] of change(all)) await (v ? pages.put(k, v) : pages.del(k))
  await plain.close()
}

test('rebuildIndex finds and repairs pages corrupted or lost on disk', async () => {
  const { dir, remove } = tempDir()
  try {
    let db = await Xaeroflux.open({ path: dir, group: 'rebuild', workers: 0 })
    await db.ingestMany(envelopes)
    await db.flush()
    const expected = await db.root()
    assert.is((await db.rebuildIndex()).pagesRepaired.length, 0, 'a sound index needs no repair')
    await db.close()

    // Damage a deep page (a flipped byte in a leaf key) and drop another one.
    let damaged = '', dropped = ''
    await tamper(dir, (pages) => {
      const deep = pages.filter(([k]) => k[0] >= 6)
      const [k1, v1] = deep[Math.floor(deep.length / 3)]
      const [k2] = deep[Math.floor((2 * deep.length) / 3)]
      const bad = v1.slice()
      bad[bad.length - 1] ^= 0xff
      damaged = Buffer.from(k1).toString('hex')
      dropped = Buffer.from(k2).toString('hex')
      return [[k1, bad], [k2, undefined]]
    })

    db = await Xaeroflux.open({ path: dir, group: 'rebuild', workers: 0 })
    const report = await db.rebuildIndex()
    assert.ok(report.pagesRepaired.includes(damaged), 'the damaged page is found')
    assert.ok(report.pagesRepaired.includes(dropped), 'the missing page is found')
    assert.is(report.rootRepaired, false, 'the root slot itself was intact')
    assert.is(await db.root(), expected)
    const events = await collect(db)
    assert.is(await db.root(), merkleRoot(events.map((e) => e.key)))
    for (const e of events.filter((_, i) => i % 97 === 0)) assert.ok(verifyProof(await db.prove(e.id), expected))
    assert.is((await db.rebuildIndex()).pagesRepaired.length, 0, 'repaired for good')
    // and the store goes on indexing over the repaired pages
    await db.ingest(encodeEvent({ kind: 2, group, payload: 'after' }, author))
    await db.flush()
    assert.is(await db.root(), merkleRoot((await collect(db)).map((e) => e.key)))
    await db.close()
  } finally {
    remove()
  }
})

test('a time-limited rebuild checks only the pages of its range', async () => {
  const { dir, remove } = tempDir()
  try {
    let db = await Xaeroflux.open({ path: dir, group: 'rebuild', workers: 0 })
    await db.ingestMany(envelopes)
    await db.flush()
    const events = await collect(db)
    await db.close()
    // damage the page holding the latest event's leaf: its prefix is that key's first bytes
    const last = events[events.length - 1].key
    let damaged = ''
    await tamper(dir, (pages) => {
      const holding = pages.filter(([k]) => Buffer.compare(Buffer.from(k.subarray(1)), Buffer.from(last.subarray(0, k[0]))) === 0)
      const [k, v] = holding[holding.length - 1]
      const bad = v.slice()
      bad[bad.length - 1] ^= 1
      damaged = Buffer.from(k).toString('hex')
      return [[k, bad]]
    })
    db = await Xaeroflux.open({ path: dir, group: 'rebuild', workers: 0 })
    const early = await db.rebuildIndex({ from: T0, to: events[10].timestamp })
    assert.not.ok(early.pagesRepaired.includes(damaged), 'outside the range: not checked')
    assert.ok(early.pagesChecked > 0)
    const late = await db.rebuildIndex({ from: events[events.length - 5].timestamp, to: Date.now() })
    assert.ok(late.pagesRepaired.includes(damaged))
    assert.is(await db.root(), merkleRoot(events.map((e) => e.key)))
    await db.close()
  } finally {
    remove()
  }
})

test('a store written with merkleIndex: false rebuilds its index when opened with it', async () => {
  const { dir, remove } = tempDir()
  try {
    const first = envelopes.slice(0, 1500), later = envelopes.slice(1500)
    let db = await Xaeroflux.open({ path: dir, group: 'rebuild', workers: 0 })
    await db.ingestMany(first)
    await db.flush()
    const newestOf = async () => (await db.range({ reverse: true, limit: 1 })[Symbol.asyncIterator]().next()).value as Event
    const newestFirst = await newestOf()
    await db.close()
    db = await Xaeroflux.open({ path: dir, group: 'rebuild', workers: 0, merkleIndex: false })
    // Repeats are no-ops, the greatest stored key too: only keys above it are taken as new unread.
    const again = await db.ingestMany([...later, ...first.slice(0, 100), later[0], newestFirst.bytes])
    assert.ok(again.every((r) => !(r instanceof Error)))
    await db.flush()
    assert.is(await db.count(), envelopes.length)
    await db.ingestMany([(await newestOf()).bytes, newestFirst.bytes])
    await db.flush()
    assert.is(await db.count(), envelopes.length)
    assert.throws(() => db.reconcile(), TypeError)
    let refused = false
    await db.root().catch((e) => { refused = e instanceof TypeError })
    assert.ok(refused, 'root() is refused without the index')
    await db.close()

    db = await Xaeroflux.open({ path: dir, group: 'rebuild', workers: 0 })
    const keys = (await collect(db)).map((e) => e.key)
    assert.is(keys.length, envelopes.length)
    assert.is(await db.root(), merkleRoot(keys))
    for (const e of (await collect(db)).slice(0, 50)) assert.ok(verifyProof(await db.prove(e.id), await db.root()))
    assert.is((await db.rebuildIndex()).pagesRepaired.length, 0, 'the rebuilt index is sound')
    await db.close()
  } finally {
    remove()
  }
})

test.run()
