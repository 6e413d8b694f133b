// Crash safety: a writer process is killed with SIGKILL ten times in a row (twenty with XAEROFLUX_SLOW=1) on the same store,
// in each durability mode. After every kill the store is reopened and checked: every append or
// ingest the writer saw resolve is there, each event is stored once, `count()` is exact, the
// indexes agree with the raw events (read back with a plain classic-level), and `root()` is the
// Merkle root of the stored keys.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Level } from 'level'
import { Xaeroflux, Identity, groupId, merkleRoot, toHex, type Durability } from '../src/index.js'
import { rng } from './helpers/keys.js'

// Ten kills per mode in the default run (~45 s of the suite); twenty with XAEROFLUX_SLOW=1.
const KILLS = process.env.XAEROFLUX_SLOW === '1' ? 20 : 10
const MODES: Durability[] = ['sync', 'batch', 'none']
const WRITER = fileURLToPath(new URL('./fixtures/crash-writer.js', import.meta.url))
const GROUP = groupId('crash')
// The writer's own author (one per mode) and the author of the events it ingests (its fixed seed).
const OTHER = Identity.fromSecretKey(new Uint8Array(32).fill(0x5a)).id
const seed = Number(process.env.CRASH_SEED ?? Date.now() % 1_000_000)
const random = rng(seed)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')

interface Run { acked: string[]; lines: number; stderr: string; ms: number }

/** Starts the writer, lets it print a few ids, waits 50–400 ms more, kills it with SIGKILL. */
async function runAndKill(path: string, durability: Durability, secret: string): Promise<Run> {
  const start = Date.now()
  const child = spawn(process.execPath, [WRITER, path, durability, secret], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = '', stderr = '', lines = 0
  let started: () => void
  const printed = new Promise<void>((resolve) => { started = resolve })
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk
    for (let i = out.length - chunk.length; i < out.length; i++) if (out.charCodeAt(i) === 10) lines++
    if (lines >= 5) started()
  })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const closed = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })))
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<{ code: null; signal: string }>((resolve) => { timer = setTimeout(() => resolve({ code: null, signal: 'timeout' }), 30_000) })
  const early = await Promise.race([printed.then(() => undefined), closed, timeout])
  clearTimeout(timer)
  if (early) {
    child.kill('SIGKILL')
    await closed
    assert.unreachable(`the writer stopped before printing 5 ids (${JSON.stringify(early)}): ${stderr}`)
  }
  await sleep(50 + Math.floor(random() * 350))
  child.kill('SIGKILL')
  const exit = await closed
  assert.is(exit.signal, 'SIGKILL', `the writer was killed, not ended by itself: ${stderr}`)
  // Only whole lines: the last one may have been cut by the kill.
  const whole = out.slice(0, out.lastIndexOf('\n') + 1).split('\n').filter((l) => l.length > 0)
  for (const l of whole) assert.ok(/^[0-9a-f]{64}$/.test(l), `the writer printed an id: ${JSON.stringify(l)}`)
  return { acked: whole, lines: whole.length, stderr, ms: Date.now() - start }
}

/** Reopens the store and checks it through the API; returns the keys range() gave, in order. */
async function checkThroughApi(path: string, acked: readonly string[], where: string, run: Run): Promise<{ count: number; keys: string[]; root: string; replayed: number; torn: number }> {
  const db = await Xaeroflux.open({ path, group: 'crash', workers: 0 })
  try {
    assert.equal(db.recovery.corrupt.map((e) => e.message), [], `${where}: a killed process leaves no corrupt record, at most a torn tail`)
    for (const id of acked) {
      const e = await db.get(id)
      if (!e) assert.unreachable(`${where}: acknowledged event ${id} (line ${run.acked.indexOf(id) + 1} of ${run.lines} the writer printed) is not stored (seed ${seed})`)
      assert.is(e!.id, id)
    }
    const keys: string[] = []
    for await (const e of db.range()) keys.push(hex(e.key))
    for (let i = 1; i < keys.length; i++) assert.ok(keys[i - 1] < keys[i], `range() is in strict key order at ${i}`)
    return { count: await db.count(), keys, root: await db.root(), replayed: db.recovery.replayed, torn: db.recovery.tornBytes }
  } finally {
    await db.close()
  }
}

