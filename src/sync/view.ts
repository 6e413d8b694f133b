import { KEY_SIZE, PAGE_SIZE } from '../core/exports.js'
import { toHex } from '../hex.js'
import { compareKeys, prefixPosition, timeBound } from '../merkle/keys.js'
import { LEAF, PAGE } from '../merkle/pages.js'
import type { Slot } from '../merkle/tree.js'
import { bitOf, hasPrefix, type Addr } from './codec.js'
import type { Pacer } from './pacer.js'

/** What one side knows of its own set; the store implements it over its tree and events. */
export interface ReconcileSource {
  /** The slot for everything under `prefix` (depth = prefix.length): EMPTY, a leaf's key, or a page (its record and child kinds). */
  slot(prefix: Uint8Array): Promise<Slot>
  /** Optional: `slot` of many prefixes in one go (src/db.ts reads the pages of each depth in one batch). */
  slots?(prefixes: Uint8Array[]): Promise<Slot[]>
  /** Which of these keys are stored. */
  hasKeys(keys: Uint8Array[]): Promise<boolean[]>
  /**
   * Optional: runs one call's work (`open`, one `receive`) with the source held, so that its
   * reads wait for a writer once, not once each (src/db.ts holds the Merkle tree). The work gets
   * `breathe(rest)`, which lets the source go while `rest` runs (the writers waiting meanwhile go
   * through) and takes it back after: called at each of the session's yields, so that a long step
   * does not hold writes up for its length, nor for its pauses.
   */
  hold?<T>(work: (breathe: (rest: () => Promise<void>) => Promise<void>) => Promise<T>): Promise<T>
  /** Optional: shared by all the reconciliations of this source, which then share its pauses (src/sync/pacer.ts). */
  pacer?: Pacer
}

/** A page as this side saw it, with the number of keys (0, 1, 2 = two or more) under each slot. */
export interface Snap { depth: number; prefix: Uint8Array; record: Uint8Array; kinds: Uint8Array; weight: Uint8Array }

/** This side's subtree at a node: empty, one key, or two or more (slot `h` of a page). */
export type Mine = { t: 0 } | { t: 1; key: Uint8Array; hash: Uint8Array } | { t: 2; snap: Snap; h: number }
export const NONE: Mine = { t: 0 }

/** Page snapshots kept by one side during a reconciliation. */
const SNAPSHOTS = 256
/** Pages read ahead in one batch at most (`readChildren`): a quarter of the snapshots, ~1.7 MB of records. */
const READ_AHEAD = 64

/** The time range [from, to) of a reconciliation, as key bounds. */
export class KeyRange {
  private readonly lo: Uint8Array
  private readonly hi: Uint8Array
  readonly everything: boolean

  constructor(readonly from: number, readonly to: number) {
    this.lo = timeBound(from)
    this.hi = timeBound(to)
    this.everything = from === 0 && to >= Number.MAX_SAFE_INTEGER // no stored event is that far in the future
  }

  has(key: Uint8Array): boolean {
    return this.everything || (compareKeys(key, this.lo) >= 0 && compareKeys(key, this.hi) < 0)
  }

  position(addr: Addr): 'inside' | 'outside' | 'straddles' {
    return this.everything ? 'inside' : prefixPosition(addr.prefix, this.lo, this.hi, addr.bits)
  }

  outside(addr: Addr): boolean {
    return this.position(addr) === 'outside'
  }
}

/**
 * This side's tree as a reconciliation reads it, node by node: pages are read through the source
 * once and kept as snapshots (an LRU of SNAPSHOTS pages), so that one session sees each page as
 * it was when first read. `pagesRead` counts the reads that missed the snapshots.
 */
export class TreeView {
  private readonly snaps = new Map<string, Snap | Mine>()
  pagesRead = 0

  constructor(private readonly source: ReconcileSource, readonly range: KeyRange) {}

  /** This side's subtree at a node. */
  async locate(addr: Addr): Promise<Mine> {
    const d = addr.bits >> 3, j = addr.bits & 7
    const at = await this.page(addr.prefix.subarray(0, d))
    if (!('record' in at)) return at.t === 1 && hasPrefix(at.key, addr) ? at : NONE
    return this.at(at, j === 0 ? 1 : (1 << j) | (addr.prefix[d] >> (8 - j)))
  }

  /** Half `c` of this side's subtree at a node of `bits` bits. */
  async child(mine: Mine, bits: number, c: number): Promise<Mine> {
    if (mine.t === 0) return NONE
    if (mine.t === 1) return bitOf(mine.key, bits) === c ? mine : NONE
    let { snap, h } = mine
    if (h >= 256) {
      const b = h - 256
      if (snap.kinds[b] !== PAGE) return NONE
      const next = await this.page(childPrefix(snap, b))
      if (!('record' in next)) return next.t === 1 && bitOf(next.key, bits) === c ? next : NONE // the tree changed meanwhile
      snap = next
      h = 1
    }
    return this.at(snap, 2 * h + c)
  }

