// NamedSubtrees (src/net/subtrees.ts): which unasked events a sync lets in, against a brute-force
// check of the nodes named, and the bound on the runs a lookup tries.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { NamedSubtrees, envelopeKeyHex } from '../src/net/subtrees.js'
import { hasPrefix, nodeBounds, type Addr } from '../src/sync/codec.js'
import { toHex } from '../src/hex.js'
import { rng } from './helpers/keys.js'

const random = rng(77)
const randomKey = () => Uint8Array.from({ length: 40 }, () => Math.floor(random() * 256))
const nodeOf = (key: Uint8Array, bits: number): Addr => {
  const prefix = key.slice(0, (bits + 7) >> 3)
  if (bits & 7) prefix[prefix.length - 1] &= 0xff << (8 - (bits & 7))
  return { bits, prefix }
}
const disjoint = (x: Addr, y: Addr) => { const [a, b] = x.bits <= y.bits ? [x, y] : [y, x]; return !hasPrefix(nodeBounds(b).lo, a) }

test('a key is let in exactly when it lies under a named node, whatever the batches the nodes came in', () => {
  // Disjoint nodes at depths from the root's children to whole keys, some sharing long prefixes
  const nodes: Addr[] = []
  while (nodes.length < 1500) {
    const near = nodes.length > 0 && random() < 0.3 ? nodeBounds(nodes[Math.floor(random() * nodes.length)]).lo : undefined
    const key = near ? near.slice() : randomKey()
    if (near) key[39 - Math.floor(random() * 8)] ^= 1 + Math.floor(random() * 255)
    const node = nodeOf(key, 1 + Math.floor(random() * 320))
    if (nodes.every((n) => disjoint(n, node))) nodes.push(node)
  }
  // In random batches of random order (sorted and merged), and in key order (as an honest side
  // names them: each batch sorted already, each run following the one before)
  const batched = (list: Addr[]) => {
    const named = new NamedSubtrees()
    for (let i = 0; i < list.length;) { const k = 1 + Math.floor(random() * 60); named.add(list.slice(i, i + k)); i += k }
    assert.is(named.size, list.length)
    return named
  }
  const keyOrder = nodes.map((n) => ({ n, lo: toHex(nodeBounds(n).lo) })).sort((x, y) => (x.lo < y.lo ? -1 : 1)).map((x) => x.n)
  const [named, inOrder] = [batched(nodes), batched(keyOrder)]
  // Probes: random keys, each node's first key, the key just before it, its last key and the one just past it
  const probes: Uint8Array[] = Array.from({ length: 3000 }, randomKey)
  for (const n of nodes) {
    const { lo, hi } = nodeBounds(n)
    probes.push(lo)
    const before = lo.slice()
    for (let i = 39; i >= 0 && before[i]-- === 0; i--);
    probes.push(before)
    if (hi) { const past = new Uint8Array(40); past.set(hi); probes.push(past.slice()); for (let i = 39; i >= 0 && past[i]-- === 0; i--); probes.push(past) }
  }
  let under = 0
  for (const key of probes) {
    const truth = nodes.some((n) => hasPrefix(key, n))
    under += truth ? 1 : 0
    assert.is(named.has(toHex(key)), truth, `key ${toHex(key)}`)
    assert.is(inOrder.has(toHex(key)), truth, `key ${toHex(key)}, nodes added in key order`)
  }
  assert.ok(under > nodes.length && under < probes.length, `probes on both sides (${under} of ${probes.length} under a node)`)
  assert.is(new NamedSubtrees().has(toHex(randomKey())), false)
})

test('a node at the root lets everything in; a node that reaches the end of the key space has no upper bound', () => {
  const all = new NamedSubtrees()
  all.add([{ bits: 0, prefix: new Uint8Array(0) }])
  assert.ok(all.has('00'.repeat(40)) && all.has('ff'.repeat(40)))
  const last = new NamedSubtrees()
  last.add([{ bits: 3, prefix: new Uint8Array([0xe0]) }])
  assert.ok(last.has('ff'.repeat(40)) && last.has('e0' + '00'.repeat(39)))
  assert.not.ok(last.has('df' + 'ff'.repeat(39)))
})

test('nodes named one message at a time: a lookup tries at most log2 of them runs', () => {
  const named = new NamedSubtrees()
  const n = 1 << 16
  // 24-bit nodes in scattered order (i × an odd number, mod 2^24, is one-to-one)
  const at = (i: number) => (i * 40503) & 0xffffff
  const keyHex = (v: number, rest: string) => toHex(new Uint8Array([v >> 16, (v >> 8) & 255, v & 255])) + rest.repeat(37)
  for (let i = 0; i < n; i++) {
    const v = at(i)
    named.add([{ bits: 24, prefix: new Uint8Array([v >> 16, (v >> 8) & 255, v & 255]) }])
  }
  assert.is(named.size, n)
  assert.ok(named.runCount <= 17, `${named.runCount} runs`)
  const used = new Set(Array.from({ length: n }, (_, i) => at(i)))
  for (let i = 0; i < 300; i++) {
    const v = at(Math.floor(random() * n))
    assert.ok(named.has(keyHex(v, '00')) && named.has(keyHex(v, 'ff')))
    let w = Math.floor(random() * 0x1000000)
    while (used.has(w)) w = (w + 1) & 0xffffff
    assert.not.ok(named.has(keyHex(w, '5a')))
  }
})

test('envelopeKeyHex: the timestamp bytes of the envelope, then its id', () => {
  const envelope = new Uint8Array(20)
  envelope.set([0, 0, 1, 2, 3, 4, 5, 6, 7, 8], 2)
  assert.is(envelopeKeyHex(envelope, 'cd'.repeat(32)), '0102030405060708' + 'cd'.repeat(32))
})

test.run()
