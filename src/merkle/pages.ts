import { pooled } from '../bytes.js'
import type { Runtime } from '../core/core.js'
import { KEY_SIZE, PAGE_SIZE } from '../core/exports.js'
import { XaeroError } from '../errors.js'

/** What a child slot of a page holds. */
export const EMPTY = 0, LEAF = 1, PAGE = 2

/** A page's address: its depth and its prefix (the `depth` bytes its keys share). */
export function pageAddress(depth: number, prefix: Uint8Array): Uint8Array {
  const a = new Uint8Array(1 + depth)
  a[0] = depth
  for (let i = 0; i < depth; i++) a[1 + i] = prefix[i] // not set(subarray()): see bytes.ts, pooled
  return a
}

const KEYS_OFFSET = PAGE_SIZE
// Zeroing is copying zeros in: fill() on a shared memory is element by element (measured: 1.9 µs
// for 8 KiB, against 0.27 µs for set()).
const ZERO_SLOT = new Uint8Array(32)
const ZERO_CHILDREN = new Uint8Array(256 * 32)
/** A page in memory: 16 KiB of slots the core hashes in place, then the 256 leaf keys (40 bytes each). */
export const PAGE_RECORD = PAGE_SIZE + 256 * KEY_SIZE

/**
 * One page of the Merkle index in the core's memory, with the kind of each child. Slots
 * 256..511 hold child hashes: leaf(key) for a leaf, the child page's hash for a page.
 */
export class Page {
  readonly kinds = new Uint8Array(256)
  dirty = false
  /** Children changed since the last rehash; undefined means rehash everything. */
  private changed?: Set<number>
  /** Leaves whose hash is still to compute (batched four at a time in `rehash`). */
  private unhashed: number[] = []

  constructor(private readonly runtime: Runtime, readonly depth: number, readonly prefix: Uint8Array, readonly ptr: number) {}

  get address(): Uint8Array { return pageAddress(this.depth, this.prefix) }

  /** Forgets every child. Only the child slots in use are zeroed: the rest already are. */
  clear(): void {
    const u8 = this.runtime.core.u8
    for (let b = 0; b < 256; b++) if (this.kinds[b] !== EMPTY) u8.set(ZERO_SLOT, this.ptr + (256 + b) * 32)
    this.kinds.fill(0)
    this.changed = undefined
    this.unhashed = []
  }

  /** A record fresh from the allocator holds anything: zero its child slots once. */
  init(): void {
    this.runtime.core.u8.set(ZERO_CHILDREN, this.ptr + 256 * 32)
    this.kinds.fill(0)
  }

  private touch(b: number): void {
    this.changed?.add(b)
    this.dirty = true
  }

  slot(i: number): Uint8Array {
    const at = this.ptr + i * 32
    return this.runtime.core.u8.subarray(at, at + 32)
  }

  /** The 32-byte page hash (slot 1); call `rehash` after changes. */
  hash(): Uint8Array { return this.slot(1).slice() }

  leafKey(b: number): Uint8Array {
    const at = this.ptr + KEYS_OFFSET + b * KEY_SIZE
    return this.runtime.core.u8.subarray(at, at + KEY_SIZE)
  }

  /** Puts the leaf of `key` in child `b`; its hash is computed by the next `rehash`. */
  setLeaf(b: number, key: Uint8Array): void {
    this.runtime.core.u8.set(key, this.ptr + KEYS_OFFSET + b * KEY_SIZE)
    this.unhashed.push(b)
    this.kinds[b] = LEAF
    this.touch(b)
  }

  /** Makes child `b` a page: its hash is `hash`, or is written at `childSlot(b)` before the next `rehash`. */
  setChildPage(b: number, hash?: Uint8Array): void {
    if (hash) this.runtime.core.u8.set(hash, this.childSlot(b))
    this.kinds[b] = PAGE
    this.touch(b)
  }

  /** Where child `b`'s hash is, in the core's memory. */
  childSlot(b: number): number { return this.ptr + (256 + b) * 32 }

  /**
   * Recomputes slots 0..255 (header bitmap, internal nodes) from the children: only the paths
   * of changed children when the rest is current, else the whole page.
   */
  rehash(): void {
    Page.rehashAll([this])
  }

  /**
   * `rehash` for many pages at once: leaves four at a time and whole pages eight at a time
   * across them, so that sparse pages (most new ones hold two or three keys) fill the SIMD lanes.
   */
  static rehashAll(pages: readonly Page[]): void {
    if (pages.length === 0) return
    const { exports } = pages[0].runtime.core
    const leaves: number[] = [] // key, then where its hash goes
    for (const page of pages) {
      for (const b of page.unhashed) leaves.push(page.ptr + KEYS_OFFSET + b * KEY_SIZE, page.ptr + (256 + b) * 32)
      page.unhashed = []
    }
    for (let i = 0; i < leaves.length; i += 8) {
      const at = (j: number) => leaves[i + j] ?? leaves[i + (j & 1)] // idle lanes repeat the first job
      exports.sha256Leaf4(at(0), at(2), at(4), at(6), at(1), at(3), at(5), at(7))
    }
    const whole: number[] = [], partial: Page[] = []
    for (const page of pages) {
      if (!page.changed) whole.push(page.ptr)
      else if (page.changed.size > 0) partial.push(page)
    }
    for (let i = 0; i < whole.length; i += 8) {
      const at = (j: number) => whole[i + j] ?? 0
      exports.hashPageGroup(Math.min(8, whole.length - i), at(0), at(1), at(2), at(3), at(4), at(5), at(6), at(7))
    }
    for (let i = 0; i < partial.length; i += 8) Page.hashChanged(partial.slice(i, i + 8))
    for (const page of pages) page.changed = new Set()
  }

