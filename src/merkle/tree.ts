import type { Runtime } from '../core/core.js'
import { KEY_SIZE, LEAF_PAGE_SCRATCH } from '../core/exports.js'
import { XaeroError } from '../errors.js'
import { EMPTY, LEAF, PAGE, PAGE_RECORD, Page, encodeLeafPage, leafPageKeys, pageAddress } from './pages.js'
import { compareKeys, equalBytes, startsWith } from './keys.js'
import { encodeProof, PROOF_ABSENT_EMPTY, PROOF_ABSENT_LEAF, PROOF_PRESENT } from './proof.js'

/** Where pages are read from; writes go into the caller's batch (`takeWrites`). */
export interface PageSource {
  getMany(addresses: Uint8Array[]): Promise<Array<Uint8Array | undefined>>
}

/** What the tree holds under a prefix (`slotAt`). */
export type Slot = { kind: 'empty' } | { kind: 'leaf'; key: Uint8Array; hash: Uint8Array } | { kind: 'page'; hash: Uint8Array; record: Uint8Array; kinds: Uint8Array }

const ZERO = new Uint8Array(32)
const NO_PREFIX = new Uint8Array(0)
/**
 * New pages of at most this many keys, all leaves, skip the cache (see `addPage`). Larger ones
 * (keys spread over time, one per millisecond) are cached whole: they are likely to grow, and
 * re-reading one would rehash all its leaves.
 */
const LEAF_PAGE_MAX = 8
/**
 * Stored forms of such pages kept after their commit, for a later key under one: the last few
 * batches' worth. Each may hold an 8 KiB slab (src/bytes.ts) alive, so there are few.
 */
const RECENT_LEAF_PAGES = 256

/** Root slot as stored in meta: kind (1), then the leaf key (40) or the root page hash (32). */
export function encodeRoot(kind: number, value?: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + (value?.length ?? 0))
  out[0] = kind
  if (value) out.set(value, 1)
  return out
}

/**
 * The paged Merkle index of docs/FORMAT.md over a growing set of keys: pages are loaded on demand
 * into a bounded cache in the core's memory, updated in place by `insert`, and handed back
 * as compact writes for the caller's atomic batch.
 */
export class MerkleTree {
  private readonly cache = new Map<string, Page>()
  private rootKind = EMPTY
  private rootValue: Uint8Array = ZERO // the leaf key, or the root page's hash
  private queue: Promise<unknown> = Promise.resolve()
  /** Pages handed out by `takeWrites` so far, and their stored bytes. */
  readonly written = { pages: 0, bytes: 0 }
  /**
   * New pages of a few keys, all leaves (most new pages: two or three keys of one millisecond),
   * are never cached: they are hashed from their keys (`hashLeafPages`), stored, and their
   * stored form kept in `recent` by address for a while.
   */
  private leafPages: LeafPage[] = []
  private leafWrites: Array<{ id: string; key: Uint8Array; value: Uint8Array }> = []
  /**
   * Stored forms handed out by the last `takeWrites` and not yet `committed`, by address: the
   * caller commits them outside `exclusive`, and a page trimmed from the cache meanwhile is read
   * back from here, not stale from the source.
   */
  private readonly unwritten = new Map<string, Uint8Array>()
  private readonly recent = new Map<string, Uint8Array>()

  /** @param capacity pages kept in memory between operations (each takes 26 KiB of the core's memory) */
  constructor(private readonly runtime: Runtime, private readonly source: PageSource, private readonly capacity: number) {}

  /**
   * Runs `fn` alone: an insert and its `takeWrites` must not interleave with a read, which would
   * see pages half changed. Their commit need not be inside (see `unwritten`).
   */
  exclusive<T>(fn: () => Promise<T> | T): Promise<T> {
    const run = this.queue.then(fn)
    this.queue = run.catch(() => {})
    return run
  }

  /** Restores the root slot stored by `takeWrites`. */
  setRoot(stored: Uint8Array | undefined): void {
    this.rootKind = EMPTY
    this.rootValue = ZERO
    if (!stored) return
    this.rootKind = stored[0]
    this.rootValue = stored.slice(1)
  }

