// Faults of the write-ahead log are errors, never hangs, never loss. Each fault is made on the
// real file system where it can be (a segment that is /dev/full, a tmpfs that fills up mid-write
// or is remounted read-only, a directory or a file where the other should be) and through the
// log's file-ops seam where it cannot (an EIO on a given write, fsync, truncate, read, close).
//
// Every call into the log is raced against a 10 s watchdog: a hang fails the test. After each
// fault clears, the log is reopened and replayed: every append that resolved is there, in order,
// and no torn write was left behind (no corrupt record, no torn tail).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import * as nodeFs from 'node:fs/promises'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Xaeroflux, Identity, XaeroError, frameRecords } from '../src/index.js'
import { Wal, type Durability, type WalFile, type WalFs, type WalPosition, type ReplayReport } from '../src/store/wal.js'

const MODES: Durability[] = ['sync', 'batch', 'none']
const WATCHDOG_MS = 10_000
const segmentName = (n: number) => `${String(n).padStart(16, '0')}.wal`
const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')

/** `p`, or a failure if it is still pending after 10 s: a hang is a bug, not a slow test. */
async function within<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const hang = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`hang: ${what} still pending after ${WATCHDOG_MS} ms`)), WATCHDOG_MS) })
  try {
    return await Promise.race([p, hang])
  } finally {
    clearTimeout(timer)
  }
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown }
/** How `p` settled, under the watchdog (a hang throws). */
async function settled<T>(p: Promise<T>, what: string): Promise<Outcome<T>> {
  return within(p.then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error })), what)
}

/** `e` is E_IO caused by a file system error of `code`. */
function isIo(e: unknown, code: string, what: string): void {
  assert.ok(e instanceof XaeroError, `${what}: an XaeroError, not ${e}`)
  const x = e as XaeroError
  assert.is(x.code, 'E_IO', `${what}: E_IO (${x.message})`)
  assert.ok(x.cause instanceof Error, `${what}: the cause is attached`)
  assert.is((x.cause as NodeJS.ErrnoException).code, code, `${what}: the cause is ${code}`)
}