  // The ancestors of the changed children of up to 8 pages, each once, in one core call.
  private static hashChanged(pages: Page[]): void {
    const { core, map } = pages[0].runtime
    let n = 0
    for (const page of pages) n += page.changed!.size
    const list = map.alloc(4 * n)
    try {
      const dv = core.dv
      let at = list
      pages.forEach((page, j) => { for (const b of page.changed!) { dv.setUint32(at, (j << 8) | b, true); at += 4 } })
      const ptr = (j: number) => pages[j]?.ptr ?? 0
      core.exports.hashChanged(list, n, pages.length, ptr(0), ptr(1), ptr(2), ptr(3), ptr(4), ptr(5), ptr(6), ptr(7))
    } finally {
      map.release(list)
    }
  }

  /** The 8 sibling hashes on the path from child `b` up to slot 1, lowest first (8 × 32 bytes). */
  siblings(b: number): Uint8Array {
    const out = new Uint8Array(8 * 32)
    for (let s = 256 + b, level = 0; s > 1; s >>= 1, level++) out.set(this.slot(s ^ 1), level * 32)
    return out
  }

  /**
   * The stored form: version 1, occupancy bitmap (32), page-kind bitmap (32), then for each
   * non-empty child in order its key (40) if a leaf or its hash (32) if a page. Internal nodes
   * are recomputed on load, so equal sets give byte-identical stored pages.
   */
  encode(): Uint8Array {
    const kinds = this.kinds
    let size = 65
    for (let b = 0; b < 256; b++) if (kinds[b] !== EMPTY) size += kinds[b] === LEAF ? KEY_SIZE : 32
    const out = pooled(size)
    out.fill(0, 0, 65)
    out[0] = 1
    const u8 = this.runtime.core.u8
    let at = 65
    for (let b = 0; b < 256; b++) {
      const k = kinds[b]
      if (k === EMPTY) continue
      out[1 + (b >> 3)] |= 1 << (b & 7)
      const from = k === PAGE ? this.ptr + (256 + b) * 32 : this.ptr + KEYS_OFFSET + b * KEY_SIZE
      const length = k === PAGE ? 32 : KEY_SIZE
      if (k === PAGE) out[33 + (b >> 3)] |= 1 << (b & 7)
      out.set(u8.subarray(from, from + length), at)
      at += length
    }
    return out
  }

  /** Fills this (cleared) page from its stored form; E_CORRUPT_INDEX if it cannot be one. */
  decode(bytes: Uint8Array): void {
    if (bytes.length < 65 || bytes[0] !== 1) throw corrupt(this, 'bad header')
    let at = 65
    for (let b = 0; b < 256; b++) {
      if (!((bytes[1 + (b >> 3)] >> (b & 7)) & 1)) continue
      const isPage = (bytes[33 + (b >> 3)] >> (b & 7)) & 1
      const size = isPage ? 32 : KEY_SIZE
      if (at + size > bytes.length) throw corrupt(this, 'truncated')
      if (isPage) this.setChildPage(b, bytes.subarray(at, at + 32))
      else this.setLeaf(b, bytes.subarray(at, at + KEY_SIZE))
      at += size
    }
    if (at !== bytes.length) throw corrupt(this, 'trailing bytes')
    this.rehash()
    this.dirty = false
  }
}

/**
 * `Page.encode` of a page whose children are all leaves, from its sorted keys (distinct at byte
 * `depth`), without the page.
 */
export function encodeLeafPage(keys: readonly Uint8Array[], depth: number): Uint8Array {
  const out = pooled(65 + keys.length * KEY_SIZE)
  out.fill(0, 0, 65)
  out[0] = 1
  for (let i = 0; i < keys.length; i++) {
    const b = keys[i][depth]
    out[1 + (b >> 3)] |= 1 << (b & 7)
    out.set(keys[i], 65 + i * KEY_SIZE)
  }
  return out
}

/**
 * The keys of a stored page whose children are all leaves (as `encodeLeafPage` writes it), in
 * order; undefined for any other stored page.
 */
export function leafPageKeys(bytes: Uint8Array): Uint8Array[] | undefined {
  if (bytes.length < 65 || bytes[0] !== 1 || (bytes.length - 65) % KEY_SIZE !== 0) return undefined
  for (let i = 33; i < 65; i++) if (bytes[i] !== 0) return undefined
  const keys: Uint8Array[] = []
  for (let at = 65; at < bytes.length; at += KEY_SIZE) keys.push(bytes.subarray(at, at + KEY_SIZE))
  return keys
}

function corrupt(page: Page, what: string): XaeroError {
  return new XaeroError('E_CORRUPT_INDEX', `Merkle page at depth ${page.depth} is corrupt: ${what}`, { details: { depth: page.depth } })
}