  /** The root slot: its kind and the leaf key or root page hash. */
  rootSlot(): { kind: number; value?: Uint8Array } {
    return { kind: this.rootKind, value: this.rootKind === EMPTY ? undefined : this.rootValue }
  }

  /** The 32-byte root: EMPTY, leaf(key) or the root page's hash. */
  root(): Uint8Array {
    if (this.rootKind === EMPTY) return ZERO
    if (this.rootKind === PAGE) return this.rootValue
    return this.leafHash(this.rootValue)
  }

  /**
   * Adds sorted keys to the set; keys already in it (or repeated) are skipped. Only the pages on
   * the new keys' paths change. Returns the keys added, the same objects as given: the tree is
   * the authority on what is stored, since its pages commit in the same batch as the events.
   */
  async insert(sorted: Uint8Array[]): Promise<Uint8Array[]> {
    try {
      return await this.insertSorted(sorted)
    } catch (e) {
      // Pages were changed in place before the failure (a page that could not be read): drop
      // them all, so the tree is again what its committed pages say.
      this.leafPages = []
      this.leafWrites = []
      this.forget()
      throw e
    }
  }

  private async insertSorted(sorted: Uint8Array[]): Promise<Uint8Array[]> {
    // A plain loop, not filter: filter keeps the elements kind of its input, and a holey array
    // (from map, say) would send the insert back to V8's compiler (see `changed`).
    const keys: Uint8Array[] = []
    for (let i = 0; i < sorted.length; i++) if (i === 0 || !equalBytes(sorted[i - 1], sorted[i])) keys.push(sorted[i])
    if (keys.length === 0) return keys
    if (this.rootKind !== PAGE) {
      const fresh = this.rootKind === LEAF ? keys.filter((k) => !equalBytes(k, this.rootValue)) : keys
      if (fresh.length === 0) return fresh
      const all = this.rootKind === LEAF ? mergeSorted(fresh, [this.rootValue]) : fresh
      if (all.length === 1) {
        this.rootKind = LEAF
        this.rootValue = all[0].slice()
      } else {
        const toHash: Changed[][] = []
        this.leafPages = []
        const root = this.build(0, NO_PREFIX, all, toHash)
        this.hashLeafPages()
        rehash(toHash)
        this.rootKind = PAGE
        this.rootValue = root.hash()
      }
      return fresh
    }
    const added: Uint8Array[] = []
    const toHash: Changed[][] = [] // by depth: the pages on the new keys' paths, and pages built under them
    this.leafPages = []
    let level: Changed[] = [changed((await this.load([[0, NO_PREFIX]]))[0], keys, undefined, 0)]
    while (level.length > 0) {
      for (const w of level) (toHash[w.page.depth] ??= []).push(w)
      const next: Array<{ depth: number; prefix: Uint8Array; keys: Uint8Array[]; parent: Page; b: number }> = []
      for (const { page, keys } of level) {
        const d = page.depth
        for (let i = 0, j = 0; i < keys.length; i = j) {
          const b = keys[i][d], kind = page.kinds[b]
          j = runEnd(keys, i, d)
          // Most keys are alone in an EMPTY slot: they make no group.
          if (kind === EMPTY && j === i + 1) { added.push(keys[i]); page.setLeaf(b, keys[i]); continue }
          const group = keys.slice(i, j)
          if (kind === PAGE) {
            const stored = this.recentLeafPage(d + 1, group[0])
            if (!stored) { next.push({ depth: d + 1, prefix: group[0], keys: group, parent: page, b }); continue }
            // A page of leaves only, written lately: rebuilt from its keys and the new ones.
            const fresh = group.filter((k) => !stored.some((s) => equalBytes(s, k)))
            if (fresh.length === 0) continue
            for (const k of fresh) added.push(k)
            this.addPage(d + 1, mergeSorted(fresh, stored), toHash, page, b)
            continue
          }
          const fresh = kind === LEAF ? group.filter((k) => !equalBytes(k, page.leafKey(b))) : group
          if (fresh.length === 0) continue
          for (const k of fresh) added.push(k) // not push(...fresh): a spread of many keys overflows the stack
          if (kind === EMPTY && fresh.length === 1) page.setLeaf(b, fresh[0])
          else {
            const set = kind === LEAF ? mergeSorted(fresh, [page.leafKey(b).slice()]) : fresh
            this.addPage(d + 1, set, toHash, page, b)
          }
        }
      }
      const addresses: Array<[number, Uint8Array]> = []
      for (const n of next) addresses.push([n.depth, n.prefix])
      const pages = await this.load(addresses)
      level = []
      for (let i = 0; i < next.length; i++) level.push(changed(pages[i], next[i].keys, next[i].parent, next[i].b))
    }
    this.hashLeafPages()
    rehash(toHash)
    this.rootValue = toHash[0][0].page.hash()
    return added
  }

