// The read side of the store (docs/STORAGE.md, Queries): events by id, by time, author and
// kind, streamed from LevelDB a chunk at a time, and the keys under a prefix.
import type { AbstractLevel, AbstractSublevel } from 'abstract-level'
import { concat, u64 } from '../bytes.js'
import { XaeroError } from '../errors.js'
import { Event, HEADER_SIZE, SIGNATURE_SIZE, VERSION } from '../event.js'
import { bytes32, toHex } from '../hex.js'
import { entries } from './cursor.js'
import { kindBytes } from './layout.js'
import { postingKeys } from './postings.js'

type Bytes = Uint8Array
export type DB = AbstractLevel<Bytes, Bytes, Bytes>
export type Sub = AbstractSublevel<DB, Bytes, Bytes, Bytes>

/** What `range` reads: events in key (time) order, filtered. */
export interface RangeOptions {
  /** Earliest timestamp, inclusive (ms). */
  from?: number
  /** Latest timestamp, exclusive (ms). */
  to?: number
  /** Only this author's events (public key, 32 bytes or hex). */
  author?: Uint8Array | string
  /** Only events of this kind. */
  kind?: number
  /** At most this many events. */
  limit?: number
  /** Newest first. */
  reverse?: boolean
}

export const MAX_TIME = 2 ** 53 - 1
/** Index keys read, then events fetched, this many at a time. */
const READ_CHUNK = 128

/** Checks range options (TypeError, RangeError) and fills in their defaults. */
export function checkRange(o: RangeOptions) {
  if (typeof o !== 'object') throw new TypeError('range options must be an object')
  const from = o.from ?? 0, to = o.to ?? MAX_TIME
  for (const [name, v] of [['from', from], ['to', to]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${name} must be a timestamp in ms`)
  }
  if (o.kind !== undefined && (!Number.isInteger(o.kind) || o.kind < 0 || o.kind > 0xffff)) throw new RangeError('kind must be 0..65535')
  const limit = o.limit ?? Infinity
  if (limit !== Infinity && (!Number.isInteger(limit) || limit < 0)) throw new RangeError('limit must be a whole number')
  const author = o.author === undefined ? undefined : bytes32(o.author, 'author')
  return { from, to, author, kind: o.kind, limit, reverse: o.reverse === true }
}

/** The event with this 32-byte id, or undefined. */
export async function getEvent(sub: { ids: Sub; events: Sub }, id: Uint8Array): Promise<Event | undefined> {
  const ts = await sub.ids.get(id)
  if (!ts) return undefined
  const key = concat(ts, id)
  const bytes = await sub.events.get(key)
  return bytes ? storedEvent(bytes, key) : undefined
}

/**
 * The events with these 32-byte ids (undefined for each one not stored), in two batched reads
 * (ids, then events) instead of two reads per id: a sync serving 100 wanted ids spent 26 ms in
 * 200 single reads on the loaded 2-core machine (docs/dev/latency.md).
 */
export async function getEvents(sub: { ids: Sub; events: Sub }, ids: readonly Uint8Array[]): Promise<Array<Event | undefined>> {
  if (ids.length === 0) return []
  const times = await sub.ids.getMany(ids as Uint8Array[])
  const found: number[] = [], keys: Uint8Array[] = []
  times.forEach((ts, i) => { if (ts) { found.push(i); keys.push(concat(ts, ids[i])) } })
  const out: Array<Event | undefined> = new Array(ids.length).fill(undefined)
  if (keys.length === 0) return out
  const values = await sub.events.getMany(keys)
  values.forEach((bytes, j) => { if (bytes) out[found[j]] = storedEvent(bytes, keys[j]) })
  return out
}

/**
 * Events in key order (time, then id) matching checked range options. Without author or kind
 * the events are iterated; otherwise an index's posting blocks give keys in order and the
 * events are fetched a chunk at a time (author and kind together: by author, filtered on kind).
 */
export async function* rangeEvents(sub: { events: Sub; byAuthor: Sub; byKind: Sub }, range: ReturnType<typeof checkRange>): AsyncGenerator<Event> {
  const { from, to, author, kind, limit, reverse } = range
  if (limit === 0) return
  const lo = u64(from), hi = u64(to)
  if (author === undefined && kind === undefined) {
    for await (const [key, bytes] of entries(sub.events, { gte: lo, lt: hi, reverse, limit })) yield storedEvent(bytes, plain(key))
    return
  }
  const [index, prefix] = author !== undefined ? [sub.byAuthor, author] : [sub.byKind, kindBytes(kind!)]
  const keys = postingKeys(index, prefix, from, to, reverse)
  let n = 0
  try {
    for (;;) {
      const chunk: Uint8Array[] = []
      // A small limit fetches no more events than it needs, unless a kind filter will drop some.
      const want = kind === undefined ? Math.min(READ_CHUNK, limit - n) : READ_CHUNK
      for (let k = await keys.next(); !k.done; k = await keys.next()) if (chunk.push(k.value) >= want) break
      if (chunk.length === 0) return
      const values = await sub.events.getMany(chunk)
      for (let i = 0; i < chunk.length; i++) {
        const bytes = values[i]
        if (!bytes) continue
        const event = storedEvent(bytes, chunk[i])
        if (kind !== undefined && event.kind !== kind) continue
        yield event
        if (++n >= limit) return
      }
    }
  } finally {
    await keys.return(undefined)
  }
}

/** Every stored key with this prefix, in order, at most `limit`. */
export async function keysUnder(events: Sub, prefix: Uint8Array, limit?: number): Promise<Uint8Array[]> {
  const keys: Uint8Array[] = []
  const end = prefixEnd(prefix)
  const range = { ...(prefix.length ? { gte: prefix } : {}), ...(end ? { lt: end } : {}), ...(limit ? { limit } : {}) }
  for await (const key of events.keys(range)) keys.push(plain(key))
  return keys
}

/** The first key after every key with this prefix, or undefined when there is none. */
function prefixEnd(prefix: Uint8Array): Uint8Array | undefined {
  const end = prefix.slice()
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 255) { end[i]++; return end.subarray(0, i + 1) }
  }
  return undefined
}

/**
 * A stored envelope as an Event, after the checks that cost nothing: its structure, and the
 * timestamp its key was made from. Anything else is E_CORRUPT_EVENT, never returned as an event.
 * (The id is not recomputed: LevelDB's block checksums guard the bytes.)
 */
export function storedEvent(value: Uint8Array, key: Uint8Array): Event {
  const bytes = plain(value)
  const length = bytes.length >= HEADER_SIZE ? ((bytes[76] << 24) | (bytes[77] << 16) | (bytes[78] << 8) | bytes[79]) >>> 0 : -1
  let sameTime = bytes.length >= 12
  for (let i = 0; i < 8 && sameTime; i++) sameTime = bytes[4 + i] === key[i]
  if (bytes[0] !== VERSION || bytes[1] !== 0 || length < 0 || bytes.length !== HEADER_SIZE + length + SIGNATURE_SIZE || !sameTime) {
    throw new XaeroError('E_CORRUPT_EVENT', `the stored event ${toHex(key.subarray(8))} is corrupt (${bytes.length} bytes)`, { details: { key: toHex(key) } })
  }
  return new Event(bytes, key)
}

/** LevelDB hands back Buffers; events carry plain Uint8Array views of the same bytes. */
function plain(b: Uint8Array): Uint8Array {
  return b.constructor === Uint8Array ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
}
