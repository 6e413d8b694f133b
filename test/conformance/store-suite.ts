// The store's conformance suite: the same test bodies on every backend, in Node
// (test/store.test.ts: classic-level and memory-level) and in Chromium
// (test/browser/conformance-page.ts: browser-level on IndexedDB). Nothing here may be Node-only
// (no Buffer, no node: modules): the page bundles this file.
import type { suite as Suite } from 'uvu'
import * as assert from 'uvu/assert'
import { Identity, Xaeroflux, encodeEvent, groupId, merkleRoot, verifyProof, verifyAbsence, XaeroError, type Event, type OpenOptions, type XaeroErrorCode } from '../../src/index.js'
import { rng } from '../helpers/rng.js'

/** One way to open a store: every store test runs on each of these. */
export interface Backend {
  name: string
  /** Opens a new, empty store. */
  open(options: Omit<OpenOptions, 'path'>): Promise<Xaeroflux>
  /** Removes what the stores it opened left behind; they are closed. */
  cleanup(): void | Promise<void>
}

/** One store kept across a close: each `open` opens the same store again. */
export interface Place {
  open(options: Omit<OpenOptions, 'path'>): Promise<Xaeroflux>
  remove(): void | Promise<void>
}

export interface SuiteOptions {
  /** uvu's `suite`, or one that wraps it (the page's records each test's outcome). */
  suite: typeof Suite
  /** Events in the corpus ingested by every backend (at least 3500). */
  events: number
}

const group = groupId('friends')
const authors = Array.from({ length: 5 }, (_, i) => Identity.fromSecretKey(new Uint8Array(32).fill(i + 1)))
const T0 = Date.now() - 3_600_000

// The corpus of each size, signed once (at first use, not at import) and shared by every backend.
const corpora = new Map<number, Uint8Array[]>()
function corpusOf(size: number): Uint8Array[] {
  let corpus = corpora.get(size)
  if (!corpus) {
    const random = rng(1234)
    corpus = Array.from({ length: size }, (_, i) => encodeEvent({
      kind: Math.floor(random() * 5),
      timestamp: T0 + Math.floor(random() * 3_600_000),
      group,
      payload: `event ${i}`,
    }, authors[Math.floor(random() * authors.length)]))
    corpora.set(size, corpus)
  }
  return corpus
}

const isCode = (code: XaeroErrorCode) => (e: unknown) => e instanceof XaeroError && e.code === code
const ids = (events: Event[]) => events.map((e) => e.id)
const u32 = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0)

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i]
  return a.length - b.length
}

async function collect(it: AsyncIterable<Event>): Promise<Event[]> {
  const out: Event[] = []
  for await (const e of it) out.push(e)
  return out
}

async function rejects(p: () => Promise<unknown>, check: (e: unknown) => boolean, what: string) {
  try { await p() } catch (e) { assert.ok(check(e), `${what}: ${e}`); return }
  assert.unreachable(`${what} did not throw`)
}

