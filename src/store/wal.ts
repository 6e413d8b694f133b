import * as nodeFs from 'node:fs/promises'
import { constants, writeSync } from 'node:fs'
import { join } from 'node:path'
import { defaultRuntime } from '../core/default.js'
import { WAL_FRAME_HEADER } from '../core/exports.js'
import { XaeroError } from '../errors.js'
import { mapPacked } from '../arrays.js'
import { scanFrames, findNextFrame, MAX_RECORD } from '../wal/frame.js'

/**
 * When an append resolves:
 * - 'sync'  after its record is written and fsynced (group commit: appends that arrive while
 *           one fsync runs share the next write and fsync);
 * - 'batch' after an fsync that covers it; writes go on while it runs, and fsyncs run back to
 *           back, so one follows a write within 10 ms unless the disk is slower than that;
 * - 'none'  once the record is written to the operating system (survives a process crash,
 *           not a power cut).
 * An append that rejects (E_IO) was not acknowledged: its record may or may not be replayed.
 */
export type Durability = 'sync' | 'batch' | 'none'

/** A place in the log: the segment number and the byte offset just past a record. */
export interface WalPosition { segment: number; offset: number }

export const RECORD_EVENT = 1
const SEGMENT_BYTES = 16 << 20
const WRITE_BYTES = 4 << 20 // records framed into one write at most
// 'a', and non-blocking: a FIFO where a segment should be fails (ENXIO) instead of blocking the
// open until a reader comes. (O_NONBLOCK does nothing to regular files.)
const APPEND = constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | (constants.O_NONBLOCK ?? 0)

/** What replaying the write-ahead log found at open (`db.recovery`). */
export interface ReplayReport {
  /** Records read back past the checkpoint. */
  replayed: number
  /** Bytes cut from the end of the last segment: a record torn by a crash. */
  tornBytes: number
  /** Corrupt records and missing segments found, each E_CORRUPT_WAL; valid records around them were kept. */
  corrupt: XaeroError[]
}

/**
 * The file operations the log makes: node:fs/promises by default. Internal (not exported by
 * the package): tests pass their own to inject faults the real file system cannot give on cue.
 */
export interface WalFs {
  mkdir(path: string, options?: { recursive: boolean }): Promise<unknown>
  readdir(path: string): Promise<string[]>
  readFile(path: string): Promise<Uint8Array>
  stat(path: string): Promise<{ isFile(): boolean; isDirectory(): boolean }>
  truncate(path: string, length: number): Promise<void>
  unlink(path: string): Promise<void>
  open(path: string, flags: number): Promise<WalFile>
}

/** An open segment file, appended to (O_APPEND: each write goes to its end). */
export interface WalFile {
  /** May complete at once (see `nodeWalFs`); a failure may be thrown or rejected. */
  write(buffer: Uint8Array, offset: number, length: number): Promise<{ bytesWritten: number }> | { bytesWritten: number }
  datasync(): Promise<void>
  truncate(length: number): Promise<void>
  close(): Promise<void>
}

/**
 * Writes of up to this many bytes are made on the calling thread (write(2) into the page cache:
 * a few µs for a live push's 400 bytes) rather than through libuv's thread pool, whose round trip
 * took 0.13–0.9 ms in traces of a live push (docs/dev/latency.md), on each of its two sides.
 * Larger ones, a bulk ingest's, stay off the event loop. fsyncs always run in the pool.
 */
const SYNC_WRITE_MAX = 64 << 10

/** node:fs/promises, with small writes made at once (SYNC_WRITE_MAX). */
const nodeWalFs: WalFs = {
  mkdir: nodeFs.mkdir, readdir: nodeFs.readdir, readFile: nodeFs.readFile, stat: nodeFs.stat, truncate: nodeFs.truncate, unlink: nodeFs.unlink,
  async open(path, flags) {
    const handle = await nodeFs.open(path, flags)
    return {
      write: (buffer, offset, length) => (length <= SYNC_WRITE_MAX ? { bytesWritten: writeSync(handle.fd, buffer, offset, length) } : handle.write(buffer, offset, length)),
      datasync: () => handle.datasync(),
      truncate: (length) => handle.truncate(length),
      close: () => handle.close(),
    }
  },
}

/** Records appended by one call, framed together; `size` counts their frames. */
interface Pending { records: Uint8Array[]; size: number; written?: (end: WalPosition) => void; resolve: (end: WalPosition) => void; reject: (e: unknown) => void }