  /**
   * A new page for `keys` (≥ 2, sharing `depth` bytes), with new pages below it as needed, each
   * queued in `toHash` to be hashed and to give its hash to slot `b` of its parent.
   */
  private build(depth: number, prefix: Uint8Array, keys: Uint8Array[], toHash: Changed[][], parent?: Page, b = 0): Page {
    const page = this.adopt(depth, prefix)
    for (let i = 0, j = 0; i < keys.length; i = j) {
      const c = keys[i][depth]
      j = runEnd(keys, i, depth)
      if (j === i + 1) page.setLeaf(c, keys[i])
      else this.addPage(depth + 1, keys.slice(i, j), toHash, page, c)
    }
    page.dirty = true
    ;(toHash[depth] ??= []).push(changed(page, NO_KEYS, parent, b))
    return page
  }

  /** Child `b` of `parent`: a new page of `keys` (≥ 2, sharing `depth` bytes), of leaves only if it can be. */
  private addPage(depth: number, keys: Uint8Array[], toHash: Changed[][], parent: Page, b: number): void {
    let leavesOnly = keys.length <= LEAF_PAGE_MAX
    for (let i = 1; leavesOnly && i < keys.length; i++) leavesOnly = keys[i][depth] !== keys[i - 1][depth]
    const id = addressId(depth, keys[0])
    this.recent.delete(id) // a page of leaves only that grows past one is cached by build: the cache is its authority
    if (!leavesOnly) { this.build(depth, keys[0], keys, toHash, parent, b); return }
    const stale = this.cache.get(id)
    if (stale) { this.cache.delete(id); this.runtime.map.release(stale.ptr) }
    this.leafPages.push({ depth, keys, parent, b })
    const value = encodeLeafPage(keys, depth)
    this.leafWrites.push({ id, key: pageAddress(depth, keys[0]), value })
    this.recent.set(id, value)
    if (this.recent.size > RECENT_LEAF_PAGES) this.recent.delete(this.recent.keys().next().value!)
  }

  /**
   * The keys of the page at (depth, prefix) if it is a page of leaves only whose stored form is
   * in `recent` and that is not cached: such a page is cheaper to build again, with new keys,
   * than to load (a whole page record, every slot hashed) and then change.
   */
  private recentLeafPage(depth: number, prefix: Uint8Array): Uint8Array[] | undefined {
    const id = addressId(depth, prefix)
    const bytes = this.recent.get(id)
    if (!bytes || this.cache.has(id)) return undefined
    return leafPageKeys(bytes)
  }

  /** Hashes the pages of leaves only of this insert into their parents' child slots, all in one core call. */
  private hashLeafPages(): void {
    const jobs = this.leafPages
    if (jobs.length === 0) return
    this.leafPages = []
    let total = 0
    for (const job of jobs) total += job.keys.length
    const { core, map } = this.runtime
    const region = map.alloc(16 * jobs.length + total * (KEY_SIZE + LEAF_PAGE_SCRATCH))
    try {
      const u8 = core.u8, dv = core.dv
      let at = region + 16 * jobs.length
      for (let j = 0; j < jobs.length; j++) {
        const { keys, depth, parent, b } = jobs[j], entry = region + 16 * j
        dv.setUint32(entry, at, true)
        dv.setUint32(entry + 4, keys.length, true)
        dv.setUint32(entry + 8, depth, true)
        dv.setUint32(entry + 12, parent.childSlot(b), true)
        for (const key of keys) { u8.set(key, at); at += KEY_SIZE }
      }
      core.exports.hashLeafPages(region, jobs.length, at)
      for (const { parent, b } of jobs) parent.setChildPage(b)
    } finally {
      map.release(region)
    }
  }

