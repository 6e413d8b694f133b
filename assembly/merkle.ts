// The paged Merkle index of docs/FORMAT.md: leaf(k) = SHA-256(0x00 ‖ k), node(l, r) = EMPTY when
// both are EMPTY else SHA-256(l ‖ r), one 16 KiB page per set of ≥ 2 keys sharing a prefix.
//
// A page is 512 slots of 32 bytes in heap order: slot 1 is the page hash, the children of slot
// i are 2i and 2i + 1, slots 256..511 are the 256 child hashes. Slot 0 is the header: the
// occupancy bitmap of the children (bit b, LSB first in byte b >> 3, is set when child b is not
// EMPTY).
//
// Hashes are batched four at a time (sha256Leaf4 / sha256Node4): the leaves of a page go in
// one queue, and the pages of one depth are hashed level by level together, so even sparse
// pages fill the SIMD lanes.

import { WS, WS_JOBS, WS_BITS, WS_MSG, WS_COUNTS } from './workspace';
import { sha256, sha256Node1, sha256Node4, sha256Leaf4 } from './sha256';

export const KEY_SIZE: usize = 40;
export const PAGE_SIZE: usize = 16384;
const MAX_DEPTH: usize = 40;          // pages exist at depths 0..39: keys are 40 bytes
const GROUP: usize = 4;               // pages per depth hashed together
const POOL_HEADER: usize = 1024;      // per depth: pending count u32, GROUP × parent slot u32

let hashes: u32 = 0;                  // leaf + node hashes computed by the current call

/** Bytes of scratch `merkleRoot` needs at `pool`. */
export function merklePoolSize(): usize { return POOL_HEADER + MAX_DEPTH * GROUP * PAGE_SIZE; }

/** leaf(key) of the 40-byte key at `key` into `out`. */
export function merkleLeaf(key: usize, out: usize): void {
  const msg = WS + WS_MSG;
  store<u8>(msg, 0);
  memory.copy(msg + 1, key, KEY_SIZE);
  sha256(msg, KEY_SIZE + 1, out);
}

@inline function isEmpty(p: usize): bool { return !v128.any_true(v128.or(v128.load(p), v128.load(p, 16))); }
@inline function isEmptyPair(p: usize): bool {
  return !v128.any_true(v128.or(v128.or(v128.load(p), v128.load(p, 16)), v128.or(v128.load(p, 32), v128.load(p, 48))));
}
@inline function zero32(p: usize): void { v128.store(p, i64x2.splat(0)); v128.store(p, i64x2.splat(0), 16); }

/** node(l, r) of the 64 bytes l ‖ r at `src` into `out`. Returns 1 if it hashed, 0 if EMPTY. */
export function merkleNode(src: usize, out: usize): u32 {
  if (isEmptyPair(src)) { zero32(out); return 0; }
  sha256Node1(src, out);
  return 1;
}

// --- hash job queues: four jobs make one SIMD call --------------------------------------------

let leafJobs: usize = 0, nodeJobs: usize = 0;

@inline function leafQueue(): usize { return WS + WS_JOBS; }
@inline function nodeQueue(): usize { return WS + WS_JOBS + 32; }

function pushLeaf(key: usize, dst: usize): void {
  const q = leafQueue() + (leafJobs << 3);
  store<u32>(q, <u32>key); store<u32>(q, <u32>dst, 4);
  if (++leafJobs == 4) flushLeaves();
}

function flushLeaves(): void {
  if (leafJobs == 0) return;
  const q = leafQueue();
  for (let i = leafJobs; i < 4; i++) store<u64>(q + (i << 3), load<u64>(q)); // repeat job 0: same output
  sha256Leaf4(load<u32>(q), load<u32>(q, 8), load<u32>(q, 16), load<u32>(q, 24),
    load<u32>(q, 4), load<u32>(q, 12), load<u32>(q, 20), load<u32>(q, 28));
  hashes += <u32>leafJobs;
  leafJobs = 0;
}

function pushNode(src: usize, dst: usize): void {
  const q = nodeQueue() + (nodeJobs << 3);
  store<u32>(q, <u32>src); store<u32>(q, <u32>dst, 4);
  if (++nodeJobs == 4) flushNodes();
}