/** The open file of one segment. */
interface Segment {
  readonly number: number
  readonly file: WalFile
  /** An fsync of it failed: the kernel may have dropped its dirty pages, so no later fsync of it is trusted. */
  distrusted?: XaeroError
  /** Its last fsync and close, once the log has rolled past it; rejects as the appends it covers must. */
  retired?: Promise<void>
}

/** A 'batch' write (its appends) waiting for an fsync of the segment it went to. */
interface Unsynced { segment: Segment; resolve: () => void; reject: (e: unknown) => void }

const noop = () => {}

/**
 * The write-ahead log: numbered segment files of framed records (assembly/wal.ts) under one
 * folder. Records are appended with group commit; after a crash `replay` returns every record
 * past a checkpoint, cutting a torn tail and skipping corrupt records.
 *
 * Faults (docs/STORAGE.md, "Faults"): a failed write, fsync, read, open or close is an
 * XaeroError E_IO whose `cause` is the file system's error; an append it touched rejects and
 * was not acknowledged. The log never hangs on one and never writes past a torn record.
 */
export class Wal {
  private current?: Segment // opened by the first write to a segment, so idle opens leave no empty files
  private segment = 0
  private size = 0 // bytes of whole records in the current segment: its last good size
  private queue: Pending[] = []
  private draining?: Promise<void> // the write loop, while it runs; it never rejects
  private unsynced: Unsynced[] = []
  private syncing?: Promise<void> // the 'batch' fsync loop, while it runs; it never rejects
  private retiring?: Promise<void> // the previous segment's last fsync and close
  private repairs: WalPosition[] = [] // segments left with a torn tail (a failed write, then a failed truncate): cut them when the disk lets us
  private unreported?: XaeroError // a failed fsync no append heard of ('none'): close() reports it
  private closing?: Promise<void>

  private constructor(readonly dir: string, readonly durability: Durability, private readonly segmentBytes: number, private readonly fs: WalFs) {}

  /** `segmentBytes` (16 MiB by default) is for tests that cross segments quickly; `fs` for tests that inject faults. */
  static async open(dir: string, durability: Durability, segmentBytes = SEGMENT_BYTES, fs: WalFs = nodeWalFs): Promise<Wal> {
    try {
      await fs.mkdir(dir, { recursive: true })
    } catch (e) {
      // A recursive mkdir says ENOENT for EROFS and others (Node 20); a plain one whose
      // parent exists tells the real cause.
      const plain = await fs.mkdir(dir).then(() => undefined, (p: unknown) => p)
      if (plain === undefined) return new Wal(dir, durability, segmentBytes, fs)
      throw ioError('create the folder', dir, (plain as NodeJS.ErrnoException)?.code === 'ENOENT' ? e : plain)
    }
    return new Wal(dir, durability, segmentBytes, fs)
  }

  /** Segment numbers present on disk, ascending. A folder that cannot be listed is E_IO, never "no segments". */
  async segments(): Promise<number[]> {
    let names: string[]
    try {
      names = await this.fs.readdir(this.dir)
    } catch (e) {
      throw ioError('list', this.dir, e)
    }
    return names.filter((n) => /^\d{16}\.wal$/.test(n)).map((n) => Number(n.slice(0, 16))).sort((a, b) => a - b)
  }

  private path(segment: number): string {
    return join(this.dir, `${String(segment).padStart(16, '0')}.wal`)
  }

