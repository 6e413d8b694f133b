// WAL replay at open (docs/STORAGE.md, Recovery): every record past the checkpoint is an event
// that was acknowledged, and is indexed again; then the checkpoint moves past the log.
import { concat, u64 } from '../bytes.js'
import { XaeroError } from '../errors.js'
import { decodeEvents, type Event } from '../event.js'
import { META_WAL } from './layout.js'
import { MAX_PAYLOAD_LIMIT } from './options.js'
import { MAX_TIME, type Sub } from './queries.js'
import type { ReplayReport, Wal, WalPosition } from './wal.js'

/**
 * Reads the log past `from` and hands each logged event to `enqueue`; `indexed` must resolve
 * once they are all indexed. The limits of the store (`maxPayload`, `maxSkew`, `writers`) are
 * not applied again: they were checked when the event was accepted, and an acknowledged event
 * is never dropped because the store was reopened with other limits. Only what the format
 * itself requires (structure, group, the id that makes the key) is checked: a record that fails
 * it is reported as E_CORRUPT_WAL. The signature was checked before the event was logged.
 */
export async function replayWal(wal: Wal, meta: Sub, from: WalPosition, group: Uint8Array, enqueue: (event: Event, end: WalPosition) => void, indexed: () => Promise<void>): Promise<ReplayReport> {
  const records: Array<{ bytes: Uint8Array; end: WalPosition }> = []
  const report = await wal.replay(from, (bytes, end) => records.push({ bytes: bytes.slice(), end }))
  const decoded = decodeEvents(records.map((r) => r.bytes), { group, maxPayload: MAX_PAYLOAD_LIMIT, now: MAX_TIME, maxSkew: 0, verify: false })
  decoded.forEach((r, i) => {
    if (r instanceof XaeroError) report.corrupt.push(new XaeroError('E_CORRUPT_WAL', `a logged record is not a valid event: ${r.code}`, { cause: r }))
    else enqueue(r, records[i].end)
  })
  await indexed()
  // All before the new segment is indexed or reported: check it no more, and let it go.
  const start = wal.position()
  await meta.put(META_WAL, concat(u64(start.segment), u64(start.offset)), { sync: true } as never)
  await wal.deleteBefore(start)
  return report
}