function flushNodes(): void {
  if (nodeJobs == 0) return;
  const q = nodeQueue();
  if (nodeJobs == 1) {                        // one lane of four: the scalar kernel is ~1.8x faster
    sha256Node1(load<u32>(q), load<u32>(q, 4));
    hashes++;
    nodeJobs = 0;
    return;
  }
  for (let i = nodeJobs; i < 4; i++) store<u64>(q + (i << 3), load<u64>(q));
  sha256Node4(load<u32>(q), load<u32>(q, 8), load<u32>(q, 16), load<u32>(q, 24),
    load<u32>(q, 4), load<u32>(q, 12), load<u32>(q, 20), load<u32>(q, 28));
  hashes += <u32>nodeJobs;
  nodeJobs = 0;
}

// --- pages --------------------------------------------------------------------------------------

/**
 * Hashes slots 1..255 of `count` pages (pointers at `pages`, u32 each) from their child slots
 * and header bitmaps, level by level across all pages. An EMPTY sibling of a non-empty node is
 * written as zeros before it is read; other empty internal slots are zeroed only if `clear`.
 */
function hashPages(pages: usize, count: usize, clear: bool): void {
  flushLeaves();
  for (let i: usize = 0; i < count; i++) {
    const page = <usize>load<u32>(pages + (i << 2)), bits = WS + WS_BITS + (i << 6);
    memory.fill(bits, 0, 32);
    memory.copy(bits + 32, page, 32);
    if (clear) memory.fill(page + 32, 0, 255 * 32);
  }
  for (let level: u32 = 8; level >= 1; level--) {
    const first: u32 = 1 << level;               // children slots [first, 2 * first)
    for (let i: usize = 0; i < count; i++) {
      const page = <usize>load<u32>(pages + (i << 2)), bits = WS + WS_BITS + (i << 6);
      for (let s0 = first; s0 < first << 1; s0 += 32) {
        let word = load<u32>(bits + (<usize>(s0 >>> 5) << 2));
        if (level < 5) word &= (((<u32>1 << first) - 1) << first);   // levels 1..4 share word 0
        while (word != 0) {
          const s = (s0 & ~31) + ctz(word);
          word &= word - 1;
          const sibling = s ^ 1;
          const siblingSet = (load<u32>(bits + (<usize>(sibling >>> 5) << 2)) >>> (sibling & 31)) & 1;
          if (siblingSet != 0 && (s & 1) != 0) continue;            // the pair was queued at its left child
          if (siblingSet == 0) zero32(page + (<usize>sibling << 5));
          const parent = s >>> 1;
          pushNode(page + (<usize>(s & ~1) << 5), page + (<usize>parent << 5));
          const pw = bits + (<usize>(parent >>> 5) << 2);
          store<u32>(pw, load<u32>(pw) | (<u32>1 << (parent & 31)));
        }
        if (level < 5) break;
      }
    }
    flushNodes();
  }
}

/**
 * Hashes a whole page in place: sets the header bitmap from slots 256..511, then slots 255..1
 * (EMPTY slots zeroed). Returns the number of node hashes computed.
 */
export function hashPage(page: usize): u32 {
  setHeader(page);
  const list = WS + WS_MSG;
  store<u32>(list, <u32>page);
  hashes = 0;
  hashPages(list, 1, true);
  return hashes;
}

/**
 * `hashPage` for the first `count` (at most 8) of p0..p7 at once: their nodes are hashed level by
 * level together, so that sparse pages share the SIMD lanes. Returns the number of node hashes.
 */
export function hashPageGroup(count: u32, p0: usize, p1: usize, p2: usize, p3: usize, p4: usize, p5: usize, p6: usize, p7: usize): u32 {
  const list = WS + WS_MSG;
  store<u32>(list, <u32>p0); store<u32>(list, <u32>p1, 4); store<u32>(list, <u32>p2, 8); store<u32>(list, <u32>p3, 12);
  store<u32>(list, <u32>p4, 16); store<u32>(list, <u32>p5, 20); store<u32>(list, <u32>p6, 24); store<u32>(list, <u32>p7, 28);
  const n = <usize>min(count, 8);
  for (let i: usize = 0; i < n; i++) setHeader(<usize>load<u32>(list + (i << 2)));
  hashes = 0;
  hashPages(list, n, true);
  return hashes;
}

// The header bitmap of a page from its child slots.
function setHeader(page: usize): void {
  memory.fill(page, 0, 32);
  for (let b: usize = 0; b < 256; b++) {
    if (!isEmpty(page + ((256 + b) << 5))) store<u8>(page + (b >> 3), load<u8>(page + (b >> 3)) | (<u8>1 << <u8>(b & 7)));
  }
}