async function rejectsIo(p: Promise<unknown>, code: string, what: string): Promise<XaeroError> {
  const r = await settled(p, what)
  if (r.ok) assert.unreachable(`${what}: resolved, expected E_IO (${code})`)
  isIo((r as { error: unknown }).error, code, what)
  return (r as { error: XaeroError }).error
}

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: injected`), { code })
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'xaeroflux-walfault-'))
}

/** A fresh log in `dir`/wal past an (empty) replay, as a store opens it. */
async function openLog(dir: string, durability: Durability, fs?: WalFs, segmentBytes?: number): Promise<Wal> {
  const wal = await within(Wal.open(join(dir, 'wal'), durability, segmentBytes, fs), 'open')
  await within(wal.replay({ segment: 1, offset: 0 }, () => {}), 'replay')
  return wal
}

/** Appends, each settled under the watchdog; resolved payloads are kept (in issue order) in `acked`. */
class Appender {
  acked: string[] = []
  ends: WalPosition[] = []
  rejected: unknown[] = []
  constructor(private readonly wal: Wal) {}
  /** Issues `calls` appends of `perCall` records at once; resolves when all settled. */
  async burst(calls: number, perCall = 1, size = 200): Promise<Array<Outcome<WalPosition>>> {
    const payloads = Array.from({ length: calls }, () => Array.from({ length: perCall }, () => randomBytes(size)))
    const outcomes = await Promise.all(payloads.map((p, i) => settled(this.wal.appendMany(p), `append ${i} of a burst`)))
    outcomes.forEach((o, i) => {
      if (o.ok) { this.acked.push(...payloads[i].map(hex)); this.ends.push(o.value) } else this.rejected.push(o.error)
    })
    return outcomes
  }
}

/** Replays the whole log in `dir`/wal with a fresh Wal on the real file system. */
async function replayAll(dir: string): Promise<{ records: string[]; report: ReplayReport }> {
  const wal = await within(Wal.open(join(dir, 'wal'), 'none'), 'reopen')
  const records: string[] = []
  const report = await within(wal.replay({ segment: 1, offset: 0 }, (p) => records.push(hex(p))), 'replay after the fault')
  await within(wal.close(), 'close after replay')
  return { records, report }
}

/** Every acknowledged record is replayed, once, in the order appended; nothing torn or corrupt was left. */
async function assertNoLoss(dir: string, acked: string[]): Promise<string[]> {
  const { records, report } = await replayAll(dir)
  assert.equal(report.corrupt.map((e) => e.message), [], 'no corrupt record: no torn write was left behind')
  assert.is(report.tornBytes, 0, 'no torn tail was left behind')
  assert.is(new Set(records).size, records.length, 'each record once')
  const at = new Map(records.map((r, i) => [r, i]))
  let last = -1
  for (const [i, r] of acked.entries()) {
    const j = at.get(r)
    if (j === undefined) assert.unreachable(`acknowledged record ${i} of ${acked.length} is lost`)
    assert.ok(j! > last, `acknowledged record ${i} is in append order`)
    last = j!
  }
  return records
}

// --- the seam: node:fs/promises with faults on cue ----------------------------------------------

type Fault = NodeJS.ErrnoException | undefined
interface Hooks {
  /** The nth write (from 1) of `length` bytes: fail it, after writing `bytes` of it for real. */
  write?(n: number, length: number): { bytes: number; error: NodeJS.ErrnoException } | undefined
  datasync?(n: number): Fault | Promise<Fault>
  ftruncate?(n: number): Fault
  truncate?(n: number): Fault
  readFile?(path: string): Fault
  readdir?(n: number): Fault
  unlink?(path: string): Fault
  close?(n: number): Fault
  open?(n: number): Fault
}

class FaultFs implements WalFs {
  readonly n = { write: 0, datasync: 0, ftruncate: 0, truncate: 0, readdir: 0, unlink: 0, close: 0, open: 0 }
  /** Size of each segment file at its last successful fsync: what an acknowledgement may cover. */
  readonly synced = new Map<string, number>()
  constructor(public hooks: Hooks = {}) {}

  mkdir(path: string, options?: { recursive: boolean }) { return nodeFs.mkdir(path, options) }
  async readdir(path: string) {
    const f = (this.n.readdir++, this.hooks.readdir?.(this.n.readdir))
    if (f) throw f
    return nodeFs.readdir(path)
  }
  async readFile(path: string) {
    const f = this.hooks.readFile?.(path)
    if (f) throw f
    return nodeFs.readFile(path)
  }
  stat(path: string) { return nodeFs.stat(path) }
  async truncate(path: string, length: number) {
    const f = (this.n.truncate++, this.hooks.truncate?.(this.n.truncate))
    if (f) throw f
    return nodeFs.truncate(path, length)
  }
  async unlink(path: string) {
    this.n.unlink++
    const f = this.hooks.unlink?.(path)
    if (f) throw f
    return nodeFs.unlink(path)
  }
  async open(path: string, flags: number): Promise<WalFile> {
    const f = (this.n.open++, this.hooks.open?.(this.n.open))
    if (f) throw f
    const handle = await nodeFs.open(path, flags)
    const fs = this
    return {
      async write(buffer, offset, length) {
        const fault = (fs.n.write++, fs.hooks.write?.(fs.n.write, length))
        if (fault) {
          if (fault.bytes > 0) await handle.write(buffer, offset, Math.min(fault.bytes, length))
          throw fault.error
        }
        return handle.write(buffer, offset, length)
      },
      async datasync() {
        const fault = (fs.n.datasync++, await fs.hooks.datasync?.(fs.n.datasync))
        if (fault) throw fault
        const size = statSync(path).size
        await handle.datasync()
        fs.synced.set(path, Math.max(fs.synced.get(path) ?? 0, size))
      },
      async truncate(length) {
        const fault = (fs.n.ftruncate++, fs.hooks.ftruncate?.(fs.n.ftruncate))
        if (fault) throw fault
        return handle.truncate(length)
      },
      async close() {
        // The handle is released even when the close is made to fail, as a failing close(2) does.
        await handle.close()
        const fault = (fs.n.close++, fs.hooks.close?.(fs.n.close))
        if (fault) throw fault
      },
    }
  }

  /** No append resolved ('sync', 'batch') past what a successful fsync of its segment covered. */
  assertAckedWereSynced(dir: string, ends: WalPosition[]): void {
    for (const end of ends) {
      const synced = this.synced.get(join(dir, segmentName(end.segment))) ?? 0
      assert.ok(end.offset <= synced, `an append acknowledged at ${end.segment}:${end.offset} was covered by an fsync (synced to ${synced})`)
    }
  }
}

// --- real file system: a segment on /dev/full --------------------------------------------------

for (const durability of MODES) {
  test(`${durability}: a segment on /dev/full rejects the appends it carried with E_IO (ENOSPC); the log rolls and goes on`, async () => {
    const dir = tempDir()
    try {
      const wal = await openLog(dir, durability)
      const log = new Appender(wal)
      await log.burst(2)
      assert.is(log.acked.length, 2, 'segment 1 takes appends')
      const full = wal.position().segment + 1
      // Segment 2, where the log goes after a roll, is /dev/full: every write to it is ENOSPC.
      // /dev/full cannot be truncated (EINVAL), so the log must roll past it.
      await within(wal.close(), 'close')
      const wal2 = await openLog(dir, durability) // next segment: 2 (replay rolls past 1)
      assert.is(wal2.position().segment, full)
      symlinkSync('/dev/full', join(dir, 'wal', segmentName(full)))
      const log2 = new Appender(wal2)
      const outcomes = await log2.burst(4) // one batch: all four go in the write that fails
      outcomes.forEach((o, i) => { assert.not.ok(o.ok, `append ${i} on /dev/full rejects`); isIo((o as { error: unknown }).error, 'ENOSPC', `append ${i}`) })
      await log2.burst(3)
      assert.is(log2.acked.length, 3, 'later appends go to the next segment and resolve')
      assert.ok(wal2.position().segment > full, 'the log rolled past the segment it could not cut')
      await within(wal2.close(), 'close after the fault')
      // The fault clears: /dev/full is taken away (a replay would read its zeros forever).
      unlinkSync(join(dir, 'wal', segmentName(full)))
      writeFileSync(join(dir, 'wal', segmentName(full)), new Uint8Array(0))
      await assertNoLoss(dir, [...log.acked, ...log2.acked])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
}

test('store: an append whose segment is /dev/full rejects with E_IO; the next one is stored; close() returns', async () => {
  const dir = tempDir()
  try {
    const me = Identity.fromSecretKey(new Uint8Array(32).fill(3))
    const open = () => within(Xaeroflux.open({ path: dir, group: 'walfaults', identity: me, durability: 'sync', workers: 0 }), 'store open')
    let db = await open()
    assert.equal(readdirSync(join(dir, 'wal')), [], 'a new store: its first write creates segment 1')
    symlinkSync('/dev/full', join(dir, 'wal', segmentName(1)))
    await rejectsIo(db.append({ kind: 1, payload: 'on /dev/full' }), 'ENOSPC', 'the append')
    const kept = await within(db.append({ kind: 1, payload: 'after the fault' }), 'the next append')
    await within(db.close(), 'store close')
    rmSync(join(dir, 'wal', segmentName(1)), { force: true }) // (the store may have deleted it: it is before the checkpoint)
    db = await open()
    try {
      assert.is((await within(db.get(kept.id), 'get'))?.id, kept.id, 'the acknowledged append is stored')
      assert.is(await db.count(), 1)
    } finally {
      await within(db.close(), 'store close')
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

// --- real file system: a tmpfs that fills up (writes torn mid-record), a read-only remount -------

let mountWorks: boolean | undefined
/** Mounts a tmpfs of `size` at a new folder, or returns undefined where mounting is not allowed. */
function tmpfs(size: string): { dir: string; remount(options: string): void; unmount(): void } | undefined {
  const dir = tempDir()
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' })
    mountWorks = true
  } catch {
    rmSync(dir, { recursive: true, force: true })
    if (mountWorks === undefined) console.log('  (mount is not allowed here: the tmpfs tests are skipped; the seam tests cover the same faults)')
    mountWorks = false
    return undefined
  }
  return {
    dir,
    remount: (options) => execFileSync('mount', ['-o', `remount,${options}`, dir], { stdio: 'ignore' }),
    // Lazy, and never throwing: a test that failed with a file still open must report its own failure.
    unmount: () => { try { execFileSync('umount', ['-l', dir], { stdio: 'ignore' }); rmSync(dir, { recursive: true, force: true }) } catch {} },
  }
}

for (const durability of MODES) {
  test(`${durability}: a full disk tears a write: the appends reject (ENOSPC), the tear is cut, the log works once there is room`, async () => {
    const fs = tmpfs('64k')
    if (!fs) return
    try {
      const wal = await openLog(fs.dir, durability)
      const log = new Appender(wal)
      // Bursts of 1 KiB records until the disk is full: the write that crosses the end is torn.
      let outcomes: Array<Outcome<WalPosition>> = []
      for (let i = 0; i < 200 && log.rejected.length === 0; i++) outcomes = await log.burst(3, 2, 1000)
      assert.ok(log.acked.length > 10, `appends went in before the disk filled: ${log.acked.length}`)
      assert.ok(log.rejected.length > 0, 'the disk filled up')
      for (const e of log.rejected) isIo(e, 'ENOSPC', 'an append on a full disk')
      assert.ok(outcomes.every((o) => !o.ok), 'the appends of the failed write all reject')
      const file = join(fs.dir, 'wal', segmentName(wal.position().segment))
      assert.is(statSync(file).size, wal.position().offset, 'the segment is cut back to its last whole record')
      // Still full: later calls fail the same way, and never hang.
      for (const o of await log.burst(2, 1, 4000)) isIo((o as { error: unknown }).error, 'ENOSPC', 'an append while still full')
      assert.is(statSync(file).size, wal.position().offset, 'still no torn record')
      fs.remount('size=1m') // the disk recovers
      const before = log.acked.length
      await log.burst(5, 2, 1000)
      assert.is(log.acked.length, before + 10, 'appends succeed again once there is room')
      await within(wal.close(), 'close')
      await assertNoLoss(fs.dir, log.acked)
    } finally {
      fs.unmount()
    }
  })
}

test('a read-only file system: appends reject (EROFS) until it is writable again; a torn tail that cannot be cut fails the replay', async () => {
  const fs = tmpfs('1m')
  if (!fs) return
  try {
    let wal = await openLog(fs.dir, 'sync')
    const log = new Appender(wal)
    await log.burst(3)
    await within(wal.close(), 'close')
    fs.remount('ro')
    wal = await openLog(fs.dir, 'sync') // reading needs no write: the replay works
    const ro = new Appender(wal)
    for (let i = 0; i < 2; i++) for (const o of await ro.burst(2)) isIo((o as { error: unknown }).error, 'EROFS', 'an append on a read-only file system')
    await rejectsIo(Wal.open(join(fs.dir, 'another'), 'sync'), 'EROFS', 'a folder that cannot be created')
    fs.remount('rw')
    await ro.burst(2)
    assert.is(ro.acked.length, 2, 'appends succeed once the file system is writable')
    await within(wal.close(), 'close')
    await assertNoLoss(fs.dir, [...log.acked, ...ro.acked])

    // A torn tail, read-only: the replay cannot cut it, and says so rather than go on past it.
    const last = readdirSync(join(fs.dir, 'wal')).sort().at(-1)!
    const frame = frameRecords([{ type: 1, payload: randomBytes(100) }])
    await nodeFs.appendFile(join(fs.dir, 'wal', last), frame.subarray(0, 50))
    fs.remount('ro')
    const reader = await within(Wal.open(join(fs.dir, 'wal'), 'sync'), 'open')
    await rejectsIo(reader.replay({ segment: 1, offset: 0 }, () => {}), 'EROFS', 'a replay that cannot cut a torn tail')
    await within(reader.close(), 'close')
  } finally {
    fs.unmount()
  }
})

// --- real file system: the wrong kind of file where the log expects one -------------------------

test('opening where wal/ is a file, or under a file, is E_IO with the cause', async () => {
  const dir = tempDir()
  try {
    writeFileSync(join(dir, 'wal'), 'not a folder')
    await rejectsIo(Wal.open(join(dir, 'wal'), 'sync'), 'EEXIST', 'wal/ is a file')
    await rejectsIo(Wal.open(join(dir, 'wal', 'inner'), 'sync'), 'ENOTDIR', 'a folder under a file')
    // Through the store: the open fails with E_IO, and LevelDB is closed again (it reopens).
    const me = Identity.fromSecretKey(new Uint8Array(32).fill(4))
    const open = () => Xaeroflux.open({ path: dir, group: 'walfaults', identity: me, workers: 0 })
    await rejectsIo(open(), 'EEXIST', 'a store whose wal/ is a file')
    rmSync(join(dir, 'wal'))
    const db = await within(open(), 'store open once wal/ is a folder')
    await within(db.close(), 'store close')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a segment that is a directory fails the replay with E_IO (EISDIR); it is not skipped as missing, nothing is deleted', async () => {
  const dir = tempDir()
  try {
    let wal = await openLog(dir, 'sync')
    const log = new Appender(wal)
    await log.burst(3)
    await within(wal.close(), 'close')
    const wal2 = join(dir, 'wal')
    mkdirSync(join(wal2, segmentName(2)))
    writeFileSync(join(wal2, segmentName(3)), frameRecords([{ type: 1, payload: randomBytes(50) }]))
    const before = readdirSync(wal2).sort()
    wal = await within(Wal.open(wal2, 'sync'), 'open')
    await rejectsIo(wal.replay({ segment: 1, offset: 0 }, () => {}), 'EISDIR', 'the replay')
    await within(wal.close(), 'close')
    assert.equal(readdirSync(wal2).sort(), before, 'every segment is still there')

    // The store: its open fails, and the segments it could not replay are all kept.
    const me = Identity.fromSecretKey(new Uint8Array(32).fill(5))
    await rejectsIo(Xaeroflux.open({ path: dir, group: 'walfaults', identity: me, workers: 0 }), 'EISDIR', 'the store open')
    assert.equal(readdirSync(wal2).sort(), before, 'the store deleted no segment')
    rmSync(join(wal2, segmentName(2)), { recursive: true })
    writeFileSync(join(wal2, segmentName(2)), new Uint8Array(0))
    await assertNoLoss(dir, log.acked)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('wal/ replaced by a file after open: segments() and deleteBefore() reject with E_IO (ENOTDIR)', async () => {
  const dir = tempDir()
  try {
    const wal = await openLog(dir, 'sync')
    rmSync(join(dir, 'wal'), { recursive: true })
    writeFileSync(join(dir, 'wal'), 'a file')
    await rejectsIo(wal.segments(), 'ENOTDIR', 'segments()')
    await rejectsIo(wal.deleteBefore({ segment: 9, offset: 0 }), 'ENOTDIR', 'deleteBefore()')
    await rejectsIo(wal.appendMany([randomBytes(10)]), 'ENOTDIR', 'an append')
    await within(wal.close(), 'close')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a FIFO where a segment should be: an append rejects (ENXIO) instead of blocking the open; a replay of one, or of /dev/full, rejects (EINVAL) instead of reading forever', async () => {
  const dir = tempDir()
  try {
    let wal = await openLog(dir, 'sync')
    const log = new Appender(wal)
    await log.burst(2)
    await within(wal.close(), 'close')
    wal = await openLog(dir, 'sync') // appends go to segment 2
    execFileSync('mkfifo', [join(dir, 'wal', segmentName(2))])
    for (const o of await new Appender(wal).burst(2)) isIo((o as { error: unknown }).error, 'ENXIO', 'an append whose segment is a FIFO')
    await within(wal.close(), 'close')
    for (const [what, make] of [['a FIFO', () => {}], ['/dev/full', () => { rmSync(join(dir, 'wal', segmentName(2))); symlinkSync('/dev/full', join(dir, 'wal', segmentName(2))) }]] as const) {
      make()
      const reader = await within(Wal.open(join(dir, 'wal'), 'sync'), 'open')
      const e = await rejectsIo(reader.replay({ segment: 1, offset: 0 }, () => {}), 'EINVAL', `a replay of ${what}`)
      assert.equal(e.details?.segment, 2)
      await within(reader.close(), 'close')
    }
    rmSync(join(dir, 'wal', segmentName(2)))
    await assertNoLoss(dir, log.acked)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

// --- the seam: faults the real file system does not give on cue ---------------------------------

for (const durability of MODES) {
  test(`${durability}: EIO on writes 3 to 5, each torn halfway: those appends reject, the tears are cut, later appends resolve`, async () => {
    const dir = tempDir()
    try {
      const fs = new FaultFs({ write: (n, length) => (n >= 3 && n <= 5 ? { bytes: length >> 1, error: errno('EIO') } : undefined) })
      const wal = await openLog(dir, durability, fs)
      const log = new Appender(wal)
      for (let i = 0; i < 8; i++) {
        const outcomes = await log.burst(3, 2)
        const failed = i >= 2 && i <= 4 // one write per burst: bursts 3 to 5 carry the failing writes
        for (const o of outcomes) {
          if (failed) isIo((o as { error: unknown }).error, 'EIO', `burst ${i + 1}`)
          else assert.ok(o.ok, `burst ${i + 1} resolves: ${(o as { error: unknown }).error}`)
        }
      }
      assert.is(fs.n.write, 8, 'one write per burst (group commit)')
      assert.is(fs.n.ftruncate, 3, 'each torn write was cut')
      assert.is(wal.position().segment, 1, 'cutting worked, so no roll')
      if (durability !== 'none') fs.assertAckedWereSynced(join(dir, 'wal'), log.ends)
      await within(wal.close(), 'close')
      await assertNoLoss(dir, log.acked)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test(`${durability}: a torn write that cannot be cut rolls to a new segment; the cut is made once the disk lets it`, async () => {
    const dir = tempDir()
    try {
      let truncates = 0
      const fs = new FaultFs({
        write: (n, length) => (n === 2 ? { bytes: length - 3, error: errno('EIO') } : undefined),
        ftruncate: () => errno('EIO'),
        truncate: () => (++truncates <= 2 ? errno('EIO') : undefined), // the cut by path fails twice, then works
      })
      const wal = await openLog(dir, durability, fs)
      const log = new Appender(wal)
      await log.burst(2)
      for (const o of await log.burst(2)) isIo((o as { error: unknown }).error, 'EIO', 'the torn write')
      assert.is(wal.position().segment, 2, 'rolled past the segment it could not cut')
      for (let i = 0; i < 4; i++) await log.burst(2)
      assert.is(log.acked.length, 10, 'every later append resolves')
      assert.is(truncates, 3, 'the cut was tried before later writes until it worked, and no more')
      if (durability !== 'none') fs.assertAckedWereSynced(join(dir, 'wal'), log.ends)
      await within(wal.close(), 'close')
      await assertNoLoss(dir, log.acked)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
}

test('a torn write that can never be cut is reported by the replay as one damaged tail, every acknowledged record kept', async () => {
  const dir = tempDir()
  try {
    const fs = new FaultFs({ write: (n, length) => (n === 2 ? { bytes: length - 3, error: errno('EIO') } : undefined), ftruncate: () => errno('EIO'), truncate: () => errno('EIO') })
    const wal = await openLog(dir, 'sync', fs)
    const log = new Appender(wal)
    await log.burst(2)
    await log.burst(2)
    await log.burst(2)
    assert.is(log.acked.length, 4)
    await within(wal.close(), 'close')
    const { records, report } = await replayAll(dir)
    // Of the torn write (two 209-byte frames less 3 bytes) the first record is whole: it may be
    // replayed (its append was rejected). The torn one is reported where it starts.
    assert.equal(report.corrupt.map((e) => e.details), [{ segment: 1, offset: statSync(join(dir, 'wal', segmentName(1))).size - (209 - 3) }], 'the leftover is reported where it starts')
    assert.is(records.length, 5)
    for (const r of log.acked) assert.ok(records.includes(r), 'acknowledged records are kept')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a pending cut of a segment deleted since (its records indexed) is dropped, not retried before every write', async () => {
  const dir = tempDir()
  try {
    const first = join(dir, 'wal', segmentName(1))
    const fs = new FaultFs({
      write: (n, length) => (n === 2 ? { bytes: length - 3, error: errno('EIO') } : undefined),
      ftruncate: () => errno('EIO'),
      truncate: () => (existsSync(first) ? errno('EIO') : undefined), // once it is gone, the real truncate says ENOENT
    })
    const wal = await openLog(dir, 'sync', fs)
    const log = new Appender(wal)
    await log.burst(1)
    await log.burst(1)
    await log.burst(1)
    assert.is(fs.n.truncate, 1, 'the cut was retried before the next write')
    await within(wal.deleteBefore({ segment: 2, offset: 0 }), 'deleteBefore')
    assert.not.ok(existsSync(first))
    for (let i = 0; i < 3; i++) await log.burst(1)
    assert.is(fs.n.truncate, 2, 'tried once more, found gone, dropped')
    assert.is(log.acked.length, 5)
    await within(wal.close(), 'close')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('sync: a failed fsync rejects the appends it was to cover (EIO) and the log leaves that segment for a new one', async () => {
  const dir = tempDir()
  try {
    const fs = new FaultFs({ datasync: (n) => (n === 3 ? errno('EIO') : undefined) })
    const wal = await openLog(dir, 'sync', fs)
    const log = new Appender(wal)
    await log.burst(3)
    await log.burst(3)
    assert.is(log.acked.length, 6)
    for (const o of await log.burst(3)) isIo((o as { error: unknown }).error, 'EIO', 'an append whose fsync failed')
    assert.is(wal.position().segment, 1)
    await log.burst(3)
    assert.is(log.acked.length, 9, 'later appends resolve')
    assert.is(wal.position().segment, 2, 'in a new segment: no fsync of the failed one is trusted again')
    fs.assertAckedWereSynced(join(dir, 'wal'), log.ends)
    await within(wal.close(), 'close (the failed fsync was reported to its appends already)')
    await assertNoLoss(dir, log.acked)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('batch: a failed fsync rejects every append written to the segment since its last good fsync; later ones go to a new segment', async () => {
  const dir = tempDir()
  try {
    // The failing fsync is slow, so that writes go on while it runs: they are in the same
    // segment, and its later fsyncs cannot be trusted for them either.
    let failed = false
    const fs = new FaultFs({
      datasync: async (n) => {
        if (n !== 4) return undefined
        await new Promise((r) => setTimeout(r, 50))
        failed = true
        return errno('EIO')
      },
    })
    const wal = await openLog(dir, 'batch', fs)
    const log = new Appender(wal)
    const lanes = Array.from({ length: 8 }, async () => {
      for (let i = 0; i < 30; i++) { await log.burst(1); await new Promise((r) => setTimeout(r, 2)) }
    })
    await within(Promise.all(lanes), 'the lanes')
    assert.ok(failed, 'the fsync failed')
    assert.ok(log.rejected.length > 0, 'appends rejected')
    for (const e of log.rejected) isIo(e, 'EIO', 'an append of the failed fsync')
    assert.ok(log.acked.length > 0, 'the others resolved')
    assert.ok(wal.position().segment >= 2, 'the log left the segment')
    fs.assertAckedWereSynced(join(dir, 'wal'), log.ends)
    const first = log.ends.filter((e) => e.segment === 1)
    const second = log.ends.filter((e) => e.segment > 1)
    assert.ok(first.length > 0 && second.length > 0, 'appends before and after the fault resolve')
    await within(wal.close(), 'close')
    await assertNoLoss(dir, log.acked)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

for (const durability of ['sync', 'batch'] as const) {
  test(`${durability}: \`written\` is called once the records are written, before their fsync; an append whose fsync then fails rejects (EIO)`, async () => {
    const dir = tempDir()
    try {
      let release!: () => void
      const gate = new Promise<void>((r) => { release = r })
      const fs = new FaultFs({ datasync: async (n) => (n === 1 ? (await gate, errno('EIO')) : undefined) })
      const wal = await openLog(dir, durability, fs)
      let writtenAt: WalPosition | undefined
      let settledYet = false
      const append = wal.appendMany([randomBytes(100)], (end) => { writtenAt = end }).finally(() => { settledYet = true })
      await within(new Promise<void>((resolve) => { const poll = () => (writtenAt ? resolve() : setTimeout(poll, 1)); poll() }), 'written')
      assert.is(fs.n.datasync, 1, 'its fsync has started')
      assert.not.ok(settledYet, 'the append has not settled while its fsync runs')
      assert.equal(writtenAt, { segment: 1, offset: 109 }, 'written gets the position past the record')
      release()
      await rejectsIo(append, 'EIO', 'the append whose fsync failed')
      let later = 0
      await within(wal.appendMany([randomBytes(10)], () => later++), 'a later append')
      assert.is(later, 1, 'written is called once per append')
      await within(wal.close(), 'close')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
}

test('none: an fsync that fails when a segment is retired is reported by close()'
, async () => {
  const dir = tempDir()
  try {
    const fs = new FaultFs({ datasync: (n) => (n === 1 ? errno('EIO') : undefined) })
    const wal = await openLog(dir, 'none', fs, 1000)
    const log = new Appender(wal)
    for (let i = 0; i < 10; i++) await log.burst(1) // 209 bytes each: a roll after 4
    assert.is(log.acked.length, 10, "'none' appends resolve on the write")
    await rejectsIo(wal.close(), 'EIO', 'close')
    await assertNoLoss(dir, log.acked)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

async function rejectsClosed(p: Promise<unknown>, what: string): Promise<void> {
  const r = await settled(p, what)
  assert.not.ok(r.ok, `${what}: rejects`)
  const e = (r as { error: unknown }).error
  assert.ok(e instanceof XaeroError && e.code === 'E_CLOSED', `${what}: E_CLOSED, not ${e}`)
}

for (const durability of MODES) {
  test(`${durability}: close() settles every queued append; a second close() waits for the first; later appends are E_CLOSED`, async () => {
    const dir = tempDir()
    try {
      let slow = false
      // The last fsync is slow, so that the second close() is made while the first is in it.
      const fs = new FaultFs({ datasync: async () => { if (slow) await new Promise((r) => setTimeout(r, 100)); return undefined } })
      const wal = await openLog(dir, durability, fs)
      const payloads = Array.from({ length: 40 }, () => [randomBytes(100)])
      const appends = payloads.map((p) => settled(wal.appendMany(p), 'a queued append'))
      slow = true
      const order: string[] = []
      const first = settled(wal.close(), 'close').then((o) => { order.push('first'); return o })
      await new Promise((r) => setTimeout(r, 10))
      const second = settled(wal.close(), 'the second close').then((o) => { order.push('second'); return o })
      await rejectsClosed(wal.appendMany([randomBytes(1)]), 'an append after close()')
      const outcomes = await Promise.all(appends)
      assert.ok(outcomes.every((o) => o.ok), 'every queued append resolves')
      const closes = await Promise.all([first, second])
      assert.ok(closes.every((o) => o.ok), `both closes resolve: ${closes.map((o) => (o.ok ? 'ok' : (o as { error: unknown }).error))}`)
      assert.equal(order, ['first', 'second'])
      assert.is(fs.n.close, fs.n.open, 'every handle closed')
      await assertNoLoss(dir, payloads.flat().map(hex))
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  for (const fault of ['datasync', 'close'] as const) {
    test(`${durability}: close() rejects with E_IO if its ${fault === 'datasync' ? 'fsync' : 'close'} fails, the handle released; a second close() ends the same`, async () => {
      const dir = tempDir()
      try {
        let closing = false
        const fs = new FaultFs({ [fault]: () => (closing ? errno('EIO') : undefined) })
        const wal = await openLog(dir, durability, fs)
        const log = new Appender(wal)
        await log.burst(10)
        assert.is(log.acked.length, 10)
        closing = true
        const first = settled(wal.close(), 'close')
        const second = settled(wal.close(), 'the second close')
        await rejectsIo(first.then((o) => (o.ok ? o.value : Promise.reject((o as { error: unknown }).error))), 'EIO', 'close')
        await rejectsIo(second.then((o) => (o.ok ? o.value : Promise.reject((o as { error: unknown }).error))), 'EIO', 'the second close')
        // The seam closes the real handle before it fails the close: the count says one ran.
        assert.is(fs.n.close, 1, 'the handle was closed')
        if (fault === 'datasync') assert.ok(fs.n.datasync >= 1)
        await assertNoLoss(dir, log.acked)
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    })
  }
}

test('a segment that cannot be read (EIO) fails the replay with E_IO; it is not reported missing', async () => {
  const dir = tempDir()
  try {
    let wal = await openLog(dir, 'sync')
    await new Appender(wal).burst(2)
    await within(wal.close(), 'close')
    const fs = new FaultFs({ readFile: (path) => (path.endsWith(segmentName(1)) ? errno('EIO') : undefined) })
    wal = await within(Wal.open(join(dir, 'wal'), 'sync', undefined, fs), 'open')
    const seen: unknown[] = []
    const e = await rejectsIo(wal.replay({ segment: 1, offset: 0 }, (r) => seen.push(r)), 'EIO', 'the replay')
    assert.equal(e.details?.segment, 1, 'the segment is named')
    await within(wal.close(), 'close')
    // An ENOENT between listing and reading is still a missing segment.
    const gone = new FaultFs({ readFile: (path) => (path.endsWith(segmentName(1)) ? errno('ENOENT') : undefined) })
    wal = await within(Wal.open(join(dir, 'wal'), 'sync', undefined, gone), 'open')
    const report = await within(wal.replay({ segment: 1, offset: 0 }, () => {}), 'replay')
    assert.equal(report.corrupt.map((c) => [c.code, c.details]), [['E_CORRUPT_WAL', { segment: 1 }]])
    await within(wal.close(), 'close')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('readdir and unlink faults: segments() and deleteBefore() reject with E_IO and delete nothing they did not list', async () => {
  const dir = tempDir()
  try {
    const wal0 = await openLog(dir, 'sync', undefined, 300)
    for (let i = 0; i < 4; i++) await new Appender(wal0).burst(1) // one record per segment
    await within(wal0.close(), 'close')
    const names = readdirSync(join(dir, 'wal')).sort()
    assert.is(names.length, 4)
    let fs = new FaultFs({ readdir: () => errno('EIO') })
    let wal = await within(Wal.open(join(dir, 'wal'), 'sync', undefined, fs), 'open')
    await rejectsIo(wal.segments(), 'EIO', 'segments()')
    await rejectsIo(wal.replay({ segment: 1, offset: 0 }, () => {}), 'EIO', 'replay()')
    await rejectsIo(wal.deleteBefore({ segment: 9, offset: 0 }), 'EIO', 'deleteBefore()')
    assert.is(fs.n.unlink, 0, 'nothing deleted without a listing')
    assert.equal(readdirSync(join(dir, 'wal')).sort(), names)
    await within(wal.close(), 'close')
    fs = new FaultFs({ unlink: (path) => (path.endsWith(segmentName(2)) ? errno('EIO') : undefined) })
    wal = await within(Wal.open(join(dir, 'wal'), 'sync', undefined, fs), 'open')
    await rejectsIo(wal.deleteBefore({ segment: 4, offset: 0 }), 'EIO', 'deleteBefore() whose unlink fails')
    assert.ok(!existsSync(join(dir, 'wal', segmentName(1))) && existsSync(join(dir, 'wal', segmentName(4))), 'only segments before the position go')
    await within(wal.close(), 'close')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('opening a segment fails (EMFILE): the appends reject, later ones resolve once it opens', async () => {
  const dir = tempDir()
  try {
    const fs = new FaultFs({ open: (n) => (n <= 2 ? errno('EMFILE') : undefined) })
    const wal = await openLog(dir, 'sync', fs)
    const log = new Appender(wal)
    for (const o of await log.burst(2)) isIo((o as { error: unknown }).error, 'EMFILE', 'an append whose segment does not open')
    for (const o of await log.burst(2)) isIo((o as { error: unknown }).error, 'EMFILE', 'again')
    await log.burst(2)
    assert.is(log.acked.length, 2)
    await within(wal.close(), 'close')
    await assertNoLoss(dir, log.acked)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test.run()