  /**
   * Reads every record past `from` (segments before it are ignored), cutting a torn tail off
   * the last segment. Appends then go to a new segment. A segment that is listed but cannot be
   * read (any error but ENOENT) rejects with E_IO: its records may be acknowledged ones, so it
   * is neither skipped nor reported as missing (which would let it be deleted).
   */
  async replay(from: WalPosition, onRecord: (payload: Uint8Array, end: WalPosition) => void): Promise<ReplayReport> {
    const report: ReplayReport = { replayed: 0, tornBytes: 0, corrupt: [] }
    const segments = (await this.segments()).filter((s) => s >= from.segment)
    // Segments are numbered without gaps from the checkpoint's on; one written past its offset must be there.
    if (segments.length === 0 && from.offset > 0) segments.push(from.segment)
    for (let i = 0; i < segments.length; i++) {
      const segment = segments[i]
      const expected = i === 0 ? from.segment : segments[i - 1] + 1
      for (let missing = expected; missing < segment; missing++) {
        report.corrupt.push(new XaeroError('E_CORRUPT_WAL', `write-ahead log segment ${missing} is missing`, { details: { segment: missing } }))
      }
      let buf: Uint8Array
      try {
        buf = await this.readSegment(segment)
      } catch (e) {
        if ((e as NodeJS.ErrnoException)?.code !== 'ENOENT') throw ioError('read', this.path(segment), e, { segment })
        report.corrupt.push(new XaeroError('E_CORRUPT_WAL', `write-ahead log segment ${segment} is missing`, { details: { segment } }))
        continue
      }
      let at = segment === from.segment ? from.offset : 0
      for (;;) {
        const scan = scanFrames(buf, at, MAX_RECORD)
        for (const r of scan.records) {
          onRecord(buf.subarray(r.offset + WAL_FRAME_HEADER, r.offset + WAL_FRAME_HEADER + r.length), { segment, offset: r.offset + WAL_FRAME_HEADER + r.length })
          report.replayed++
        }
        if (scan.status === 'end') break
        const next = findNextFrame(buf, scan.stop + 1, MAX_RECORD)
        if (next < 0) {
          // Nothing valid follows: the tail was torn by a crash (or zero-filled). Cut it.
          if (i === segments.length - 1) {
            try {
              await this.fs.truncate(this.path(segment), scan.stop)
            } catch (e) {
              throw ioError('cut the torn tail of', this.path(segment), e, { segment, offset: scan.stop })
            }
            report.tornBytes = buf.length - scan.stop
          } else {
            report.corrupt.push(corruptAt(segment, scan.stop, 'a damaged tail before a later segment'))
          }
          break
        }
        report.corrupt.push(corruptAt(segment, scan.stop, `a ${scan.status} record; ${next - scan.stop} bytes skipped`))
        at = next
      }
    }
    this.segment = Math.max((segments.at(-1) ?? 0) + 1, from.segment)
    this.size = 0
    return report
  }

  // A segment that is not a file is not read: a FIFO would block the read forever, and a
  // device such as /dev/full never ends. A directory is left to readFile (EISDIR); anything
  // else fails as ftruncate(2) and read(2) do on such files, with EINVAL.
  private async readSegment(segment: number): Promise<Uint8Array> {
    const path = this.path(segment)
    const stat = await this.fs.stat(path)
    if (!stat.isFile() && !stat.isDirectory()) {
      throw Object.assign(new Error(`EINVAL: not a regular file, read '${path}'`), { code: 'EINVAL', path, syscall: 'read' })
    }
    return this.fs.readFile(path)
  }

  /** Where the next record will go. */
  position(): WalPosition {
    return { segment: this.segment, offset: this.size }
  }

  /**
   * Appends records in order, in one write where they fit; resolves with the position past the
   * last once they are as durable as `durability` says. Rejects with E_IO if the write or the
   * fsync that was to cover them fails, and E_CLOSED once `close()` was called. `written` (which
   * must not throw) is called once the records are written to the operating system and their
   * fsync, if any, is under way, before it ends: from then on a killed process does not lose
   * them, and a replay may find them even if that fsync fails.
   */
  appendMany(payloads: Uint8Array[], written?: (end: WalPosition) => void): Promise<WalPosition> {
    if (this.closing) return Promise.reject(new XaeroError('E_CLOSED', 'the write-ahead log is closed'))
    const size = payloads.reduce((n, p) => n + p.length + WAL_FRAME_HEADER, 0)
    return new Promise((resolve, reject) => {
      this.queue.push({ records: payloads, size, written, resolve, reject })
      this.draining ??= Promise.resolve().then(() => this.drain())
    })
  }