/**
 * Re-hashes, after some children of the first `count` (at most 8) of p0..p7 changed, every
 * ancestor of those children once, level by level across the pages (four per SIMD call), and
 * updates their header bits. `list` holds `n` u32 entries, (page index << 8) | child; children
 * of one page share their upper ancestors, hashed once. Returns the number of hashes.
 */
export function hashChanged(list: usize, n: u32, count: u32, p0: usize, p1: usize, p2: usize, p3: usize, p4: usize, p5: usize, p6: usize, p7: usize): u32 {
  const pages = WS + WS_MSG;
  store<u32>(pages, <u32>p0); store<u32>(pages, <u32>p1, 4); store<u32>(pages, <u32>p2, 8); store<u32>(pages, <u32>p3, 12);
  store<u32>(pages, <u32>p4, 16); store<u32>(pages, <u32>p5, 20); store<u32>(pages, <u32>p6, 24); store<u32>(pages, <u32>p7, 28);
  const used = <usize>min(count, 8);
  memory.fill(WS + WS_BITS, 0, used << 6);
  hashes = 0;
  flushLeaves();
  for (let i: usize = 0; i < <usize>n; i++) {
    const entry = load<u32>(list + (i << 2)), j = <usize>(entry >>> 8), b = <usize>(entry & 255);
    if (j >= used) continue;
    const page = <usize>load<u32>(pages + (j << 2)), s: usize = 256 + b;
    const byte = page + (b >> 3), bit = <u8>1 << <u8>(b & 7);
    store<u8>(byte, isEmpty(page + (s << 5)) ? load<u8>(byte) & ~bit : load<u8>(byte) | bit);
    setBit(WS + WS_BITS + (j << 6), s);
  }
  for (let level: u32 = 8; level >= 1; level--) {
    const first: usize = <usize>1 << level;      // this level's slots: [first, 2 * first)
    for (let j: usize = 0; j < used; j++) {
      const page = <usize>load<u32>(pages + (j << 2)), bits = WS + WS_BITS + (j << 6);
      const wTo = max(first >> 5, 1) + (first >> 5); // one word for levels 1..5, first / 32 above
      for (let w = first >> 5; w < wTo; w++) {
        let word = load<u32>(bits + (w << 2));
        if (level < 5) word &= ((<u32>1 << <u32>first) - 1) << <u32>first;   // levels 1..4 share word 0
        while (word != 0) {
          const s = (w << 5) + <usize>ctz(word);
          word &= word - 1;
          const parent = s >> 1;
          if (testBit(bits, parent)) continue;          // its sibling queued it
          setBit(bits, parent);
          if (isEmptyPair(page + ((s & ~1) << 5))) zero32(page + (parent << 5));
          else pushNode(page + ((s & ~1) << 5), page + (parent << 5));
        }
      }
    }
    flushNodes();
  }
  return hashes;
}

@inline function setBit(bits: usize, s: usize): void {
  const p = bits + ((s >> 5) << 2);
  store<u32>(p, load<u32>(p) | (<u32>1 << <u32>(s & 31)));
}
@inline function testBit(bits: usize, s: usize): bool { return ((load<u32>(bits + ((s >> 5) << 2)) >>> <u32>(s & 31)) & 1) != 0; }

// --- pages of leaves only ----------------------------------------------------------------------

/**
 * The hashes of `count` pages whose children are all leaves, without their 16 KiB records: most
 * new pages hold two or three keys that differ in their next byte. Job i, 16 bytes at `jobs`:
 * keys (u32: n sorted 40-byte keys, distinct at byte `depth`), n (u32, ≥ 2), depth (u32), out
 * (u32: the 32-byte page hash). `scratch` holds 100 bytes per key of all jobs.
 * Each level's nodes are hashed across all jobs together, four per SIMD call; a node with one
 * EMPTY child is hashed with zeros in its place, as in a page. The jobs' n and depth fields are
 * overwritten. Returns the number of hashes.
 */
