import { mkdir, open, readdir, readFile, truncate, unlink, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { runtime } from '../core/default.js'
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
 */
export type Durability = 'sync' | 'batch' | 'none'

/** A place in the log: the segment number and the byte offset just past a record. */
export interface WalPosition { segment: number; offset: number }

export const RECORD_EVENT = 1
const SEGMENT_BYTES = 16 << 20
const WRITE_BYTES = 4 << 20 // records framed into one write at most

export interface ReplayReport {
  /** Records read back past the checkpoint. */
  replayed: number
  /** Bytes cut from the end of the last segment: a record torn by a crash. */
  tornBytes: number
  /** Corrupt records and missing segments found, each E_CORRUPT_WAL; valid records around them were kept. */
  corrupt: XaeroError[]
}

/** Records appended by one call, framed together; `size` counts their frames. */
interface Pending { records: Uint8Array[]; size: number; resolve: (end: WalPosition) => void; reject: (e: unknown) => void }

/**
 * The write-ahead log: numbered segment files of framed records (assembly/wal.ts) under one
 * folder. Records are appended with group commit; after a crash `replay` returns every record
 * past a checkpoint, cutting a torn tail and skipping corrupt records.
 */
export class Wal {
  private file?: FileHandle // opened by the first write to a segment, so idle opens leave no empty files
  private segment = 0
  private size = 0
  private queue: Pending[] = []
  private writing = false
  private unsynced: Array<{ resolve: () => void; reject: (e: unknown) => void }> = []
  private syncing = false
  private retiring?: Promise<void> // the previous segment's last fsync and close
  private failed?: unknown

  private constructor(readonly dir: string, readonly durability: Durability, private readonly segmentBytes: number) {}

  /** `segmentBytes` (16 MiB by default) is for tests that cross segments quickly. */
  static async open(dir: string, durability: Durability, segmentBytes = SEGMENT_BYTES): Promise<Wal> {
    await mkdir(dir, { recursive: true })
    return new Wal(dir, durability, segmentBytes)
  }

  /** Segment numbers present on disk, ascending. */
  async segments(): Promise<number[]> {
    const names = await readdir(this.dir)
    return names.filter((n) => /^\d{16}\.wal$/.test(n)).map((n) => Number(n.slice(0, 16))).sort((a, b) => a - b)
  }

  private path(segment: number): string {
    return join(this.dir, `${String(segment).padStart(16, '0')}.wal`)
  }

  /**
   * Reads every record past `from` (segments before it are ignored), cutting a torn tail off
   * the last segment. Appends then go to a new segment.
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
      const buf = await readFile(this.path(segment)).catch(() => undefined)
      if (!buf) {
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
            await truncate(this.path(segment), scan.stop)
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

  /** Where the next record will go. */
  position(): WalPosition {
    return { segment: this.segment, offset: this.size }
  }

  /**
   * Appends records in order, in one write where they fit; resolves with the position past the
   * last once they are as durable as `durability` says.
   */
  appendMany(payloads: Uint8Array[]): Promise<WalPosition> {
    if (this.failed) return Promise.reject(this.failed)
    const size = payloads.reduce((n, p) => n + p.length + WAL_FRAME_HEADER, 0)
    return new Promise((resolve, reject) => {
      this.queue.push({ records: payloads, size, resolve, reject })
      if (!this.writing) { this.writing = true; queueMicrotask(() => this.drain()) }
    })
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        let bytes = 0, n = 0
        while (n < this.queue.length && (n === 0 || bytes + this.queue[n].size <= WRITE_BYTES)) bytes += this.queue[n++].size
        const batch = this.queue.splice(0, n)
        if (this.size > 0 && this.size + bytes > this.segmentBytes) await this.roll()
        const ends = await this.write(batch, bytes)
        const settle = (e?: unknown) => batch.forEach((p, i) => (e === undefined ? p.resolve(ends[i]) : p.reject(e)))
        if (this.durability === 'sync') await this.file?.datasync()
        // 'batch' keeps writing while the timed fsync that will cover this write is pending
        if (this.durability === 'batch') this.syncSoon().then(() => settle(), settle)
        else settle()
      }
    } catch (e) {
      this.failed = e
      for (const p of this.queue.splice(0)) p.reject(e)
    } finally {
      this.writing = false
    }
  }

  // Frames the batch in the core's memory and writes it from there in one call.
  // Resolves with the position past each call's last record.
  private async write(batch: Pending[], bytes: number): Promise<WalPosition[]> {
    const { core, map } = runtime
    const ptr = map.alloc(bytes)
    try {
      let at = ptr
      const ends = mapPacked(batch, (p) => {
        for (const record of p.records) {
          core.u8.set(record, at + WAL_FRAME_HEADER)
          at += core.exports.walFrame(at, RECORD_EVENT, at + WAL_FRAME_HEADER, record.length)
        }
        return { segment: this.segment, offset: this.size + (at - ptr) }
      })
      let done = 0
      this.file ??= await open(this.path(this.segment), 'a')
      while (done < bytes) done += (await this.file.write(core.u8, ptr + done, bytes - done)).bytesWritten
      this.size += bytes
      return ends
    } finally {
      map.release(ptr)
    }
  }

  // 'batch': writes never wait for an fsync. One fsync at a time runs, covering every write
  // finished before it started; the next starts as soon as it ends, so none waits over 10 ms
  // behind a write unless the disk itself is slower.
  private syncSoon(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.unsynced.push({ resolve, reject })
      if (!this.syncing) void this.syncLoop()
    })
  }

  private async syncLoop(): Promise<void> {
    this.syncing = true
    try {
      while (this.unsynced.length > 0) {
        const waiting = this.unsynced.splice(0)
        try {
          // Writes before a roll are in the retired segment: its own fsync covers them.
          await this.retiring
          await this.file?.datasync()
          for (const w of waiting) w.resolve()
        } catch (e) {
          for (const w of waiting) w.reject(e)
        }
      }
    } finally {
      this.syncing = false
    }
  }

  // The handle is let go before the first await, so a concurrent 'batch' fsync never uses a
  // closing file; it waits for `retiring` instead.
  private async roll(): Promise<void> {
    const old = this.file
    this.file = undefined
    this.segment++
    this.size = 0
    if (old) await (this.retiring = old.datasync().then(() => old.close()))
  }

  /** Deletes the segments wholly before `position`: their records are in the database. */
  async deleteBefore(position: WalPosition): Promise<void> {
    for (const s of await this.segments()) if (s < position.segment && s !== this.segment) await unlink(this.path(s))
  }

  /** Waits for queued appends, syncs, and closes the current segment. */
  async close(): Promise<void> {
    while (this.writing || this.syncing) await new Promise((r) => setTimeout(r, 1))
    if (this.file) {
      await this.file.datasync()
      await this.file.close()
    }
  }
}

function corruptAt(segment: number, offset: number, what: string): XaeroError {
  return new XaeroError('E_CORRUPT_WAL', `write-ahead log segment ${segment} at byte ${offset}: ${what}`, { details: { segment, offset } })
}