  /**
   * The changed pages as { address, stored form } and the root slot; afterwards the cache is
   * trimmed. Until `committed()`, reads of these pages are served from their stored forms here.
   */
  takeWrites(): { pages: Array<{ key: Uint8Array; value: Uint8Array }>; root: Uint8Array } {
    const pages: Array<{ key: Uint8Array; value: Uint8Array }> = []
    this.unwritten.clear()
    const taken = (id: string, key: Uint8Array, value: Uint8Array) => {
      pages.push({ key, value })
      this.unwritten.set(id, value)
      this.written.pages++
      this.written.bytes += value.length
    }
    for (const { id, key, value } of this.leafWrites) taken(id, key, value)
    this.leafWrites = []
    for (const [id, page] of this.cache) {
      if (!page.dirty) continue
      taken(id, page.address, page.encode())
      page.dirty = false
    }
    this.trim()
    return { pages, root: encodeRoot(this.rootKind, this.rootKind === EMPTY ? undefined : this.rootValue) }
  }

  /** The writes last taken are committed to the source: read them from there again. */
  committed(): void {
    this.unwritten.clear()
  }

  /** Drops cached pages (for instance after a repair replaced them on disk). */
  forget(): void {
    this.unwritten.clear()
    for (const page of this.cache.values()) this.runtime.map.release(page.ptr)
    this.cache.clear()
    this.recent.clear()
  }

  /**
   * Serialized proof that `key` is in the set (or, if it is not, that it is absent): the
   * sibling hashes of each page on its path (see proof.ts).
   */
  async prove(key: Uint8Array): Promise<Uint8Array> {
    if (this.rootKind === EMPTY) return encodeProof(PROOF_ABSENT_EMPTY, key, [])
    if (this.rootKind === LEAF) {
      return equalBytes(this.rootValue, key) ? encodeProof(PROOF_PRESENT, key, []) : encodeProof(PROOF_ABSENT_LEAF, key, [], this.rootValue)
    }
    const groups: Uint8Array[] = []
    let [page] = await this.load([[0, NO_PREFIX]])
    for (;;) {
      const b = key[page.depth]
      groups.push(page.siblings(b))
      const kind = page.kinds[b]
      if (kind === PAGE) {
        ;[page] = await this.load([[page.depth + 1, key.subarray(0, page.depth + 1)]])
        continue
      }
      const result = kind === EMPTY ? encodeProof(PROOF_ABSENT_EMPTY, key, groups)
        : equalBytes(page.leafKey(b), key) ? encodeProof(PROOF_PRESENT, key, groups)
        : encodeProof(PROOF_ABSENT_LEAF, key, groups, page.leafKey(b).slice())
      this.trim()
      return result
    }
  }

  /**
   * The slot holding everything under `prefix`: EMPTY, a leaf (its key), or a page: a copy of its
   * record (512 slots of 32 bytes, slot 1 the page hash, 256..511 the children, then the 256 leaf
   * keys of 40 bytes, meaningful where `kinds[b]` is LEAF) and of its child kinds.
   */
  async slotAt(prefix: Uint8Array): Promise<Slot> {
    return (await this.slotsAt([prefix]))[0]
  }