  // The one writer. Every batch taken off the queue is settled here or handed, settled later,
  // to the fsync loop; a fault fails its batch and the loop goes on with the next, so a disk
  // that recovers is written to again. It never throws: close() waits for it.
  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      let bytes = 0, n = 0
      while (n < this.queue.length && (n === 0 || bytes + this.queue[n].size <= WRITE_BYTES)) bytes += this.queue[n++].size
      const batch = this.queue.splice(0, n)
      const fail = (e: unknown) => { for (const p of batch) p.reject(e) }
      try {
        if (this.repairs.length > 0) await this.repair()
        // A segment whose fsync failed is left for good; one that is full is rolled.
        if (this.current?.distrusted || (this.size > 0 && this.size + bytes > this.segmentBytes)) await this.roll()
        const segment = this.current ?? await this.openSegment() // (no await on the fast path)
        let ends: WalPosition[]
        try {
          ends = await this.write(segment, batch, bytes)
        } catch (e) {
          // The log is made whole again before the appends hear of it. (The core's memory not
          // growing to frame the batch is its own error, and nothing was written.)
          const error = e instanceof XaeroError ? e : ioError('write', this.path(segment.number), e, { segment: segment.number, offset: this.size })
          await this.cutTornWrite(segment)
          fail(error)
          continue
        }
        // The callers hear of the write once its fsync is under way: what they do then (a
        // network push) does not hold the fsync up.
        const written = () => batch.forEach((p, i) => p.written?.(ends[i]))
        const resolve = () => batch.forEach((p, i) => p.resolve(ends[i]))
        if (this.durability === 'none') {
          written()
          resolve()
        } else if (this.durability === 'batch') {
          // Writes go on while the fsync that will cover this one is pending.
          this.unsynced.push({ segment, resolve, reject: fail })
          this.syncing ??= this.syncLoop()
          written()
        } else {
          const synced = segment.file.datasync()
          written()
          try {
            await synced
          } catch (e) {
            fail(this.distrust(segment, e))
            continue
          }
          resolve()
        }
      } catch (e) {
        // Opening the segment failed (or a roll could not start one): nothing was written.
        fail(e instanceof XaeroError ? e : ioError('write', this.path(this.segment), e, { segment: this.segment }))
      }
    }
    this.draining = undefined
  }

  private async openSegment(): Promise<Segment> {
    if (this.current) return this.current
    const path = this.path(this.segment)
    try {
      this.current = { number: this.segment, file: await this.fs.open(path, APPEND) }
    } catch (e) {
      throw ioError('open', path, e, { segment: this.segment })
    }
    return this.current
  }

  // Frames the batch in the core's memory and writes it from there in one call (more only if
  // the system writes it in parts). Resolves with the position past each call's last record.
  private async write(segment: Segment, batch: Pending[], bytes: number): Promise<WalPosition[]> {
    const runtime = defaultRuntime(), { core, map } = runtime
    const ptr = map.alloc(bytes)
    try {
      let at = ptr
      const ends = mapPacked(batch, (p) => {
        for (const record of p.records) {
          core.u8.set(record, at + WAL_FRAME_HEADER)
          at += core.exports.walFrame(at, RECORD_EVENT, at + WAL_FRAME_HEADER, record.length)
        }
        return { segment: segment.number, offset: this.size + (at - ptr) }
      })
      let done = 0
      while (done < bytes) done += (await segment.file.write(core.u8, ptr + done, bytes - done)).bytesWritten
      this.size += bytes
      return ends
    } finally {
      map.release(ptr)
    }
  }

  // A failed write may have left part of its records at the end of the segment. The next write
  // must not go after them (replay would see a corrupt record before acknowledged ones), so the
  // segment is cut back to its last good size. If even that fails, the log rolls to a new
  // segment (a new file needs no cut) and keeps trying the cut later: until then a replay
  // reports the leftover as E_CORRUPT_WAL, a damaged tail before a later segment, and only
  // rejected appends were in it.
  private async cutTornWrite(segment: Segment): Promise<void> {
    try {
      await segment.file.truncate(this.size)
    } catch {
      this.repairs.push({ segment: segment.number, offset: this.size })
      await this.roll()
    }
  }

  // Retries the cuts that failed; a segment deleted since (its records indexed) needs none.
  private async repair(): Promise<void> {
    const left: WalPosition[] = []
    for (const r of this.repairs) {
      await this.fs.truncate(this.path(r.segment), r.offset).catch((e: unknown) => { if ((e as NodeJS.ErrnoException)?.code !== 'ENOENT') left.push(r) })
    }
    this.repairs = left
  }

  // A failed fsync means the kernel may have dropped the segment's unwritten pages and will
  // not say so again ("fsyncgate"), so nothing written to the segment since its last good
  // fsync counts as durable, whatever a later fsync says: the appends waiting on it reject,
  // and the next write rolls to a new segment.
  private distrust(segment: Segment, cause: unknown): XaeroError {
    segment.distrusted ??= ioError('fsync', this.path(segment.number), cause, { segment: segment.number })
    return segment.distrusted
  }

  // 'batch': writes never wait for an fsync. One fsync at a time runs, covering every write
  // finished before it started; the next starts as soon as it ends, so none waits over 10 ms
  // behind a write unless the disk itself is slower. It never throws: close() waits for it.
  private async syncLoop(): Promise<void> {
    while (this.unsynced.length > 0) {
      const waiting = this.unsynced.splice(0)
      // One fsync per segment the writes went to; writes before a roll are covered by the
      // retired segment's own last fsync.
      const outcome = new Map<Segment, unknown>()
      for (const w of waiting) {
        if (!outcome.has(w.segment)) outcome.set(w.segment, await this.syncSegment(w.segment).then(noop, (e: unknown) => e ?? new Error('fsync failed')))
      }
      for (const w of waiting) {
        const e = outcome.get(w.segment)
        if (e === undefined) w.resolve()
        else w.reject(e)
      }
    }
    this.syncing = undefined
  }

  private async syncSegment(segment: Segment): Promise<void> {
    if (segment.distrusted) throw segment.distrusted
    if (segment.retired) return segment.retired
    try {
      await segment.file.datasync()
    } catch (e) {
      throw this.distrust(segment, e)
    }
  }

  // The handle is let go before the first await, so a concurrent 'batch' fsync never uses a
  // closing file; it waits for `retired` instead. A retirement's fault reaches the appends
  // that wait on it, never the roll.
  private async roll(): Promise<void> {
    const old = this.current
    const written = this.size > 0
    this.current = undefined
    this.segment++
    this.size = 0
    if (old) {
      old.retired = this.retire(old, written)
      this.retiring = old.retired.catch(noop)
      await this.retiring
    }
  }

  // The last fsync and the close of a segment; no fsync if it is distrusted (its fault is
  // known) or holds no record (a failed write's leftover is not worth one). The handle is
  // closed whatever the fsync did. In 'none' mode no append waits for an fsync, so a failed
  // one is kept for close() to report.
  private async retire(segment: Segment, written: boolean): Promise<void> {
    let error: XaeroError | undefined
    if (!segment.distrusted && written) {
      try {
        await segment.file.datasync()
      } catch (e) {
        error = this.distrust(segment, e)
      }
    }
    try {
      await segment.file.close()
    } catch (e) {
      error ??= ioError('close', this.path(segment.number), e, { segment: segment.number })
    }
    if (error && this.durability === 'none') this.unreported ??= error
    if (segment.distrusted) throw segment.distrusted
    if (error) throw error
  }

  /**
   * Deletes the segments wholly before `position`: their records are in the database. Only
   * segments it listed; if the folder cannot be listed it deletes nothing and rejects (E_IO).
   */
  async deleteBefore(position: WalPosition): Promise<void> {
    for (const s of await this.segments()) {
      if (s >= position.segment || s === this.segment) continue
      try {
        await this.fs.unlink(this.path(s))
      } catch (e) {
        if ((e as NodeJS.ErrnoException)?.code !== 'ENOENT') throw ioError('delete', this.path(s), e, { segment: s })
      }
    }
  }

  /**
   * Waits for queued appends (each resolves or rejects), syncs and closes the current segment.
   * Always completes: if the fsync or a close fails it rejects with E_IO, the handle released
   * all the same. Appends made after it reject with E_CLOSED; a second call waits for the first.
   */
  close(): Promise<void> {
    return (this.closing ??= this.shutdown())
  }

  private async shutdown(): Promise<void> {
    // The write loop may hand writes to the fsync loop until it ends, so in this order.
    while (this.draining || this.syncing) {
      await this.draining
      await this.syncing
    }
    if (this.repairs.length > 0) await this.repair()
    const last = this.current
    this.current = undefined
    let error = this.unreported
    if (last) {
      const distrusted = last.distrusted // already reported to the appends it failed
      await this.retire(last, this.size > 0).catch((e: unknown) => { if (e !== distrusted) error ??= e as XaeroError })
    }
    await this.retiring
    if (error) throw error
  }
}

function ioError(what: string, path: string, cause: unknown, details?: Record<string, unknown>): XaeroError {
  const code = (cause as NodeJS.ErrnoException)?.code
  return new XaeroError('E_IO', `write-ahead log: cannot ${what} ${path}${code ? ` (${code})` : ''}`, { cause, details: { path, ...details } })
}

function corruptAt(segment: number, offset: number, what: string): XaeroError {
  return new XaeroError('E_CORRUPT_WAL', `write-ahead log segment ${segment} at byte ${offset}: ${what}`, { details: { segment, offset } })
}
