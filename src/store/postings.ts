// The by-author and by-kind indexes as posting blocks (docs/STORAGE.md): an index batch writes,
// for each author and each kind among its events, one entry listing their keys, instead of an
// entry per event. Reading merges the blocks that overlap a time range back into key order.
import { concat, readU64, u64 } from '../bytes.js'
import { KEY_SIZE } from '../core/exports.js'
import { XaeroError } from '../errors.js'
import { toHex } from '../hex.js'
import { compareKeys } from '../merkle/keys.js'
import { entries } from './cursor.js'
import type { Sub } from './queries.js'

type Bytes = Uint8Array

/**
 * The keys of a block lie within this many ms of its first key's timestamp. It bounds how far
 * before `from` a forward range must look for blocks, and how far a reverse one must read ahead.
 */
export const POSTING_SPAN = 64

/**
 * The posting blocks of a batch's events under one index, given in key order: for each index
 * value (the `length` bytes at `at` of `bytesOf(item)`, e.g. the author of an envelope), its
 * keys, cut where they would span POSTING_SPAN. Each block is stored at value ‖ its first key,
 * holding its keys end to end.
 */
export function postingBlocks<T>(items: readonly T[], keyOf: (item: T) => Bytes, bytesOf: (item: T) => Bytes, at: number, length: number): Array<{ key: Bytes; value: Bytes }> {
  const groups = new Map<string | number, { value: Bytes; keys: Bytes[] }>()
  let last: { value: Bytes; keys: Bytes[] } | undefined
  for (const item of items) {
    const bytes = bytesOf(item)
    // Runs of one author or kind are common (a batch of appends): no lookup, and no view, for those.
    let group = last && holdsAt(bytes, at, last.value) ? last : undefined
    if (!group) {
      const id = groupId(bytes, at, length)
      group = groups.get(id)
      if (!group) groups.set(id, group = { value: bytes.subarray(at, at + length), keys: [] })
    }
    group.keys.push(keyOf(item))
    last = group
  }
  const blocks: Array<{ key: Bytes; value: Bytes }> = []
  for (const { value, keys } of groups.values()) {
    for (let start = 0; start < keys.length;) {
      const limit = readU64(keys[start]) + POSTING_SPAN
      let end = start + 1
      while (end < keys.length && readU64(keys[end]) < limit) end++
      const block = new Uint8Array((end - start) * KEY_SIZE)
      for (let i = start; i < end; i++) block.set(keys[i], (i - start) * KEY_SIZE)
      blocks.push({ key: concat(value, keys[start]), value: block })
      start = end
    }
  }
  return blocks
}

function holdsAt(bytes: Bytes, at: number, value: Bytes): boolean {
  for (let i = 0; i < value.length; i++) if (bytes[at + i] !== value[i]) return false
  return true
}

// A Map key for the index value at `at`: a number for a kind, hex for an author.
function groupId(bytes: Bytes, at: number, length: number): string | number {
  if (length > 6) return toHex(bytes.subarray(at, at + length))
  let n = 0
  for (let i = 0; i < length; i++) n = n * 256 + bytes[at + i]
  return n
}

/** A block being read: its keys, the next one's offset and the step (+40 forward, −40 reverse). */
class Cursor {
  constructor(readonly keys: Bytes, public at: number, readonly step: number) {}
  get done(): boolean { return this.at < 0 || this.at >= this.keys.length }
  get key(): Bytes { return this.keys.subarray(this.at, this.at + KEY_SIZE) }
}

function compareCursors(a: Cursor, b: Cursor): number {
  for (let i = 0; i < KEY_SIZE; i++) {
    const d = a.keys[a.at + i] - b.keys[b.at + i]
    if (d !== 0) return d
  }
  return 0
}

/**
 * The keys of every block under `prefix` with a timestamp in [from, to), in key order (or
 * reversed). Only blocks that may hold the next key are read: memory holds the blocks that
 * overlap, not the result.
 */
export async function* postingKeys(index: Sub, prefix: Bytes, from: number, to: number, reverse: boolean): AsyncGenerator<Bytes> {
  const blocks = entries(index, { gte: concat(prefix, u64(Math.max(0, from - POSTING_SPAN + 1))), lt: concat(prefix, u64(to)), reverse })
  const open = new Heap<Cursor>(reverse ? (a, b) => compareCursors(b, a) : compareCursors)
  try {
    const read = async () => { const r = await blocks.next(); return r.done ? undefined : r.value }
    let next = await read()
    for (;;) {
      // A block not read yet may hold the next key when its first key comes before the best
      // open one (forward), or its span reaches the best open one (reverse).
      while (next !== undefined && (open.size === 0 || mayPrecede(next[0].subarray(prefix.length), open.peek().key, reverse))) {
        const cursor = openBlock(next[1], from, to, reverse)
        if (!cursor.done) open.push(cursor)
        next = await read()
      }
      if (open.size === 0) return
      const cursor = open.pop()
      const time = readU64(cursor.keys, cursor.at)
      if (reverse ? time < from : time >= to) return
      yield cursor.key
      cursor.at += cursor.step
      if (!cursor.done) open.push(cursor)
    }
  } finally {
    await blocks.return(undefined)
  }
}

function mayPrecede(first: Bytes, best: Bytes, reverse: boolean): boolean {
  return reverse ? readU64(first) + POSTING_SPAN > readU64(best) : compareKeys(first, best) <= 0
}

// A cursor at the first key of the block in [from, to) in the direction of reading.
function openBlock(keys: Bytes, from: number, to: number, reverse: boolean): Cursor {
  if (keys.length === 0 || keys.length % KEY_SIZE !== 0) throw new XaeroError('E_CORRUPT_INDEX', `a posting block of ${keys.length} bytes`)
  if (!reverse) {
    let at = 0
    while (at < keys.length && readU64(keys, at) < from) at += KEY_SIZE
    return new Cursor(keys, at, KEY_SIZE)
  }
  let at = keys.length - KEY_SIZE
  while (at >= 0 && readU64(keys, at) >= to) at -= KEY_SIZE
  return new Cursor(keys, at, -KEY_SIZE)
}

/** A binary min-heap by `before`. */
class Heap<T> {
  private items: T[] = []
  constructor(private readonly before: (a: T, b: T) => number) {}
  get size(): number { return this.items.length }
  peek(): T { return this.items[0] }
  push(item: T): void {
    const a = this.items
    let i = a.push(item) - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (this.before(a[i], a[parent]) >= 0) break
      ;[a[i], a[parent]] = [a[parent], a[i]]
      i = parent
    }
  }
  pop(): T {
    const a = this.items
    const top = a[0], last = a.pop()!
    if (a.length > 0) {
      a[0] = last
      for (let i = 0; ;) {
        const l = 2 * i + 1, r = l + 1
        let best = i
        if (l < a.length && this.before(a[l], a[best]) < 0) best = l
        if (r < a.length && this.before(a[r], a[best]) < 0) best = r
        if (best === i) break
        ;[a[i], a[best]] = [a[best], a[i]]
        i = best
      }
    }
    return top
  }
}
