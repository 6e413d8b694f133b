// WAL damage at the store level: a torn tail, a flipped byte, a zero-filled region and a missing
// segment. Records past the checkpoint are made deterministically: a store writes its events and
// closes, then its LevelDB files are deleted (the wal/ folder kept), so that the next open has no
// checkpoint and must replay every record from the log.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createHash, randomBytes } from 'node:crypto'
import { appendFileSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { Xaeroflux, Identity, XaeroError, encodeEvent, groupId, frameRecords, scanFrames, type Event } from '../src/index.js'
import { tempDir } from './helpers/store.js'
import { Wal, type Durability } from '../src/store/wal.js'

const GROUP = 'wal-damage'
const me = Identity.fromSecretKey(new Uint8Array(32).fill(7))
const open = (path: string) => Xaeroflux.open({ path, group: GROUP, identity: me, durability: 'sync', workers: 0 })
const segmentName = (n: number) => `${String(n).padStart(16, '0')}.wal`
const idOf = (envelope: Uint8Array) => createHash('sha256').update(envelope.subarray(0, envelope.length - 64)).digest('hex')

function segments(path: string): number[] {
  return readdirSync(join(path, 'wal')).filter((n) => /^\d{16}\.wal$/.test(n)).map((n) => Number(n.slice(0, 16))).sort((a, b) => a - b)
}

/** Every record of a segment file: its offset, its end, and the id of the event it holds. */
function records(path: string, segment: number): Array<{ offset: number; end: number; id: string }> {
  const buf = readFileSync(join(path, 'wal', segmentName(segment)))
  const scan = scanFrames(buf)
  assert.is(scan.status, 'end', `segment ${segment} scans cleanly before it is damaged`)
  return scan.records.map((r) => ({ offset: r.offset, end: r.offset + 9 + r.length, id: idOf(buf.subarray(r.offset + 9, r.offset + 9 + r.length)) }))
}

/** Deletes the store's LevelDB files, keeping wal/: the next open replays the whole log. */
function dropDatabase(path: string): void {
  for (const name of readdirSync(path)) if (name !== 'wal') rmSync(join(path, name), { recursive: true, force: true })
}

async function storedIds(db: Xaeroflux): Promise<string[]> {
  const ids: string[] = []
  for await (const e of db.range()) ids.push(e.id)
  return ids
}

/** Writes `n` events through a store, closes it, and returns their ids in log order. */
async function writeEvents(path: string, n: number): Promise<string[]> {
  const db = await open(path)
  const events: Event[] = []
  // a few at a time, so records of one write share a group commit and others do not
  for (let i = 0; i < n; i += 5) events.push(...await Promise.all(Array.from({ length: Math.min(5, n - i) }, (_, j) => db.append({ kind: (i + j) % 3, payload: randomBytes(100 + i + j) }))))
  await db.close()
  return events.map((e) => e.id)
}

/** The store accepts and indexes a new append after recovery. */
async function worksAfter(db: Xaeroflux): Promise<string> {
  const before = await db.count()
  const e = await db.append({ kind: 1, payload: 'after recovery' })
  await db.flush()
  assert.is((await db.get(e.id))?.id, e.id, 'a new append after recovery is stored')
  assert.is(await db.count(), before + 1)
  return e.id
}

function isCorrupt(e: XaeroError, details: Record<string, unknown>, what: string): void {
  assert.ok(e instanceof XaeroError, `${what}: an XaeroError`)
  assert.is(e.code, 'E_CORRUPT_WAL', what)
  assert.equal(e.details, details, `${what}: where`)
}

/** Opens the store again: nothing is reported twice, and everything expected is still there. */
async function reopenClean(path: string, expected: string[]): Promise<void> {
  const db = await open(path)
  try {
    assert.equal(db.recovery.corrupt.map((e) => e.message), [], 'a second open reports nothing corrupt')
    assert.is(db.recovery.tornBytes, 0)
    assert.equal((await storedIds(db)).sort(), expected.slice().sort(), 'the events of the second open')
    assert.is(await db.count(), expected.length)
  } finally {
    await db.close()
  }
}

test('a torn tail is cut off the last segment; every event before it is kept', async () => {
  const { dir, remove } = tempDir()
  try {
    const ids = await writeEvents(dir, 40)
    const last = segments(dir).at(-1)!
    const file = join(dir, 'wal', segmentName(last))
    const size = statSync(file).size
    assert.ok(size > 0, 'the events were logged in the last segment')
    // A whole frame of one more event, cut in the middle, as a crash during its write leaves it.
    const frame = frameRecords([{ type: 1, payload: encodeEvent({ kind: 1, group: groupId(GROUP), payload: randomBytes(200) }, me) }])
    const torn = frame.subarray(0, Math.floor(frame.length / 2))
    appendFileSync(file, torn)

    const db = await open(dir)
    try {
      assert.is(db.recovery.tornBytes, torn.length, 'the torn bytes are reported')
      assert.equal(db.recovery.corrupt, [], 'a torn tail is not corruption')
      // Cut off, then, every record before the new segment being indexed, deleted with its segment.
      assert.not.ok(existsSync(file), 'the replayed segment is gone')
      assert.is(await db.count(), ids.length)
      for (const id of ids) assert.is((await db.get(id))?.id, id, `event ${id} is kept`)
      ids.push(await worksAfter(db))
    } finally {
      await db.close()
    }
    await reopenClean(dir, ids)
  } finally {
    remove()
  }
})

test('a torn tail past records not yet indexed: they are replayed, the tail is cut', async () => {
  const { dir, remove } = tempDir()
  try {
    const ids = await writeEvents(dir, 40)
    dropDatabase(dir)
    const last = segments(dir).at(-1)!
    const frame = frameRecords([{ type: 1, payload: encodeEvent({ kind: 2, group: groupId(GROUP), payload: randomBytes(300) }, me) }])
    appendFileSync(join(dir, 'wal', segmentName(last)), frame.subarray(0, frame.length - 1))
    const db = await open(dir)
    try {
      assert.is(db.recovery.replayed, ids.length)
      assert.is(db.recovery.tornBytes, frame.length - 1)
      assert.equal(db.recovery.corrupt, [])
      assert.equal((await storedIds(db)).sort(), ids.slice().sort())
      ids.push(await worksAfter(db))
    } finally {
      await db.close()
    }
    await reopenClean(dir, ids)
  } finally {
    remove()
  }
})

/**
 * Logs `n` events, drops the database so that all must be replayed, damages the log with
 * `damage`, and checks that the reopened store reports exactly one E_CORRUPT_WAL at `at` and
 * keeps every event but `lost`.
 */
async function damagedRecord(n: number, damage: (buf: Uint8Array, recs: ReturnType<typeof records>) => { at: number; lost: number[] }): Promise<void> {
  const { dir, remove } = tempDir()
  try {
    const ids = await writeEvents(dir, n)
    dropDatabase(dir)
    const [segment] = segments(dir)
    assert.equal(segments(dir), [segment], 'one segment')
    const recs = records(dir, segment)
    assert.equal(recs.map((r) => r.id), ids, 'the log holds the events in order')
    const file = join(dir, 'wal', segmentName(segment))
    const buf = new Uint8Array(readFileSync(file))
    const { at, lost } = damage(buf, recs)
    writeFileSync(file, buf)
    const kept = ids.filter((_, i) => !lost.includes(i))

    const db = await open(dir)
    try {
      assert.is(db.recovery.corrupt.length, 1, `exactly one corrupt record: ${db.recovery.corrupt.map((e) => e.message)}`)
      isCorrupt(db.recovery.corrupt[0], { segment, offset: at }, 'the damaged record')
      assert.is(db.recovery.tornBytes, 0)
      assert.is(db.recovery.replayed, kept.length)
      assert.equal((await storedIds(db)).sort(), kept.slice().sort(), 'every other event is kept, the damaged ones are not')
      assert.is(await db.count(), kept.length)
      for (const i of lost) assert.is(await db.get(ids[i]), undefined)
      kept.push(await worksAfter(db))
    } finally {
      await db.close()
    }
    await reopenClean(dir, kept)
  } finally {
    remove()
  }
}

test('a flipped byte in the middle record: one E_CORRUPT_WAL at that record, every other event kept', async () => {
  await damagedRecord(31, (buf, recs) => {
    const mid = recs[15]
    buf[Math.floor((mid.offset + 9 + mid.end) / 2)] ^= 0x10 // in its payload
    return { at: mid.offset, lost: [15] }
  })
})

test('a flipped byte in a record header (its length) is corruption at that record too', async () => {
  await damagedRecord(31, (buf, recs) => {
    buf[recs[20].offset + 7] ^= 0x01 // the length field claims one byte more or less
    return { at: recs[20].offset, lost: [20] }
  })
})

test('a zero-filled region in the middle of a segment: one E_CORRUPT_WAL where it starts, the records after it kept', async () => {
  await damagedRecord(31, (buf, recs) => {
    // from the middle of record 10 to the middle of record 13: records 10..13 are lost
    buf.fill(0, Math.floor((recs[10].offset + recs[10].end) / 2), Math.floor((recs[13].offset + recs[13].end) / 2))
    return { at: recs[10].offset, lost: [10, 11, 12, 13] }
  })
})

test('a zero-filled region aligned on records (a lost block) is one E_CORRUPT_WAL too', async () => {
  await damagedRecord(31, (buf, recs) => {
    buf.fill(0, recs[5].offset, recs[8].end)
    return { at: recs[5].offset, lost: [5, 6, 7, 8] }
  })
})

test('a missing segment is reported by its number; the events of the other segments are kept', async () => {
  const { dir, remove } = tempDir()
  try {
    const group = groupId(GROUP)
    const author = Identity.fromSecretKey(new Uint8Array(32).fill(9))
    const t0 = Date.now() - 60_000
    // Segments 1..5 crafted by hand, four events each; segment 3 is then lost.
    const bySegment = new Map<number, string[]>()
    mkdirSync(join(dir, 'wal'), { recursive: true })
    for (let s = 1; s <= 5; s++) {
      const envelopes = Array.from({ length: 4 }, (_, i) => encodeEvent({ kind: i, timestamp: t0 + s * 10 + i, group, payload: randomBytes(64) }, author))
      writeFileSync(join(dir, 'wal', segmentName(s)), frameRecords(envelopes.map((payload) => ({ type: 1, payload }))))
      bySegment.set(s, envelopes.map(idOf))
    }
    rmSync(join(dir, 'wal', segmentName(3)))
    const kept = [1, 2, 4, 5].flatMap((s) => bySegment.get(s)!)

    const db = await open(dir)
    try {
      assert.is(db.recovery.corrupt.length, 1, `exactly one report: ${db.recovery.corrupt.map((e) => e.message)}`)
      isCorrupt(db.recovery.corrupt[0], { segment: 3 }, 'the missing segment')
      assert.is(db.recovery.replayed, kept.length)
      assert.equal((await storedIds(db)).sort(), kept.slice().sort(), 'the events of segments 1, 2, 4 and 5')
      for (const id of bySegment.get(3)!) assert.is(await db.get(id), undefined)
      kept.push(await worksAfter(db))
    } finally {
      await db.close()
    }
    assert.ok(!segments(dir).includes(1) && !segments(dir).includes(2), 'replayed segments before the checkpoint are deleted')
    await reopenClean(dir, kept)
  } finally {
    remove()
  }
})

test('several missing segments are each reported once', async () => {
  const { dir, remove } = tempDir()
  try {
    const group = groupId(GROUP)
    mkdirSync(join(dir, 'wal'), { recursive: true })
    const kept: string[] = []
    for (const s of [1, 4, 6]) {
      const envelope = encodeEvent({ kind: 0, timestamp: Date.now() - 1000 + s, group, payload: `segment ${s}` }, me)
      writeFileSync(join(dir, 'wal', segmentName(s)), frameRecords([{ type: 1, payload: envelope }]))
      kept.push(idOf(envelope))
    }
    const db = await open(dir)
    try {
      assert.equal(db.recovery.corrupt.map((e) => e.details), [{ segment: 2 }, { segment: 3 }, { segment: 5 }])
      assert.ok(db.recovery.corrupt.every((e) => e.code === 'E_CORRUPT_WAL'))
      assert.equal((await storedIds(db)).sort(), kept.slice().sort())
    } finally {
      await db.close()
    }
    await reopenClean(dir, kept)
  } finally {
    remove()
  }
})

test('damage before a later segment is reported once, not at every open', async () => {
  const { dir, remove } = tempDir()
  try {
    const ids = await writeEvents(dir, 10)
    dropDatabase(dir)
    writeFileSync(join(dir, 'wal', segmentName(segments(dir).at(-1)! + 1)), new Uint8Array(0)) // a later, empty segment
    const first = segments(dir)[0]
    const recs = records(dir, first)
    const file = join(dir, 'wal', segmentName(first))
    const buf = readFileSync(file)
    buf[recs.at(-1)!.offset + 20] ^= 1
    writeFileSync(file, buf)
    let db = await open(dir)
    assert.is(db.recovery.corrupt.length, 1)
    assert.is(await db.count(), ids.length - 1)
    await db.close()
    db = await open(dir)
    assert.equal(db.recovery.corrupt, [], 'reported once')
    assert.is(await db.count(), ids.length - 1)
    await db.close()
  } finally {
    remove()
  }
})

test("a missing checkpoint segment is reported: acknowledged records were in it", async () => {
  const { dir, remove } = tempDir()
  try {
    let db = await open(dir)
    for (let i = 0; i < 5; i++) await db.append({ kind: 1, payload: `i${i}` })
    await db.close()
    const segment = segments(dir).at(-1)!
    rmSync(join(dir, 'wal', segmentName(segment)))
    db = await open(dir)
    assert.is(db.recovery.corrupt.length, 1)
    isCorrupt(db.recovery.corrupt[0], { segment }, 'the missing checkpoint segment')
    assert.is(await db.count(), 5, 'what was indexed stays')
    await db.close()
  } finally {
    remove()
  }
})

test('opening and closing without writing leaves no segment files', async () => {
  const { dir, remove } = tempDir()
  try {
    await writeEvents(dir, 3)
    const before = segments(dir)
    for (let i = 0; i < 5; i++) await (await open(dir)).close()
    assert.ok(segments(dir).length <= before.length, `segments: ${segments(dir)}`)
  } finally {
    remove()
  }
})

for (const durability of ['sync', 'batch', 'none'] as Durability[]) {
  test(`${durability}: appends racing segment rolls all resolve and all replay`, async () => {
    // 'batch' once fsynced a segment that a roll was closing, failing appends that were written.
    const { dir, remove } = tempDir()
    try {
      const wal = await Wal.open(dir, durability, 4096)
      await wal.replay({ segment: 1, offset: 0 }, () => assert.unreachable('an empty log'))
      const records = Array.from({ length: 600 }, (_, i) => randomBytes(40 + (i % 300)))
      let next = 0
      await Promise.all(Array.from({ length: 16 }, async () => {
        while (next < records.length) { const at = next; next += 3; await wal.appendMany(records.slice(at, at + 3)) }
      }))
      await wal.close()
      const segments = (await wal.segments()).length
      assert.ok(segments > 5, `the records span many segments: ${segments}`)
      const replayed: Uint8Array[] = []
      const report = await (await Wal.open(dir, durability)).replay({ segment: 1, offset: 0 }, (r) => replayed.push(r.slice()))
      assert.equal(report.corrupt, [])
      assert.equal(replayed.map((r) => Buffer.from(r).toString('hex')), records.map((r) => r.toString('hex')))
    } finally {
      remove()
    }
  })
}

test.run()
