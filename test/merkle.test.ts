import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { randomBytes } from 'node:crypto'
import { merkleRoot } from '../src/index.js'
import { defaultRuntime } from '../src/core/default.js'
import { KEY_SIZE, LEAF_PAGE_SCRATCH, PAGE_SIZE } from '../src/core/exports.js'
import { EMPTY, leaf, node, pageHash, referenceRoot } from './helpers/reference.js'
import { makeKey, rng, shuffle } from './helpers/keys.js'

const runtime = defaultRuntime()

const T0 = 1_790_000_000_000

test('the empty set has the all-zero root; one key has its leaf', () => {
  assert.is(merkleRoot([]), EMPTY.toString('hex'))
  const k = makeKey(T0)
  assert.is(merkleRoot([k]), leaf(k).toString('hex'))
  assert.is(merkleRoot([k, k, k]), leaf(k).toString('hex'))
})

test('small sets equal the reference: two keys, same timestamp, deep shared prefixes', () => {
  const cases: Buffer[][] = [
    [makeKey(T0), makeKey(T0 + 1)],
    [makeKey(T0), makeKey(T0 + 2 ** 40)],
    Array.from({ length: 50 }, () => makeKey(T0)),
  ]
  for (let shared = 1; shared < 40; shared += 3) {
    const base = randomBytes(40)
    cases.push(Array.from({ length: 6 }, (_, i) => { const k = Buffer.from(base); k[shared] = i * 40; return k }))
  }
  const prefix = randomBytes(39)
  cases.push(Array.from({ length: 256 }, (_, i) => Buffer.concat([prefix, Buffer.from([i])])))
  cases.push([Buffer.concat([prefix, Buffer.from([0])]), Buffer.concat([prefix, Buffer.from([255])])])
  for (const keys of cases) assert.is(merkleRoot(keys), referenceRoot(keys))
})

test('a flat n × 40 buffer and a list of keys give the same root', () => {
  const keys = Array.from({ length: 300 }, (_, i) => makeKey(T0 + i * 7919))
  assert.is(merkleRoot(Buffer.concat(keys)), merkleRoot(keys))
  assert.throws(() => merkleRoot(new Uint8Array(41)), (e: unknown) => e instanceof RangeError)
  assert.throws(() => merkleRoot([new Uint8Array(39)]), (e: unknown) => e instanceof RangeError)
})

test('100k random keys: equal to the reference, whatever the order, duplicates ignored', () => {
  const random = rng(42)
  const keys = Array.from({ length: 100_000 }, () => makeKey(T0 + Math.floor(random() * 3_600_000)))
  const expected = referenceRoot(keys)
  const sorted = keys.slice().sort(Buffer.compare)
  assert.is(merkleRoot(sorted), expected)
  assert.is(merkleRoot(shuffle(keys, random)), expected)
  assert.is(merkleRoot(sorted.slice().reverse()), expected)
  assert.is(merkleRoot([...keys, ...keys.slice(0, 5000)]), expected)
  assert.is.not(merkleRoot(keys.slice(1)), expected)
})

// --- pages hashed in place --------------------------------------------------------------------

const { core, map } = runtime

/** Reference heap of a page: slots 1..511 from the 256 children. */
function referenceHeap(children: Buffer[]): Buffer[] {
  const heap: Buffer[] = new Array(512).fill(EMPTY)
  children.forEach((c, b) => (heap[256 + b] = c))
  for (let i = 255; i >= 1; i--) heap[i] = node(heap[2 * i], heap[2 * i + 1])
  return heap
}

function withPage(fn: (page: number) => void) {
  const page = map.alloc(PAGE_SIZE)
  try { fn(page) } finally { map.release(page) }
}

const slot = (page: number, i: number) => Buffer.from(core.u8.subarray(page + i * 32, page + i * 32 + 32))