/** Defines and runs (queues, under uvu's CLI) the suite named `backend.name`. */
export function storeSuite(backend: Backend, { suite, events }: SuiteOptions): void {
  if (!(events >= 3500)) throw new RangeError(`events: at least 3500, not ${events}`)
  const test = suite(backend.name)
  const me = Identity.generate()
  let db: Xaeroflux

  test.before(async () => { db = await backend.open({ group: 'friends', identity: me }) })
  test.after(async () => { await db?.close(); await backend.cleanup() }) // db: unset if before failed

  test('append resolves with the stored event; get and count see it once indexed', async () => {
    const e = await db.append({ kind: 7, payload: 'hello' })
    assert.is(e.author, me.id)
    assert.is(e.group, group)
    await db.flush()
    assert.is((await db.get(e.id))?.id, e.id)
    assert.equal((await db.get(e.id))?.payload, new TextEncoder().encode('hello'))
    assert.is(await db.count(), 1)
    assert.is(await db.get('00'.repeat(32)), undefined)
  })

  test('append stores the payload as it was at the call, whatever the caller does with it next', async () => {
    // Appends are sealed later, in batches: one buffer reused by its caller must not leak into them.
    const before = await db.count()
    const buffer = new Uint8Array(64)
    const appended = Array.from({ length: 300 }, (_, i) => {
      new DataView(buffer.buffer).setUint32(0, i)
      return db.append({ kind: 7, payload: buffer, timestamp: T0 - 86_400_000 }) // outside the queries below
    })
    buffer.fill(0xff)
    const events = await Promise.all(appended)
    await db.flush()
    for (const [i, e] of events.entries()) {
      assert.is(u32(e.payload), i)
      assert.is(u32((await db.get(e.id))!.payload), i)
    }
    assert.is(await db.count(), before + 300)
  })

  test('ingesting appended events before they are indexed stores and announces each once', async () => {
    const before = await db.count()
    let announced = 0
    const stop = db.subscribe({ kind: 8 }, () => announced++)
    // Each event is ingested the moment its append resolves: durable, most not yet indexed.
    const again = await Promise.all(Array.from({ length: 400 }, (_, i) =>
      db.append({ kind: 8, payload: `again ${i}`, timestamp: T0 - 86_400_000 }).then((e) => db.ingest(e.bytes))))
    await db.flush()
    stop()
    assert.is(await db.count(), before + 400)
    assert.is(announced, 400)
    assert.is(new Set(ids(await collect(db.range({ kind: 8 })))).size, 400)
    assert.is((await collect(db.range({ kind: 8 }))).length, 400)
    assert.ok(again.every((e) => e.kind === 8))
  })

  test(`ingest of ${events} events: queries equal a brute-force filter, a subscriber sees each once`, async () => {
    const corpus = corpusOf(events)
    const before = await db.count()
    const seen = new Map<string, number>()
    const stop = db.subscribe({}, (e) => seen.set(e.id, (seen.get(e.id) ?? 0) + 1))
    const results = await db.ingestMany(corpus)
    assert.ok(results.every((r) => !(r instanceof XaeroError)))
    await db.ingestMany(corpus.slice(0, 1000)) // again: no-ops
    await db.ingest(corpus[5])
    await db.flush()
    stop()
    assert.is(await db.count(), before + corpus.length)
    assert.is(seen.size, corpus.length)
    assert.ok([...seen.values()].every((n) => n === 1), 'each event delivered once')

    const all = (await collect(db.range())).filter((e) => e.author !== me.id)
    const byKey = (a: Event, b: Event) => compareBytes(a.key, b.key)
    assert.equal(ids(all), ids(all.slice().sort(byKey)), 'range is in key order')
    const q = rng(99)
    for (let round = 0; round < 40; round++) {
      const from = T0 + Math.floor(q() * 3_600_000), to = from + Math.floor(q() * 1_800_000)
      const author = q() < 0.5 ? authors[Math.floor(q() * 5)].id : undefined
      const kind = q() < 0.5 ? Math.floor(q() * 5) : undefined
      const limit = q() < 0.3 ? Math.floor(q() * 50) : undefined
      const reverse = q() < 0.5
      let expected = all.filter((e) => e.timestamp >= from && e.timestamp < to && (author === undefined || e.author === author) && (kind === undefined || e.kind === kind))
      if (reverse) expected.reverse()
      if (limit !== undefined) expected = expected.slice(0, limit)
      const got = await collect(db.range({ from, to, author, kind, limit, reverse }))
      assert.equal(ids(got), ids(expected), JSON.stringify({ from, to, author, kind, limit, reverse }))
    }
  })

  test('root() equals merkleRoot of every stored key; stored events prove, missing keys prove absent', async () => {
    const stored = await collect(db.range())
    const root = await db.root()
    assert.is(root, merkleRoot(stored.map((e) => e.key)))
    for (const e of stored.filter((_, i) => i % 500 === 0)) {
      const proof = await db.prove(e.id)
      assert.ok(verifyProof(proof, root))
      assert.ok(verifyProof(await db.prove(e.key), root))
    }
    const missing = new Uint8Array(stored[0].key)
    missing[39] ^= 1
    assert.ok(verifyAbsence(await db.prove(missing), root))
    await rejects(() => db.prove(missing.subarray(8)), isCode('E_NOT_FOUND'), 'prove(unknown id)')
    await rejects(() => db.prove(new Uint8Array(7)), (e) => e instanceof TypeError, 'prove(7 bytes)')
  })

  test('subscribe filters by kind and author; stop ends delivery', async () => {
    const other = authors[0]
    const got: Event[] = []
    const stop = db.subscribe({ kind: 42, author: other.id }, (e) => got.push(e))
    const events = [
      encodeEvent({ kind: 42, group, payload: 'a' }, other),
      encodeEvent({ kind: 41, group, payload: 'b' }, other),
      encodeEvent({ kind: 42, group, payload: 'c' }, authors[1]),
    ]
    for (const e of events) await db.ingest(e)
    await db.flush()
    stop()
    await db.ingest(encodeEvent({ kind: 42, group, payload: 'd' }, other))
    await db.flush()
    assert.equal(got.map((e) => new TextDecoder().decode(e.payload)), ['a'])
  })

  test('bad bytes are rejected with their code and leave the store unchanged', async () => {
    const before = await db.count()
    const good = encodeEvent({ kind: 1, group, payload: 'ok' }, authors[2])
    const flip = (at: number) => { const b = good.slice(); b[at] ^= 1; return b }
    const cases: Array<[Uint8Array, XaeroErrorCode]> = [
      [good.subarray(0, 50), 'E_TRUNCATED'],
      [new Uint8Array([...good, 0]), 'E_TRAILING_BYTES'],
      [flip(0), 'E_BAD_VERSION'],
      [flip(1), 'E_BAD_FLAGS'],
      [flip(90), 'E_BAD_SIGNATURE'],
      [encodeEvent({ kind: 1, group: groupId('other'), payload: 'x' }, authors[2]), 'E_WRONG_GROUP'],
      [encodeEvent({ kind: 1, timestamp: Date.now() + 3_600_000, group, payload: 'x' }, authors[2]), 'E_FUTURE_TIMESTAMP'],
    ]
    for (const [bytes, code] of cases) await rejects(() => db.ingest(bytes), isCode(code), code)
    const many = await db.ingestMany(cases.map(([b]) => b))
    many.forEach((r, i) => assert.ok(r instanceof XaeroError && r.code === cases[i][1], cases[i][1]))
    await db.flush()
    assert.is(await db.count(), before)
  })

  test('API misuse is a TypeError or RangeError', async () => {
    await rejects(() => db.append(null as never), (e) => e instanceof TypeError, 'append(null)')
    await rejects(() => db.append({ kind: -1, payload: '' }), (e) => e instanceof RangeError, 'kind -1')
    await rejects(() => db.ingest('bytes' as never), (e) => e instanceof TypeError, 'ingest(string)')
    await rejects(() => db.get('zz'), (e) => e instanceof TypeError, 'get(zz)')
    await rejects(() => collect(db.range({ limit: -1 })), (e) => e instanceof RangeError, 'limit -1')
    await rejects(() => collect(db.range({ from: -5 })), (e) => e instanceof RangeError, 'from -5')
    assert.throws(() => db.subscribe({}, null as never), (e: unknown) => e instanceof TypeError)
  })

  test('a closed store rejects every call with E_CLOSED', async () => {
    const corpus = corpusOf(events)
    const other = await backend.open({ group: 'friends', identity: me })
    await other.close()
    await other.close() // twice is fine
    const closed = isCode('E_CLOSED')
    await rejects(() => other.append({ kind: 1, payload: '' }), closed, 'append')
    await rejects(() => other.ingest(corpus[0]), closed, 'ingest')
    await rejects(() => other.ingestMany([corpus[0]]), closed, 'ingestMany')
    await rejects(() => other.get(groupId('x')), closed, 'get')
    await rejects(() => other.count(), closed, 'count')
    await rejects(() => other.root(), closed, 'root')
    await rejects(() => other.prove(groupId('x')), closed, 'prove')
    await rejects(() => collect(other.range()), closed, 'range')
    assert.throws(() => other.subscribe({}, () => {}), closed)
  })

  test('writers: only listed authors may write', async () => {
    const writer = authors[3]
    const guarded = await backend.open({ group: 'guarded', identity: me, writers: [writer.id] })
    const g = groupId('guarded')
    await guarded.ingest(encodeEvent({ kind: 1, group: g, payload: 'yes' }, writer))
    await rejects(() => guarded.ingest(encodeEvent({ kind: 1, group: g, payload: 'no' }, authors[4])), isCode('E_NOT_WRITER'), 'ingest')
    await rejects(() => guarded.append({ kind: 1, payload: 'no' }), isCode('E_NOT_WRITER'), 'append')
    await guarded.flush()
    assert.is(await guarded.count(), 1)
    await guarded.close()
  })

  test.run()
}