  /**
   * `slotAt` of each prefix, walking down all of them together: the pages of each depth not in
   * memory are read in one batch. A reconciliation's step asks for a dozen pages of one depth at
   * once; read one after another from a store just opened, they took 0.1–9 ms each (22–34 ms a
   * step, the network bench's catch-up).
   */
  async slotsAt(prefixes: Uint8Array[]): Promise<Slot[]> {
    const out: Slot[] = new Array(prefixes.length)
    if (this.rootKind !== PAGE) {
      for (let i = 0; i < prefixes.length; i++) {
        out[i] = this.rootKind === LEAF && startsWith(this.rootValue, prefixes[i]) ? { kind: 'leaf', key: this.rootValue, hash: this.root() } : { kind: 'empty' }
      }
      return out
    }
    const [root] = await this.load([[0, NO_PREFIX]])
    let at: Array<{ i: number; page: Page }> = prefixes.map((_, i) => ({ i, page: root }))
    for (let d = 0; at.length > 0; d++) {
      // Each prefix still going down either ends here or needs the page below; each page once.
      const next: Array<{ i: number; w: number }> = [], wanted: Array<[number, Uint8Array]> = [], slotOf = new Map<string, number>()
      for (const { i, page } of at) {
        const prefix = prefixes[i]
        if (d === prefix.length) {
          out[i] = { kind: 'page', hash: page.hash(), record: this.runtime.core.u8.slice(page.ptr, page.ptr + PAGE_RECORD), kinds: page.kinds.slice() }
          continue
        }
        const b = prefix[d], kind = page.kinds[b]
        if (kind === EMPTY) out[i] = { kind: 'empty' }
        else if (kind === LEAF) {
          const key = page.leafKey(b).slice()
          out[i] = startsWith(key, prefix) ? { kind: 'leaf', key, hash: page.slot(256 + b).slice() } : { kind: 'empty' }
        } else {
          const id = addressId(d + 1, prefix.subarray(0, d + 1))
          let w = slotOf.get(id)
          if (w === undefined) { slotOf.set(id, (w = wanted.length)); wanted.push([d + 1, prefix.subarray(0, d + 1)]) }
          next.push({ i, w })
        }
      }
      if (wanted.length === 0) break
      const pages = await this.load(wanted)
      at = next.map(({ i, w }) => ({ i, page: pages[w] }))
    }
    this.trim()
    return out
  }

  /**
   * Reads the top levels of the tree into the cache, a level at a time, as deep as the pages of
   * the levels read fit in `pages` (and in the cache): the root page and those every insert and
   * reconciliation read first. Keys from one day share their first ~37 bits, so a store's top
   * pages are a chain of ~5 pages with one child each, read one after another on a first use.
   */
  async warm(pages: number): Promise<void> {
    if (this.rootKind !== PAGE) return
    const budget = Math.min(pages, this.capacity)
    let level: Array<[number, Uint8Array]> = [[0, NO_PREFIX]], read = 0
    while (level.length > 0 && read + level.length <= budget) {
      const loaded = await this.load(level)
      read += level.length
      const next: Array<[number, Uint8Array]> = []
      for (const page of loaded) {
        for (let b = 0; b < 256; b++) {
          if (page.kinds[b] !== PAGE) continue
          const prefix = new Uint8Array(page.depth + 1)
          prefix.set(page.prefix)
          prefix[page.depth] = b
          next.push([page.depth + 1, prefix])
        }
      }
      level = next
    }
  }

  /** Loads pages (cache first, then one batched read), in the order asked. */
  async load(addresses: Array<[number, Uint8Array]>): Promise<Page[]> {
    // Plain loops and one shape of array each: see `changed`.
    const out: Page[] = new Array(addresses.length)
    const missing: number[] = []
    for (let i = 0; i < addresses.length; i++) {
      const id = addressId(addresses[i][0], addresses[i][1])
      const page = this.cache.get(id)
      if (page) {
        this.cache.delete(id) // most recently used last
        this.cache.set(id, page)
        out[i] = page
      } else missing.push(i)
    }
    if (missing.length === 0) return out
    // A page of leaves only written lately is read from `recent`; once cached, the cache is its authority.
    const stored: Array<Uint8Array | undefined> = [], unread: Uint8Array[] = []
    for (const i of missing) {
      const id = addressId(addresses[i][0], addresses[i][1])
      let bytes = this.recent.get(id)
      if (bytes) this.recent.delete(id)
      else bytes = this.unwritten.get(id)
      if (!bytes) unread.push(pageAddress(addresses[i][0], addresses[i][1]))
      stored.push(bytes)
    }
    if (unread.length > 0) {
      const read = await this.source.getMany(unread)
      for (let j = 0, r = 0; j < stored.length; j++) if (!stored[j]) stored[j] = plainView(read[r++])
    }
    for (let j = 0; j < missing.length; j++) {
      const i = missing[j], depth = addresses[i][0], prefix = addresses[i][1], bytes = stored[j]
      if (!bytes) throw new XaeroError('E_CORRUPT_INDEX', `Merkle page at depth ${depth} is missing`, { details: { depth } })
      const page = this.cache.get(addressId(depth, prefix)) ?? this.adopt(depth, prefix)
      if (!page.dirty) {
        page.clear()
        try {
          page.decode(bytes)
        } catch (e) {
          this.cache.delete(addressId(depth, prefix))
          this.runtime.map.release(page.ptr)
          throw e
        }
      }
      out[i] = page
    }
    return out
  }