test('hashPage equals the reference heap and header, for sparse to full pages', () => {
  const random = rng(7)
  for (const filled of [0, 1, 2, 3, 17, 128, 255, 256]) {
    withPage((page) => {
      core.u8.fill(0xee, page, page + PAGE_SIZE) // stale bytes must not leak into the result
      const children: Buffer[] = new Array(256).fill(EMPTY)
      for (const b of shuffle([...Array(256).keys()], random).slice(0, filled)) children[b] = randomBytes(32)
      children.forEach((c, b) => core.u8.set(c, page + (256 + b) * 32))
      const hashes = core.exports.hashPage(page)
      const heap = referenceHeap(children)
      for (let i = 1; i < 512; i++) if (!slot(page, i).equals(heap[i])) assert.unreachable(`slot ${i} with ${filled} children`)
      assert.is(hashes, heap.slice(1, 256).filter((h) => !h.equals(EMPTY)).length)
      const header = slot(page, 0)
      for (let b = 0; b < 256; b++) assert.is((header[b >> 3] >> (b & 7)) & 1, children[b].equals(EMPTY) ? 0 : 1)
    })
  }
})

test('hashPageGroup hashes up to eight pages together, each as hashPage would', () => {
  const random = rng(8)
  for (const count of [1, 3, 8]) {
    const pages = Array.from({ length: count }, () => map.alloc(PAGE_SIZE))
    try {
      const heaps = pages.map((page, i) => {
        core.u8.fill(0xee, page, page + PAGE_SIZE)
        const children: Buffer[] = new Array(256).fill(EMPTY)
        for (const b of shuffle([...Array(256).keys()], random).slice(0, [1, 2, 5, 40, 256][i % 5])) children[b] = randomBytes(32)
        children.forEach((c, b) => core.u8.set(c, page + (256 + b) * 32))
        return referenceHeap(children)
      })
      const spare = map.alloc(PAGE_SIZE) // past `count`: must be left alone
      core.u8.fill(0xee, spare, spare + PAGE_SIZE)
      const p = [...pages, ...Array(8 - count).fill(spare)]
      const hashes = core.exports.hashPageGroup(count, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7])
      assert.ok(core.u8.subarray(spare, spare + PAGE_SIZE).every((x) => x === 0xee), `pages past ${count} untouched`)
      map.release(spare)
      pages.forEach((page, i) => {
        for (let s = 1; s < 512; s++) if (!slot(page, s).equals(heaps[i][s])) assert.unreachable(`page ${i} of ${count}, slot ${s}`)
      })
      assert.is(hashes, heaps.reduce((n, heap) => n + heap.slice(1, 256).filter((h) => !h.equals(EMPTY)).length, 0))
    } finally {
      for (const page of pages) map.release(page)
    }
  }
})