/**
 * Defines and runs the suite `duplicates after a reopen, <name>` on one store kept at `place`:
 * stored events ingested again are logged again and dropped by the indexer, after a reopen, with
 * a page cache too small to hold the tree, so that the check reads pages back from storage.
 */
export function duplicatesSuite(name: string, place: () => Place, { suite, events }: SuiteOptions): void {
  if (!(events >= 3500)) throw new RangeError(`events: at least 3500, not ${events}`)
  const test = suite(`duplicates after a reopen, ${name}`)
  test('ingesting stored events again stores and announces nothing, then or after replay', async () => {
    const corpus = corpusOf(events)
    const at = place()
    const stored = corpus.slice(0, 3000), fresh = corpus.slice(3000, 3500)
    try {
      let db = await at.open({ group: 'friends', workers: 0 })
      await db.ingestMany(stored)
      await db.close()
      db = await at.open({ group: 'friends', workers: 2, pageCache: 0 })
      const root = await db.root()
      let announced = 0
      db.subscribe({}, () => announced++)
      const results = await db.ingestMany([...stored.slice(0, 1000), ...fresh, stored[7], fresh[3]])
      assert.ok(results.every((r) => !(r instanceof XaeroError)))
      await db.ingest(stored[2000])
      await db.flush()
      assert.is(announced, fresh.length, 'only the new events are announced')
      assert.is(await db.count(), 3500)
      assert.is((await collect(db.range())).length, 3500)
      assert.is.not(await db.root(), root)
      await db.close()
      db = await at.open({ group: 'friends', workers: 0 }) // replays nothing twice
      assert.is(await db.count(), 3500)
      const byFirst = [...stored, ...fresh].filter((e) => compareBytes(e.subarray(44, 76), authors[0].publicKey) === 0)
      assert.is((await collect(db.range({ author: authors[0].id }))).length, byFirst.length)
      await db.close()
    } finally {
      await at.remove()
    }
  })
  test.run()
}

/**
 * The full names (`suite › test`) of the tests that `define` defines, without running any: the
 * list a run must report, so that a test skipped or never reached is noticed.
 */
export function testNames(define: (suite: typeof Suite) => void): string[] {
  const names: string[] = []
  const fake = (title = '') => {
    // A test marked only or skip is listed too: a run that leaves any test out fails.
    const define = (name: string) => { names.push(`${title} › ${name}`) }
    const hook = Object.assign(() => {}, { each: () => {} })
    return Object.assign(define, { before: hook, after: hook, only: define, skip: define, run: () => {} })
  }
  define(fake as unknown as typeof Suite)
  return names
}
