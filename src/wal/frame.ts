import { defaultRuntime } from '../core/default.js'
import { WAL_FRAME_HEADER, WAL_SCAN } from '../core/exports.js'

/** One record found by `scanFrames`: its payload is `buf[offset + 9, offset + 9 + length)`. */
export interface FrameRecord { offset: number; length: number; type: number }

/** What `scanFrames` found. */
export interface ScanResult {
  /** The whole records read, in order. */
  records: FrameRecord[]
  /** 'end': clean end; 'torn': an incomplete last record; 'corrupt': a record fails its checks. */
  status: 'end' | 'torn' | 'corrupt'
  /** Offset where scanning stopped: the end, or the start of the torn or corrupt record. */
  stop: number
}

/** Largest record payload; a header claiming more is corrupt. */
export const MAX_RECORD = 64 << 20

/** Frames each payload as a WAL record (see assembly/wal.ts for the layout). Types are 1..255. */
export function frameRecords(records: ReadonlyArray<{ type: number; payload: Uint8Array }>): Uint8Array {
  const runtime = defaultRuntime(), { core } = runtime
  let total = 0
  for (const r of records) {
    if (!Number.isInteger(r.type) || r.type < 1 || r.type > 255) throw new RangeError('record type must be 1..255')
    if (r.payload.length > MAX_RECORD) throw new RangeError(`record over ${MAX_RECORD} bytes`)
    total += WAL_FRAME_HEADER + r.payload.length
  }
  return runtime.withRegion(total, (ptr) => {
    let at = ptr
    for (const r of records) {
      core.u8.set(r.payload, at + WAL_FRAME_HEADER)
      at += core.exports.walFrame(at, r.type, at + WAL_FRAME_HEADER, r.payload.length)
    }
    return core.u8.slice(ptr, ptr + total)
  })
}

const STATUS = ['end', 'torn', 'corrupt'] as const
const SCAN_BATCH = 4096

/** Reads records from `buf` starting at `from`, stopping at a torn or corrupt record. */
export function scanFrames(buf: Uint8Array, from = 0, maxRecord = MAX_RECORD): ScanResult {
  const runtime = defaultRuntime(), { core } = runtime
  return runtime.withRegion(buf.length + 8 + SCAN_BATCH * 12, (ptr) => {
    const result = ptr + buf.length, out = result + 8
    core.u8.set(buf, ptr)
    const records: FrameRecord[] = []
    let at = from
    for (;;) {
      const n = core.exports.walScan(ptr, buf.length, at, maxRecord, out, SCAN_BATCH, result)
      const dv = core.dv
      for (let i = 0; i < n; i++) {
        records.push({ offset: dv.getUint32(out + i * 12, true), length: dv.getUint32(out + i * 12 + 4, true), type: dv.getUint32(out + i * 12 + 8, true) })
      }
      const status = dv.getUint32(result, true)
      at = dv.getUint32(result + 4, true)
      if (status !== WAL_SCAN.FULL) return { records, status: STATUS[status], stop: at }
    }
  })
}

/** The first offset ≥ `from` where a valid record starts, or -1. */
export function findNextFrame(buf: Uint8Array, from: number, maxRecord = MAX_RECORD): number {
  const runtime = defaultRuntime(), { core } = runtime
  return runtime.withRegion(buf.length, (ptr) => {
    core.u8.set(buf, ptr)
    return core.exports.walFindNext(ptr, buf.length, from, maxRecord)
  })
}

/** CRC32C of `bytes`, continuing from `crc`. */
export function crc32c(bytes: Uint8Array, crc = 0): number {
  const runtime = defaultRuntime(), { core } = runtime
  return runtime.withRegion(bytes.length, (ptr) => {
    core.u8.set(bytes, ptr)
    return core.exports.crc32c(ptr, bytes.length, crc) >>> 0
  })
}
