import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createHash, randomBytes } from 'node:crypto'
import { merkleRoot } from '../src/index.js'
import { defaultRuntime } from '../src/core/default.js'
import { MerkleTree, encodeRoot, type Slot } from '../src/merkle/tree.js'
import { verifyProof, verifyAbsence } from '../src/merkle/proof.js'
import { makeKey, rng, shuffle } from './helpers/keys.js'

const runtime = defaultRuntime()

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const byKey = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b)

/** A tree over an in-memory page store that applies each batch of writes, as the store does. */
function memoryTree(capacity = 64) {
  const stored = new Map<string, Uint8Array>()
  const tree = new MerkleTree(runtime, { getMany: async (addresses) => addresses.map((a) => stored.get(hex(a))) }, capacity)
  const insert = async (keys: Uint8Array[]) => {
    await tree.insert(keys.slice().sort(byKey))
    for (const { key, value } of tree.takeWrites().pages) stored.set(hex(key), value)
    tree.committed()
  }
  return { tree, stored, insert }
}

const random = rng(77)
const T0 = 1_790_000_000_000
const keys = Array.from({ length: 20_000 }, () => makeKey(T0 + Math.floor(random() * 600_000)))

test('the root equals merkleRoot after every batch, whatever the batch sizes and order', async () => {
  const { tree, insert } = memoryTree()
  assert.is(hex(tree.root()), '00'.repeat(32))
  const order = shuffle(keys, random)
  let inserted: Uint8Array[] = []
  for (const size of [1, 1, 2, 7, 300, 1, 5000, 2000, 12_688]) {
    const batch = order.slice(inserted.length, inserted.length + size)
    await insert(batch)
    inserted = inserted.concat(batch)
    assert.is(hex(tree.root()), merkleRoot(inserted), `after ${inserted.length} keys`)
  }
})

test('different orders and late arrivals give byte-identical stored pages', async () => {
  const a = memoryTree(), b = memoryTree(8)
  const sorted = keys.slice().sort(byKey)
  for (let i = 0; i < sorted.length; i += 1000) await a.insert(sorted.slice(i, i + 1000))
  // b: newest first, in small batches, then a few very old (late) keys arrive last
  const late = Array.from({ length: 50 }, () => makeKey(T0 - 86_400_000 * 365 + Math.floor(random() * 1000)))
  const reversed = sorted.slice().reverse()
  for (let i = 0; i < reversed.length; i += 333) await b.insert(reversed.slice(i, i + 333))
  await a.insert(late)
  for (const k of late) await b.insert([k])
  assert.is(hex(a.tree.root()), hex(b.tree.root()))
  assert.is(hex(a.tree.root()), merkleRoot([...keys, ...late]))
  assert.is(a.stored.size, b.stored.size)
  for (const [address, page] of a.stored) assert.is(hex(b.stored.get(address) ?? new Uint8Array()), hex(page), `page ${address}`)
})

test('bursts of keys in one millisecond, in batches that split it, give the pages of one batch', async () => {
  // As appends: hundreds of keys share a millisecond, so pages of two or three leaves under it
  // (ids sharing their first byte) are written by one batch and grown by the next.
  const burst = Array.from({ length: 3000 }, (_, i) => makeKey(T0 + Math.floor(i / 300))).sort(byKey)
  const a = memoryTree(), b = memoryTree()
  await a.insert(burst)
  for (let i = 0; i < burst.length; i += 190) {
    await b.insert(burst.slice(i, i + 190))
    assert.is(hex(b.tree.root()), merkleRoot(burst.slice(0, i + 190)), `after ${i + 190} keys`)
  }
  assert.is(a.stored.size, b.stored.size)
  for (const [address, page] of a.stored) assert.is(hex(b.stored.get(address) ?? new Uint8Array()), hex(page), `page ${address}`)
  assert.equal(await b.tree.insert(burst.slice(1000, 1400)), [], 'nothing is new the second time')
})

test('a page of leaves only that grows past one, is evicted, and grows again keeps every key', async () => {
  // Keys sharing their timestamp and first id byte: one page at depth 9, of leaves only while
  // it holds at most 8 of them.
  const under = (i: number) => makeKey(T0, Uint8Array.from({ length: 32 }, (_, j) => (j === 0 ? 0x42 : j === 1 ? i : 0)))
  const all = Array.from({ length: 11 }, (_, i) => under(i))
  const elsewhere = Array.from({ length: 200 }, (_, i) => makeKey(T0 + 1000 + i * 300))
  const { tree, stored, insert } = memoryTree(2)
  await insert(all.slice(0, 3))
  await insert(all.slice(3, 10))
  await insert(elsewhere) // evicts the page from a cache of two
  await insert(all.slice(10))
  assert.is(hex(tree.root()), merkleRoot([...all, ...elsewhere]))
  const once = memoryTree()
  await once.insert([...all, ...elsewhere])
  for (const [address, page] of once.stored) assert.is(hex(stored.get(address) ?? new Uint8Array()), hex(page), `page ${address}`)
})

