// Reading a range of LevelDB a chunk at a time, with no LevelDB iterator open between chunks.
//
// A LevelDB iterator pins a snapshot (the memtables and table files it saw) until it is closed,
// and a query that the app stops reading and never returns would keep it until the store
// closes. So each chunk opens an iterator, takes up to `chunk` entries with one `nextv`, and
// closes it; the next chunk seeks past the last key read. An abandoned query holds one chunk
// of entries in memory and nothing in LevelDB, and is collected with its generator. The cost: a
// seek per chunk, and a range that is not one snapshot (entries written meanwhile past the
// position reached are seen).
import type { Sub } from './queries.js'

type Bytes = Uint8Array

export interface CursorRange { gte?: Bytes; lt?: Bytes; reverse?: boolean; limit?: number }

/** Entries in a chunk at most, and about this many bytes: fewer entries when they are large. */
const CHUNK = 128
const CHUNK_BYTES = 1 << 20

let open = 0

/** LevelDB iterators opened by cursors and not yet closed, in this thread (for tests). */
export function openCursorIterators(): number {
  return open
}

/** The entries of `range` in order, read as described above. */
export async function* entries(sub: Sub, range: CursorRange): AsyncGenerator<[Bytes, Bytes]> {
  const { reverse = false } = range
  let left = range.limit ?? Infinity
  let gte = range.gte, lt = range.lt, after: Bytes | undefined
  let chunk = CHUNK
  while (left > 0) {
    const bounds = reverse
      ? { ...(gte ? { gte } : {}), ...(after ? { lt: after } : lt ? { lt } : {}) }
      : { ...(after ? { gt: after } : gte ? { gte } : {}), ...(lt ? { lt } : {}) }
    const want = Math.min(chunk, left)
    const it = sub.iterator({ ...bounds, reverse, limit: want })
    open++
    const got: Array<[Bytes, Bytes]> = []
    let ended = false
    try {
      // nextv may give fewer than asked before the end (classic-level stops at ~16 KiB)
      while (got.length < want) {
        const more = await it.nextv(want - got.length)
        if (more.length === 0) { ended = true; break }
        for (const entry of more) got.push(entry)
      }
    } finally {
      open--
      await it.close()
    }
    if (got.length === 0) return
    left -= got.length
    after = got[got.length - 1][0]
    let bytes = 0
    for (const [, v] of got) bytes += v.length
    chunk = Math.max(1, Math.min(CHUNK, Math.floor((CHUNK_BYTES * got.length) / Math.max(1, bytes))))
    yield* got
    if (ended) return
  }
}