export function hashLeafPages(jobs: usize, count: u32, scratch: usize): u32 {
  hashes = 0;
  let total: usize = 0;
  for (let j: usize = 0; j < <usize>count; j++) total += <usize>load<u32>(jobs + (j << 4), 4);
  // Key i of all jobs: its node's hash at A + 32i, the message of its parent at M + 64i, its
  // position in the current level at P + 4i. A job's n becomes its node count in the current
  // level, and its depth the index of its first key.
  const A = scratch, M = scratch + total * 32, P = M + total * 64;
  for (let j: usize = 0, o: usize = 0; j < <usize>count; j++) {
    const job = jobs + (j << 4), keys = <usize>load<u32>(job), n = <usize>load<u32>(job, 4), depth = <usize>load<u32>(job, 8);
    for (let i: usize = 0; i < n; i++) {
      store<u32>(P + ((o + i) << 2), load<u8>(keyAt(keys, i) + depth));
      pushLeaf(keyAt(keys, i), A + ((o + i) << 5));
    }
    store<u32>(job, <u32>o, 8);
    o += n;
  }
  flushLeaves();
  for (let level = 0; level < 8; level++) {
    for (let j: usize = 0; j < <usize>count; j++) {
      const job = jobs + (j << 4), n = <usize>load<u32>(job, 4), o = <usize>load<u32>(job, 8);
      let m: usize = 0;
      for (let i: usize = 0; i < n; m++) {
        const p = load<u32>(P + ((o + i) << 2)), msg = M + ((o + m) << 6);
        if ((p & 1) == 0 && i + 1 < n && load<u32>(P + ((o + i + 1) << 2)) == p + 1) {
          memory.copy(msg, A + ((o + i) << 5), 64); // both children, adjacent
          i += 2;
        } else if ((p & 1) == 0) {
          memory.copy(msg, A + ((o + i) << 5), 32);
          zero32(msg + 32);
          i++;
        } else {
          zero32(msg);
          memory.copy(msg + 32, A + ((o + i) << 5), 32);
          i++;
        }
        store<u32>(P + ((o + m) << 2), p >> 1);
        // Node m's hash overwrites A at the flush: hashes up to i were copied into messages by then.
        pushNode(msg, A + ((o + m) << 5));
      }
      store<u32>(job, <u32>m, 4);
    }
    flushNodes();
  }
  for (let j: usize = 0; j < <usize>count; j++) {
    const job = jobs + (j << 4);
    memory.copy(<usize>load<u32>(job, 12), A + (<usize>load<u32>(job, 8) << 5), 32);
  }
  return hashes;
}

// --- the root of a sorted key set -----------------------------------------------------------------

@inline function keyAt(keys: usize, i: usize): usize { return keys + i * KEY_SIZE; }

