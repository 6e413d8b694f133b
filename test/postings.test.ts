// Posting blocks (src/store/postings.ts) against a brute-force filter: batches of keys of a few
// index values, some dense and some spread over many spans, some overlapping in time, read
// back forward and in reverse over random ranges.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { MemoryLevel } from 'memory-level'
import { POSTING_SPAN, postingBlocks, postingKeys } from '../src/store/postings.js'
import { compareKeys } from '../src/merkle/keys.js'
import type { Sub } from '../src/store/queries.js'
import { XaeroError } from '../src/index.js'
import { makeKey, rng } from './helpers/keys.js'

type Bytes = Uint8Array
const hex = (b: Bytes) => Buffer.from(b).toString('hex')
const VALUES = [Uint8Array.of(0, 1), Uint8Array.of(0, 2), Uint8Array.of(7, 0)]

// postingBlocks takes a batch's events in key order, as the indexer gives them.
const byKey = <T extends { key: Bytes }>(items: T[]) => items.slice().sort((a, b) => compareKeys(a.key, b.key))

async function store(batches: Array<Array<{ key: Bytes; value: Bytes }>>) {
  const db = new MemoryLevel<Bytes, Bytes>({ keyEncoding: 'view', valueEncoding: 'view' })
  const index = db.sublevel<Bytes, Bytes>('by-kind', { keyEncoding: 'view', valueEncoding: 'view' }) as unknown as Sub
  for (const batch of batches) {
    await index.batch(postingBlocks(byKey(batch), (e) => e.key, (e) => e.value, 0, 2).map((b) => ({ type: 'put' as const, key: b.key, value: b.value })))
  }
  return { db, index }
}

async function collect(it: AsyncIterable<Bytes>): Promise<string[]> {
  const out: string[] = []
  for await (const k of it) out.push(hex(k))
  return out
}

test('blocks never span POSTING_SPAN, hold each key once, and are keyed by value ‖ first key', () => {
  const random = rng(5)
  const items = Array.from({ length: 2000 }, () => ({ key: makeKey(1_000_000 + Math.floor(random() * 20 * POSTING_SPAN)), value: VALUES[Math.floor(random() * 3)] }))
  const blocks = postingBlocks(byKey(items), (e) => e.key, (e) => e.value, 0, 2)
  const seen: string[] = []
  for (const b of blocks) {
    assert.is(b.value.length % 40, 0)
    const keys = Array.from({ length: b.value.length / 40 }, (_, i) => b.value.subarray(i * 40, i * 40 + 40))
    assert.equal(b.key.subarray(2), keys[0], 'the entry key is value ‖ first key')
    const value = b.key.subarray(0, 2)
    for (const k of keys) assert.ok(items.some((e) => hex(e.key) === hex(k) && hex(e.value) === hex(value)))
    for (let i = 1; i < keys.length; i++) assert.ok(compareKeys(keys[i - 1], keys[i]) < 0, 'in order')
    const span = Buffer.from(keys.at(-1)!).readBigUInt64BE() - Buffer.from(keys[0]).readBigUInt64BE()
    assert.ok(span < BigInt(POSTING_SPAN), `a block spans ${span} ms`)
    seen.push(...keys.map(hex))
  }
  assert.equal(seen.sort(), items.map((e) => hex(e.key)).sort())
})

test('range reads equal a brute-force filter, forward and reverse', async () => {
  const random = rng(77)
  const T0 = 1_700_000_000_000
  const all: Array<{ key: Bytes; value: Bytes }> = []
  const batches: Array<typeof all> = []
  for (let b = 0; b < 60; b++) {
    // dense batches (live appends), batches spread over many spans (history from a peer), and
    // batches landing inside earlier ones, so blocks overlap
    const base = T0 + Math.floor(random() * 30 * POSTING_SPAN)
    const spread = [5, POSTING_SPAN * 3, POSTING_SPAN * 40][b % 3]
    const batch = Array.from({ length: 1 + Math.floor(random() * 80) }, () => ({ key: makeKey(base + Math.floor(random() * spread)), value: VALUES[Math.floor(random() * 3)] }))
    batches.push(batch)
    all.push(...batch)
  }
  const { db, index } = await store(batches)
  try {
    for (let round = 0; round < 300; round++) {
      const value = VALUES[round % 3]
      const from = round % 10 === 0 ? 0 : T0 + Math.floor(random() * 45 * POSTING_SPAN)
      const to = round % 10 === 1 ? 2 ** 53 - 1 : from + Math.floor(random() * 20 * POSTING_SPAN)
      const reverse = round % 2 === 1
      const time = (k: Bytes) => Number(Buffer.from(k).readBigUInt64BE())
      const expected = all.filter((e) => hex(e.value) === hex(value) && time(e.key) >= from && time(e.key) < to).map((e) => e.key).sort(compareKeys).map(hex)
      if (reverse) expected.reverse()
      assert.equal(await collect(postingKeys(index, value, from, to, reverse)), expected, JSON.stringify({ round, from, to, reverse }))
    }
  } finally {
    await db.close()
  }
})

test('a malformed block is E_CORRUPT_INDEX', async () => {
  const { db, index } = await store([[{ key: makeKey(5), value: VALUES[0] }]])
  try {
    await index.put(new Uint8Array([...VALUES[0], ...makeKey(6)]), new Uint8Array(39))
    await collect(postingKeys(index, VALUES[0], 0, 100, false)).then(
      () => assert.unreachable('read a 39-byte block'),
      (e) => assert.ok(e instanceof XaeroError && e.code === 'E_CORRUPT_INDEX', String(e)))
  } finally {
    await db.close()
  }
})

test.run()