test('an insert that fails to read a page leaves the tree as its committed pages say', async () => {
  // A late key lands high in the tree, the others deep down: a read that fails deep down comes
  // after the late key's page has taken it.
  const committed = keys.slice(0, 3000)
  const failed = [...keys.slice(3000, 3500), makeKey(T0 - 86_400_000 * 365)]
  // Fail the n-th read of the insert, for every n until the insert needs fewer reads than that.
  for (let readsBeforeFailure = 0; ; readsBeforeFailure++) {
    const stored = new Map<string, Uint8Array>()
    let reads = Infinity
    const tree = new MerkleTree(runtime, {
      getMany: async (addresses) => {
        if (reads-- <= 0) throw new Error('disk unavailable')
        return addresses.map((a) => stored.get(hex(a)))
      },
    }, 2) // a cache too small for the tree: each level of an insert reads pages
    await tree.insert(committed.slice().sort(byKey))
    for (const { key, value } of tree.takeWrites().pages) stored.set(hex(key), value)
    tree.committed()
    reads = readsBeforeFailure
    const failedOnce = await tree.insert(failed.slice().sort(byKey)).then(() => false, (e) => {
      assert.match(String(e), 'disk unavailable')
      return true
    })
    if (!failedOnce) { assert.ok(readsBeforeFailure > 4, 'the insert reads pages level by level'); break }
    reads = Infinity
    assert.is(hex(tree.root()), merkleRoot(committed))
    // None of them may look stored already: the indexer stores the events of the keys returned.
    assert.is((await tree.insert(failed.slice().sort(byKey))).length, failed.length, `a failure after ${readsBeforeFailure} reads`)
    assert.is(hex(tree.root()), merkleRoot([...committed, ...failed]))
  }
})

test('insert skips keys already in the set and repeats, and returns exactly the new ones', async () => {
  const { tree, insert } = memoryTree(8)
  const first = keys.slice(0, 5000)
  await insert(first)
  const rootBefore = hex(tree.root())
  // Old keys (some twice), a new key twice, and new keys that land next to old leaves.
  const fresh = keys.slice(5000, 5400)
  const mixed = [...first.slice(0, 700), ...first.slice(0, 30), fresh[0], ...fresh].sort(byKey)
  const added = await tree.insert(mixed)
  assert.equal(added.map(hex).sort(), fresh.map(hex).sort())
  assert.ok(added.every((k) => mixed.some((m) => m === k)), 'the added keys are the objects given')
  assert.is.not(hex(tree.root()), rootBefore)
  assert.is(hex(tree.root()), merkleRoot([...first, ...fresh]))
  assert.equal(await tree.insert(first.slice().sort(byKey)), [], 'nothing is new the second time')
  // A tree holding a single leaf at its root
  const single = memoryTree()
  assert.equal((await single.tree.insert([keys[0], keys[0]])).length, 1)
  assert.equal(await single.tree.insert([keys[0]]), [])
  assert.is(hex(single.tree.root()), merkleRoot([keys[0]]))
})

test('between takeWrites and its commit, pages trimmed from the cache are read as written, not stale from the source', async () => {
  const { tree, stored, insert } = memoryTree(2) // a cache too small: reads go past it
  await insert(keys.slice(0, 3000))
  const late = keys.slice(3000, 4000)
  await tree.insert(late.slice().sort(byKey))
  const pending = tree.takeWrites().pages // not committed yet: `stored` holds the old pages
  const root = tree.root()
  assert.is(hex(root), merkleRoot(keys.slice(0, 4000)))
  for (const k of late.slice(0, 50)) assert.ok(verifyProof(await tree.prove(k), root), 'a key of the uncommitted batch is proved')
  for (const { key, value } of pending) stored.set(hex(key), value)
  tree.committed()
  for (const k of late.slice(50, 100)) assert.ok(verifyProof(await tree.prove(k), root), 'and from the source once committed')
})