  /** This side's keys in range under a node, in order. */
  async *keysOf(mine: Mine): AsyncGenerator<Uint8Array> {
    const range = this.range
    if (mine.t === 0) return
    if (mine.t === 1) { if (range.has(mine.key)) yield mine.key; return }
    const stack: Array<{ snap: Snap; h: number }> = [{ snap: mine.snap, h: mine.h }]
    while (stack.length > 0) {
      let { snap, h } = stack.pop()!
      if (snap.weight[h] === 0 || (!range.everything && range.outside(heapAddr(snap, h)))) continue
      if (h >= 256) {
        const b = h - 256
        if (snap.kinds[b] === LEAF) {
          const key = snap.record.subarray(PAGE_SIZE + b * KEY_SIZE, PAGE_SIZE + (b + 1) * KEY_SIZE)
          if (range.has(key)) yield key
          continue
        }
        const next = await this.page(childPrefix(snap, b))
        if (!('record' in next)) { if (next.t === 1 && range.has(next.key)) yield next.key; continue }
        snap = next
        h = 1
      }
      stack.push({ snap, h: 2 * h + 1 }, { snap, h: 2 * h })
    }
  }

  async hasKeys(keys: Uint8Array[]): Promise<boolean[]> {
    if (keys.length === 0) return []
    return this.source.hasKeys(keys)
  }

  private at(snap: Snap, h: number): Mine {
    const w = snap.weight[h]
    if (w === 0) return NONE
    if (w === 2) return { t: 2, snap, h }
    while (h < 256) h = snap.weight[2 * h] ? 2 * h : 2 * h + 1
    const b = h - 256
    return { t: 1, key: snap.record.subarray(PAGE_SIZE + b * KEY_SIZE, PAGE_SIZE + (b + 1) * KEY_SIZE), hash: snap.record.subarray(h * 32, h * 32 + 32) }
  }

  /**
   * Reads ahead, in one batch, the pages that `child` will read for the halves of these subtrees
   * (those at the bottom of a page, over a child page), up to READ_AHEAD of them. For a source
   * without `slots`, or a single page, `child` reads as it goes.
   */
  async readChildren(mines: Mine[]): Promise<void> {
    if (!this.source.slots) return
    const wanted = new Map<string, Uint8Array>()
    for (const m of mines) {
      if (wanted.size === READ_AHEAD) break
      if (m.t !== 2 || m.h < 256 || m.snap.kinds[m.h - 256] !== PAGE) continue
      const prefix = childPrefix(m.snap, m.h - 256), id = toHex(prefix)
      if (!this.snaps.has(id)) wanted.set(id, prefix)
    }
    if (wanted.size < 2) return
    this.pagesRead += wanted.size
    const slots = await this.source.slots([...wanted.values()])
    let i = 0
    for (const [id, prefix] of wanted) this.remember(id, snapshot(prefix, slots[i++]))
  }

  /** The page at a byte prefix (a snapshot, kept for the session in a small cache), or what is there instead. */
  private async page(prefix: Uint8Array): Promise<Snap | Mine> {
    const id = toHex(prefix)
    const known = this.snaps.get(id)
    if (known) {
      this.snaps.delete(id) // most recently used last
      this.snaps.set(id, known)
      return known
    }
    this.pagesRead++
    const slot = await this.source.slot(prefix)
    return this.remember(id, snapshot(prefix, slot))
  }

  private remember(id: string, snap: Snap | Mine): Snap | Mine {
    if (this.snaps.size >= SNAPSHOTS) this.snaps.delete(this.snaps.keys().next().value!)
    this.snaps.set(id, snap)
    return snap
  }
}

/** A page as read at `prefix`, with its weights; or what is there instead of a page. */
function snapshot(prefix: Uint8Array, slot: Slot): Snap | Mine {
  if (slot.kind === 'empty') return NONE
  if (slot.kind === 'leaf') return { t: 1, key: slot.key, hash: slot.hash }
  const weight = new Uint8Array(512)
  for (let b = 0; b < 256; b++) weight[256 + b] = slot.kinds[b] === LEAF ? 1 : slot.kinds[b] === PAGE ? 2 : 0
  for (let h = 255; h >= 1; h--) weight[h] = Math.min(2, weight[2 * h] + weight[2 * h + 1])
  return { depth: prefix.length, prefix: prefix.slice(), record: slot.record, kinds: slot.kinds, weight }
}

/** The node hash (or leaf hash) of a non-empty subtree: what its fingerprint is made from. */
export function valueOf(mine: Mine): Uint8Array {
  if (mine.t === 0) throw new Error('no value for an empty subtree')
  return mine.t === 1 ? mine.hash : mine.snap.record.subarray(mine.h * 32, mine.h * 32 + 32)
}

/** The byte prefix of child `b` of a page. */
function childPrefix(snap: Snap, b: number): Uint8Array {
  const prefix = new Uint8Array(snap.depth + 1)
  prefix.set(snap.prefix)
  prefix[snap.depth] = b
  return prefix
}

/** The node of slot `h` of a page. */
function heapAddr(snap: Snap, h: number): Addr {
  const level = 31 - Math.clz32(h)
  const bits = snap.depth * 8 + level
  const prefix = new Uint8Array((bits + 7) >> 3)
  prefix.set(snap.prefix)
  if (level > 0 && level < 8) prefix[snap.depth] = (h - (1 << level)) << (8 - level)
  else if (level === 8) prefix[snap.depth] = h - 256
  return { bits, prefix }
}
