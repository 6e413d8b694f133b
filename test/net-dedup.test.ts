// The network's duplicate filter (src/net/dedup.ts), over a real in-memory store: copies of held
// or in-flight events skip verification, and no copy (forged or not) can keep the real event out.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Identity, Xaeroflux, XaeroError, decodeEvent, encodeEvent, groupId } from '../src/index.js'
import { Deduplicator, envelopeIds } from '../src/net/dedup.js'

const GROUP = 'dedup'
const author = Identity.generate()
const envelope = (i: number) => encodeEvent({ kind: 1, timestamp: 1_700_000_000_000 + i, group: groupId(GROUP), payload: `event ${i}` }, author)
const forge = (e: Uint8Array) => { const f = e.slice(); f[f.length - 1] ^= 1; return f }

/** A store and an ingest that counts what reaches it. */
async function counted() {
  const db = await Xaeroflux.open({ group: GROUP, workers: 0 })
  const seen: Uint8Array[] = []
  const ingest = (envelopes: readonly Uint8Array[]) => { seen.push(...envelopes); return db.ingestMany(envelopes) }
  return { db, seen, ingest }
}

test('ids are the events\' ids; an envelope whose length field does not match has none', () => {
  const e = envelope(1)
  const bad = e.slice(0, e.length - 1)
  assert.equal(envelopeIds([e, bad, new Uint8Array(10)]), [decodeEvent(e).id, undefined, undefined])
})

test('ids of many envelopes of mixed sizes, hashed four at a time in batches, are each event\'s id', () => {
  const envelopes: Uint8Array[] = [], expected: Array<string | undefined> = []
  for (let i = 0; i < 700; i++) {
    // Payloads from 0 to ~1 KiB: messages of one to many SHA-256 blocks side by side in the lanes.
    const e = encodeEvent({ kind: 1, timestamp: 1_700_000_000_000 + i, group: groupId(GROUP), payload: new Uint8Array((i * 37) % 1100).fill(i & 255) }, author)
    if (i % 97 === 5) { envelopes.push(e.subarray(0, e.length - 3)); expected.push(undefined); continue }
    envelopes.push(e)
    expected.push(decodeEvent(e).id)
  }
  assert.equal(envelopeIds(envelopes), expected)
  assert.equal(envelopeIds([]), [])
})

test('an event stored once is not ingested again; a malformed envelope still reaches validation', async () => {
  const { db, seen, ingest } = await counted()
  const d = new Deduplicator()
  const first = await d.ingestMany([envelope(1), envelope(2)], ingest)
  assert.ok(first.every((o) => o !== null && !(o instanceof XaeroError)))
  const again = await d.ingestMany([envelope(1), envelope(3), new Uint8Array(5)], ingest)
  assert.is(again[0], null)
  assert.ok(again[1] && !(again[1] instanceof XaeroError))
  assert.instance(again[2], XaeroError)
  assert.is(seen.length, 4) // 1, 2, then 3 and the malformed one
  assert.is(await db.count(), 3)
  await db.close()
})

test('a copy arriving while the event is being ingested waits for it instead of being verified again', async () => {
  const { db, seen, ingest } = await counted()
  const d = new Deduplicator()
  const batch = Array.from({ length: 50 }, (_, i) => envelope(i))
  const [a, b] = await Promise.all([d.ingestMany(batch, ingest), d.ingestMany(batch, ingest)])
  assert.is(seen.length, 50)
  assert.ok(a.every((o) => o !== null && !(o instanceof XaeroError)))
  assert.ok(b.every((o) => o === null))
  assert.is(await db.count(), 50)
  await db.close()
})

test('a forged copy in flight first does not keep the real event out', async () => {
  const { db, seen, ingest } = await counted()
  const d = new Deduplicator()
  const real = envelope(7)
  const [forged, honest] = await Promise.all([d.ingestMany([forge(real)], ingest), d.ingestMany([real], ingest)])
  assert.instance(forged[0], XaeroError)
  assert.is((forged[0] as XaeroError).code, 'E_BAD_SIGNATURE')
  assert.ok(honest[0] && !(honest[0] instanceof XaeroError), 'the real event is ingested after the forged copy failed')
  assert.is(seen.length, 2)
  assert.is(await db.count(), 1)
  // Once stored, a forged copy is dropped without a check: it cannot change what is stored.
  assert.equal(await d.ingestMany([forge(real)], ingest), [null])
  assert.is((await db.get(decodeEvent(real).id))!.bytes.at(-1), real.at(-1))
  await db.close()
})

test('the filter forgets the oldest ids beyond its capacity', async () => {
  const { db, seen, ingest } = await counted()
  const d = new Deduplicator(3)
  await d.ingestMany([0, 1, 2, 3].map(envelope), ingest)
  await d.ingestMany([envelope(0), envelope(3)], ingest) // 0 was forgotten: ingested again (the store drops it); 3 was not
  assert.is(seen.length, 5)
  assert.is(await db.count(), 4)
  await db.close()
})

test.run()