test('hashChanged after children of several pages change equals hashing each page again, each ancestor once', () => {
  const random = rng(9)
  const count = 5
  const pages = Array.from({ length: count }, () => map.alloc(PAGE_SIZE))
  const list = map.alloc(4 * 8 * 40)
  try {
    const children = pages.map((page, j) => {
      core.u8.fill(0, page, page + PAGE_SIZE)
      const c: Buffer[] = new Array(256).fill(EMPTY)
      for (let b = j % 3; b < 256; b += 3 + j) c[b] = randomBytes(32)
      c.forEach((h, b) => core.u8.set(h, page + (256 + b) * 32))
      core.exports.hashPage(page)
      return c
    })
    for (let round = 0; round < 100; round++) {
      // Some pages change one child, some many (side by side, repeated, emptied); one not at all.
      const entries: number[] = []
      let expected = 0
      pages.forEach((page, j) => {
        const n = j === 0 ? 0 : j === 1 ? 1 : Math.floor(random() * 40)
        const changed = new Set<number>()
        for (let i = 0; i < n; i++) {
          const b = i > 0 && random() < 0.3 ? (entries.at(-1)! & 255) ^ 1 : Math.floor(random() * 256)
          children[j][b] = random() < 0.3 ? EMPTY : randomBytes(32)
          core.u8.set(children[j][b], page + (256 + b) * 32)
          entries.push((j << 8) | b)
          changed.add(b)
        }
        const heap = referenceHeap(children[j])
        const ancestors = new Set<number>()
        for (const b of changed) for (let s = (256 + b) >> 1; s >= 1; s >>= 1) ancestors.add(s)
        for (const s of ancestors) if (!heap[s].equals(EMPTY)) expected++
      })
      entries.forEach((e, i) => core.dv.setUint32(list + 4 * i, e, true))
      const p = [...pages, 0, 0, 0]
      const hashes = core.exports.hashChanged(list, entries.length, count, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7])
      pages.forEach((page, j) => {
        const heap = referenceHeap(children[j])
        for (let s = 1; s < 512; s++) if (!slot(page, s).equals(heap[s])) assert.unreachable(`page ${j}, slot ${s} after round ${round}`)
        for (let b = 0; b < 256; b++) assert.is((slot(page, 0)[b >> 3] >> (b & 7)) & 1, children[j][b].equals(EMPTY) ? 0 : 1)
      })
      assert.is(hashes, expected, `round ${round}: each non-EMPTY ancestor hashed once`)
    }
  } finally {
    for (const page of pages) map.release(page)
    map.release(list)
  }
})

test('hashLeafPages gives the hash of pages of leaves only, as the reference page does', () => {
  const random = rng(10)
  // Sizes from 2 (the common case) to a full page; children at the edges and side by side.
  const sizes = [2, 2, 3, 2, 5, 4, 256, 2, 17, 3, 2, 128, 2]
  const pages = sizes.map((n, j) => {
    const depth = 8 + (j % 5)
    const bytes = j === 0 ? [0, 255] : j === 1 ? [6, 7] : shuffle([...Array(256).keys()], random).slice(0, n).sort((a, b) => a - b)
    const prefix = randomBytes(depth)
    const keys = bytes.map((b) => { const k = randomBytes(KEY_SIZE); prefix.copy(k); k[depth] = b; return k })
    const children: Buffer[] = new Array(256).fill(EMPTY)
    keys.forEach((k) => (children[k[depth]] = leaf(k)))
    return { keys, depth, hash: pageHash(children), nodes: referenceHeap(children).slice(1, 256).filter((h) => !h.equals(EMPTY)).length }
  })
  const total = sizes.reduce((a, b) => a + b, 0)
  const region = map.alloc(16 * pages.length + total * KEY_SIZE + 32 * pages.length + total * LEAF_PAGE_SCRATCH)
  try {
    const jobs = region, keysAt = jobs + 16 * pages.length, outAt = keysAt + total * KEY_SIZE, scratch = outAt + 32 * pages.length
    core.u8.fill(0xee, scratch, scratch + total * LEAF_PAGE_SCRATCH) // stale scratch must not leak in
    let at = keysAt
    pages.forEach(({ keys, depth }, j) => {
      core.dv.setUint32(jobs + 16 * j, at, true)
      core.dv.setUint32(jobs + 16 * j + 4, keys.length, true)
      core.dv.setUint32(jobs + 16 * j + 8, depth, true)
      core.dv.setUint32(jobs + 16 * j + 12, outAt + 32 * j, true)
      for (const k of keys) { core.u8.set(k, at); at += KEY_SIZE }
    })
    const hashes = core.exports.hashLeafPages(jobs, pages.length, scratch)
    pages.forEach(({ hash }, j) => assert.equal(Buffer.from(core.u8.subarray(outAt + 32 * j, outAt + 32 * j + 32)).toString('hex'), hash.toString('hex'), `page ${j} of ${sizes[j]} keys`))
    assert.is(hashes, total + pages.reduce((n, p) => n + p.nodes, 0), 'one hash per leaf and per non-empty node')
  } finally {
    map.release(region)
  }
})

test.run()