/** Reads the raw LevelDB and checks the indexes against the events; returns the stored ids. */
async function checkRaw(path: string, authors: Set<string>): Promise<{ keys: string[]; ids: Set<string>; count: number }> {
  const level = new Level<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view' })
  await level.open()
  try {
    const sub = (name: string) => level.sublevel<Uint8Array, Uint8Array>(name, { keyEncoding: 'view', valueEncoding: 'view' })
    const events = new Map<string, Uint8Array>()
    for await (const [k, v] of sub('events').iterator()) {
      assert.is(k.length, 40, 'an events key is 40 bytes')
      const key = hex(k)
      assert.not.ok(events.has(key))
      events.set(key, Uint8Array.from(v))
      // The key is the event's own timestamp ‖ id, and the event is of this group.
      assert.is(hex(v.subarray(4, 12)), key.slice(0, 16), `timestamp of ${key}`)
      assert.is(createHash('sha256').update(v.subarray(0, v.length - 64)).digest('hex'), key.slice(16), `id of ${key}`)
      assert.is(hex(v.subarray(12, 44)), GROUP)
      assert.ok(authors.has(hex(v.subarray(44, 76))), `author of ${key} is one of the writers`)
    }
    const ids = new Map<string, string>()
    for await (const [k, v] of sub('ids').iterator()) {
      assert.is(k.length, 32)
      assert.is(v.length, 8)
      const id = hex(k)
      assert.ok(events.has(hex(v) + id), `ids entry ${id} points to a stored event`)
      ids.set(id, hex(v))
    }
    // Posting blocks (docs/STORAGE.md): value ‖ first key → the keys, in order, within one span.
    const postings = async (name: string, valueBytes: number, valueOf: (event: Uint8Array) => Uint8Array) => {
      const seen = new Set<string>()
      for await (const [k, v] of sub(name).iterator()) {
        assert.is(k.length, valueBytes + 40)
        assert.ok(v.length > 0 && v.length % 40 === 0, `${name} block of ${v.length} bytes`)
        assert.is(hex(v.subarray(0, 40)), hex(k.subarray(valueBytes)), `${name} block keyed by its first key`)
        for (let at = 0; at < v.length; at += 40) {
          const key = hex(v.subarray(at, at + 40))
          const event = events.get(key)
          assert.ok(event, `${name} entry ${key} points to a stored event`)
          assert.is(hex(valueOf(event!)), hex(k.subarray(0, valueBytes)), `${name} entry ${key} is under the event's own value`)
          assert.not.ok(seen.has(key), `${name} lists ${key} once`)
          seen.add(key)
        }
      }
      return seen
    }
    const byAuthor = await postings('by-author', 32, (e) => e.subarray(44, 76))
    const byKind = await postings('by-kind', 2, (e) => e.subarray(2, 4))
    // Each event has exactly one entry in each index (the index maps are keyed by event key).
    assert.is(ids.size, events.size, 'one ids entry per event')
    assert.is(byAuthor.size, events.size, 'one by-author entry per event')
    assert.is(byKind.size, events.size, 'one by-kind entry per event')
    for (const key of events.keys()) {
      assert.is(ids.get(key.slice(16)), key.slice(0, 16), `ids entry of ${key}`)
      assert.ok(byAuthor.has(key) && byKind.has(key), `index entries of ${key}`)
    }
    const count = await sub('meta').get(new TextEncoder().encode('count'))
    assert.ok(count && count.length === 8, 'meta count is a u64')
    assert.is(Buffer.from(count!).readBigUInt64BE(0), BigInt(events.size), "meta 'count' equals the number of events")
    return { keys: [...events.keys()], ids: new Set(ids.keys()), count: events.size }
  } finally {
    await level.close()
  }
}

for (const [m, durability] of MODES.entries()) {
  test(`${durability}: ${KILLS} kill -9s of a writer lose no acknowledged event and leave the indexes exact`, async () => {
    const path = mkdtempSync(join(tmpdir(), `xaeroflux-crash-${durability}-`))
    const me = Identity.fromSecretKey(new Uint8Array(32).fill(0x10 + m))
    const authors = new Set([me.id, OTHER])
    const acked = new Set<string>()
    const started = Date.now()
    let killMs = 0, checkMs = 0, stored = 0, torn = 0, replayed = 0, maxSegments = 0
    try {
      for (let round = 0; round < KILLS; round++) {
        const run = await runAndKill(path, durability, toHex(me.secretKey))
        killMs += run.ms
        const fresh = run.acked.filter((id) => !acked.has(id))
        for (const id of run.acked) acked.add(id)
        const t = Date.now()
        const api = await checkThroughApi(path, fresh, `round ${round}`, run)
        if (api.torn > 0) torn++
        replayed += api.replayed
        const raw = await checkRaw(path, authors)
        assert.is(api.count, raw.count, `round ${round}: count() equals the events stored`)
        assert.equal(api.keys, raw.keys, `round ${round}: range() returns each stored event once, in key order`)
        assert.is(api.root, merkleRoot(raw.keys.map((k) => Buffer.from(k, 'hex'))), `round ${round}: root() is the Merkle root of the stored keys`)
        for (const id of acked) if (!raw.ids.has(id)) assert.unreachable(`round ${round}: acknowledged ${id} is lost (seed ${seed})`)
        assert.ok(raw.count >= stored, 'no event disappears')
        stored = raw.count
        checkMs += Date.now() - t
        const segments = readdirSync(join(path, 'wal'))
        maxSegments = Math.max(maxSegments, segments.length)
        assert.ok(segments.length <= 6, `round ${round}: WAL segments before the checkpoint are deleted: ${segments}`)
      }
    } catch (e) {
      console.error(`crash test (${durability}) failed with CRASH_SEED=${seed}`)
      throw e
    } finally {
      rmSync(path, { recursive: true, force: true })
    }
    console.log(`  ${durability}: ${KILLS} kills, ${acked.size} acknowledged, ${stored} stored, ${replayed} replayed, ${torn} torn tails, at most ${maxSegments} WAL segments; ` +
      `writers ${killMs} ms, checks ${checkMs} ms, total ${Date.now() - started} ms`)
  })
}

test.run()