/** Compares two 40-byte keys as big-endian byte strings: <0, 0 or >0. */
function compareKeys(a: usize, b: usize): i32 {
  for (let o: usize = 0; o < KEY_SIZE; o += 8) {
    const x = bswap<u64>(load<u64>(a + o)), y = bswap<u64>(load<u64>(b + o));
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

@inline function pendingCount(pool: usize, d: usize): usize { return pool + d * (4 + GROUP * 4); }
@inline function pendingDst(pool: usize, d: usize, i: usize): usize { return pendingCount(pool, d) + 4 + (i << 2); }
@inline function poolPage(pool: usize, d: usize, i: usize): usize { return pool + POOL_HEADER + (d * GROUP + i) * PAGE_SIZE; }

function flushDepth(pool: usize, d: usize): void {
  const count = <usize>load<u32>(pendingCount(pool, d));
  if (count == 0) return;
  const list = WS + WS_MSG;
  for (let i: usize = 0; i < count; i++) store<u32>(list + (i << 2), <u32>poolPage(pool, d, i));
  hashPages(list, count, false);
  for (let i: usize = 0; i < count; i++) memory.copy(<usize>load<u32>(pendingDst(pool, d, i)), poolPage(pool, d, i) + 32, 32);
  store<u32>(pendingCount(pool, d), 0);
}

// Fills `page` (depth d) with the children of keys [lo, hi), which share their first d bytes.
function buildPage(keys: usize, lo: usize, hi: usize, d: usize, page: usize, pool: usize): void {
  memory.fill(page, 0, 32);
  let i = lo;
  while (i < hi) {
    const b = <usize>load<u8>(keyAt(keys, i) + d);
    let j = i + 1;
    while (j < hi && <usize>load<u8>(keyAt(keys, j) + d) == b) j++;
    const slot = page + ((256 + b) << 5);
    store<u8>(page + (b >> 3), load<u8>(page + (b >> 3)) | (<u8>1 << <u8>(b & 7)));
    if (j - i == 1) {
      pushLeaf(keyAt(keys, i), slot);
    } else {
      const cnt = pendingCount(pool, d + 1);
      const k = <usize>load<u32>(cnt);
      buildPage(keys, i, j, d + 1, poolPage(pool, d + 1, k), pool);
      store<u32>(pendingDst(pool, d + 1, k), <u32>slot);
      store<u32>(cnt, <u32>(k + 1));
      if (k + 1 == GROUP) flushDepth(pool, d + 1);
    }
    i = j;
  }
  flushDepth(pool, d + 1);
}

/**
 * The Merkle root of `n` sorted 40-byte keys at `keys` into `out`, with `merklePoolSize()` bytes
 * of scratch at `pool`. Duplicate keys are removed in place first. Returns the number of leaf +
 * node hashes computed, or -1 if the keys are not sorted.
 */
export function merkleRoot(keys: usize, n: usize, pool: usize, out: usize): i32 {
  let m: usize = n == 0 ? 0 : 1;
  for (let i: usize = 1; i < n; i++) {
    const c = compareKeys(keyAt(keys, m - 1), keyAt(keys, i));
    if (c > 0) return -1;
    if (c < 0) { if (m != i) memory.copy(keyAt(keys, m), keyAt(keys, i), KEY_SIZE); m++; }
  }
  hashes = 0; leafJobs = 0; nodeJobs = 0;
  if (m == 0) { zero32(out); return 0; }
  if (m == 1) { merkleLeaf(keys, out); return 1; }
  memory.fill(pool, 0, POOL_HEADER);
  const root = poolPage(pool, 0, 0);
  buildPage(keys, 0, m, 0, root, pool);
  store<u32>(pendingDst(pool, 0, 0), <u32>out);
  store<u32>(pendingCount(pool, 0), 1);
  flushDepth(pool, 0);
  return <i32>hashes;
}

// --- sorting ----------------------------------------------------------------------------------------

/**
 * Sorts `n` 40-byte keys at `keys` in place (most-significant-byte radix sort, `tmp` holding
 * n × 40 bytes of scratch). Returns nothing; merkleRoot then removes duplicates.
 */
export function sortKeys(keys: usize, n: usize, tmp: usize): void { radix(keys, 0, n, 0, tmp); }

function radix(keys: usize, lo: usize, hi: usize, d: usize, tmp: usize): void {
  const counts = WS + WS_COUNTS;
  while (d < KEY_SIZE) {
    const n = hi - lo;
    if (n < 24) { insertionSort(keys, lo, hi); return; }
    memory.fill(counts, 0, 1024);
    for (let i = lo; i < hi; i++) {
      const c = counts + (<usize>load<u8>(keyAt(keys, i) + d) << 2);
      store<u32>(c, load<u32>(c) + 1);
    }
    if (<usize>load<u32>(counts + (<usize>load<u8>(keyAt(keys, lo) + d) << 2)) == n) { d++; continue; }
    let sum: u32 = 0;
    for (let b: usize = 0; b < 256; b++) { const c = load<u32>(counts + (b << 2)); store<u32>(counts + (b << 2), sum); sum += c; }
    for (let i = lo; i < hi; i++) {
      const k = keyAt(keys, i);
      const c = counts + (<usize>load<u8>(k + d) << 2);
      const at = <usize>load<u32>(c);
      store<u32>(c, <u32>(at + 1));
      memory.copy(keyAt(tmp, lo + at), k, KEY_SIZE);
    }
    memory.copy(keyAt(keys, lo), keyAt(tmp, lo), n * KEY_SIZE);
    let i = lo;
    while (i < hi) {
      const b = load<u8>(keyAt(keys, i) + d);
      let j = i + 1;
      while (j < hi && load<u8>(keyAt(keys, j) + d) == b) j++;
      if (j - i > 1) radix(keys, i, j, d + 1, tmp);
      i = j;
    }
    return;
  }
}

function insertionSort(keys: usize, lo: usize, hi: usize): void {
  const held = WS + WS_MSG;
  for (let i = lo + 1; i < hi; i++) {
    if (compareKeys(keyAt(keys, i - 1), keyAt(keys, i)) <= 0) continue;
    memory.copy(held, keyAt(keys, i), KEY_SIZE);
    let j = i;
    while (j > lo && compareKeys(keyAt(keys, j - 1), held) > 0) { memory.copy(keyAt(keys, j), keyAt(keys, j - 1), KEY_SIZE); j--; }
    memory.copy(keyAt(keys, j), held, KEY_SIZE);
  }
}