  // A cleared page record for (depth, prefix), cached as most recently used.
  private adopt(depth: number, prefix: Uint8Array): Page {
    const id = addressId(depth, prefix)
    const old = this.cache.get(id)
    if (old) {
      old.clear()
      return old
    }
    const page = new Page(this.runtime, depth, prefix.slice(0, depth), this.runtime.map.alloc(PAGE_RECORD))
    page.init()
    this.cache.set(id, page)
    return page
  }

  // Evicts least recently used clean pages down to the capacity.
  private trim(): void {
    for (const [id, page] of this.cache) {
      if (this.cache.size <= this.capacity) return
      if (page.dirty) continue
      this.cache.delete(id)
      this.runtime.map.release(page.ptr)
    }
  }

  private leafHash(key: Uint8Array): Uint8Array {
    const { core, map } = this.runtime
    const ptr = map.alloc(KEY_SIZE + 32)
    try {
      core.u8.set(key, ptr)
      core.exports.merkleLeaf(ptr, ptr + KEY_SIZE)
      return core.u8.slice(ptr + KEY_SIZE, ptr + KEY_SIZE + 32)
    } finally {
      map.release(ptr)
    }
  }
}

/**
 * A page that may have changed, the slot of its parent its hash goes in, and the keys to add
 * under it (while inserting).
 */
interface Changed { page: Page; keys: Uint8Array[]; parent: Page | undefined; b: number }

// Every Changed is made here, so all have one shape: V8 deoptimizes the insert (and spends tens
// of ms recompiling it) when a site meets a shape its optimized code has not seen.
function changed(page: Page, keys: Uint8Array[], parent: Page | undefined, b: number): Changed {
  return { page, keys, parent, b }
}

const NO_KEYS: Uint8Array[] = []
const NO_CHANGES: Changed[] = []

/** A new page of leaves only: its keys, and the slot of its parent its hash goes in. */
interface LeafPage { depth: number; keys: Uint8Array[]; parent: Page; b: number }

// Deepest first, one depth at a time, all its pages together: each parent takes its children's
// new hashes before its own turn. A page none of whose keys was new has not changed.
function rehash(toHash: Changed[][]): void {
  for (let d = toHash.length - 1; d >= 0; d--) {
    const dirty: Changed[] = [], pages: Page[] = []
    for (const c of toHash[d] ?? NO_CHANGES) if (c.page.dirty) { dirty.push(c); pages.push(c.page) }
    if (pages.length === 0) continue
    Page.rehashAll(pages)
    for (const { page, parent, b } of dirty) parent?.setChildPage(b, page.slot(1))
  }
}

/** The end of the run of sorted keys from `i` that share byte `d` with keys[i]. */
function runEnd(keys: Uint8Array[], i: number, d: number): number {
  let j = i + 1
  while (j < keys.length && keys[j][d] === keys[i][d]) j++
  return j
}

function addressId(depth: number, prefix: Uint8Array): string {
  let s = String.fromCharCode(depth)
  for (let i = 0; i < depth; i++) s += String.fromCharCode(prefix[i])
  return s
}

// LevelDB hands back Buffers in Node, `recent` holds plain Uint8Arrays: pages are decoded from
// plain views only, so that decoding sees one shape (see `changed`).
function plainView(bytes: Uint8Array | undefined): Uint8Array | undefined {
  return bytes === undefined || bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

function mergeSorted(a: Uint8Array[], b: Uint8Array[]): Uint8Array[] {
  return [...a, ...b].sort(compareKeys)
}