test('slotsAt answers as slotAt for each prefix, reading the missing pages of each depth in one batch; warm reads the top levels ahead', async () => {
  const { tree, stored, insert } = memoryTree()
  await insert(keys)
  const root = tree.rootSlot()
  let reads = 0
  /** The same tree with nothing in memory, counting its batched reads. */
  const cold = () => {
    const t = new MerkleTree(runtime, { getMany: async (addresses) => { reads++; return addresses.map((a) => stored.get(hex(a))) } }, 256)
    t.setRoot(encodeRoot(root.kind, root.value))
    return t
  }
  const prefixes: Uint8Array[] = [new Uint8Array(0)]
  for (const key of shuffle(keys, random).slice(0, 40)) for (let d = 1; d <= 8; d++) prefixes.push(key.slice(0, d))
  for (let i = 0; i < 20; i++) prefixes.push(Uint8Array.from(randomBytes(1 + (i % 6)))) // mostly where there is nothing
  // A page by what is meaningful in its record: each child's kind, hash and (a leaf) key.
  const show = (s: Slot) => {
    if (s.kind !== 'page') return s.kind === 'leaf' ? `leaf ${hex(s.key)} ${hex(s.hash)}` : 'empty'
    const children = Array.from(s.kinds, (k, b) => k === 0 ? '' : `${b}:${k}:${hex(s.record.subarray((256 + b) * 32, (257 + b) * 32))}` +
      (k === 1 ? `:${hex(s.record.subarray(512 * 32 + b * 40, 512 * 32 + (b + 1) * 40))}` : '')).filter(Boolean)
    return `page ${hex(s.hash)} ${createHash('sha256').update(children.join(',')).digest('hex')}`
  }
  const one: string[] = []
  for (const p of prefixes) one.push(show(await cold().slotAt(p)))
  reads = 0
  const all = (await cold().slotsAt(prefixes)).map(show)
  assert.equal(all, one)
  assert.ok(new Set(one.map((x) => x.split(' ')[0])).size === 3, 'pages, leaves and empty slots among the answers')
  assert.ok(reads <= 9, `one read per depth at most (root and 8 levels): ${reads}`)

  const warmed = cold()
  await warmed.warm(32)
  reads = 0
  await warmed.slotsAt(prefixes.filter((p) => p.length <= 5))
  assert.is(reads, 0, 'the top levels are in memory after warm')
})

test('every proof verifies; any flipped byte, or another root, fails it', async () => {
  const { tree, insert } = memoryTree(16)
  const some = keys.slice(0, 3000)
  await insert(some)
  const root = tree.root()
  const other = randomBytes(32)
  for (const k of some.slice(0, 500)) {
    const proof = await tree.prove(k)
    assert.ok(verifyProof(proof, root))
    assert.ok(verifyProof(proof, hex(root)))
    assert.not.ok(verifyAbsence(proof, root))
    assert.not.ok(verifyProof(proof, other))
  }
  const proof = await tree.prove(some[0])
  for (let i = 0; i < proof.length; i++) {
    const bad = proof.slice()
    bad[i] ^= 0x10
    if (verifyProof(bad, root)) assert.unreachable(`flipped byte ${i} still verifies`)
  }
  assert.not.ok(verifyProof(proof.subarray(0, proof.length - 1), root))
  assert.not.ok(verifyProof(new Uint8Array([...proof, 0]), root))
})

test('absence proofs verify for random missing keys, and never for present ones', async () => {
  const { tree, insert } = memoryTree()
  const present = keys.slice(0, 5000)
  await insert(present)
  const root = tree.root()
  for (let i = 0; i < 300; i++) {
    // missing keys near present ones (same timestamp) and far away
    const k = i % 2 ? makeKey(Number(Buffer.from(present[i]).readBigUInt64BE(0))) : makeKey(T0 + 10 ** 9 + i)
    const proof = await tree.prove(k)
    assert.ok(verifyAbsence(proof, root), `absence of key ${i}`)
    assert.not.ok(verifyProof(proof, root))
  }
})

test('tiny sets: empty, one key, two keys', async () => {
  const { tree, insert } = memoryTree()
  const [k1, k2, k3] = keys
  assert.ok(verifyAbsence(await tree.prove(k1), tree.root()))
  await insert([k1])
  assert.is(hex(tree.root()), merkleRoot([k1]))
  assert.ok(verifyProof(await tree.prove(k1), tree.root()))
  assert.ok(verifyAbsence(await tree.prove(k2), tree.root()))
  await insert([k2])
  assert.is(hex(tree.root()), merkleRoot([k1, k2]))
  assert.ok(verifyProof(await tree.prove(k2), tree.root()))
  assert.ok(verifyAbsence(await tree.prove(k3), tree.root()))
})

test.run()
