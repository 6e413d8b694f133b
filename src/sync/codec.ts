import { KEY_SIZE } from '../core/exports.js'
import { XaeroError } from '../errors.js'
import { toHex } from '../hex.js'
import { compareKeys } from '../merkle/keys.js'

/**
 * The reconciliation message format (docs/SYNC.md): encoding, parsing and every check a message
 * must pass before a session acts on it. Nothing here reads the store.
 *
 * Message, version 2 (all integers big-endian):
 *   version u8 = 2 | flags u8 (1 = more to come: answer even if empty) | from f64 | to f64 |
 *   salt (8) | items u16 | items
 * Item: type u8 | node | body, where node = bits u16 (≤ 320) | prefix (⌈bits/8⌉ bytes, unused bits 0)
 *   SPLIT  shape count u16 | shape (2 bits per node, preorder) | fp (8) per shape leaf in range
 *                                          my subtree under node, cut into ≤ FRONTIER parts
 *   KEYS   count u16 | count × key suffix  all my keys in range under node (answer: ANSWER, PUSH)
 *   ANSWER count u16 | ⌈count/8⌉ bitmap    which keys of your KEYS at node I lack (bit i, MSB first)
 *   PUSH   count u16 | count × key suffix  keys under node that you lack
 *   SUBTREE (no body)                      I have keys under node, and you have none there: their
 *                                          events follow outside the reconciliation (only in a
 *                                          session with `subtrees`, where it replaces such a PUSH)
 * A key suffix is the key without the ⌊bits/8⌋ bytes its node fixes.
 */
export const SPLIT = 2, KEYS = 3, ANSWER = 4, PUSH = 5, SUBTREE = 6
export const VERSION = 2

/** Largest message accepted or sent. */
export const MAX_MESSAGE = 64 * 1024
export const HEADER = 1 + 1 + 8 + 8 + 8 + 2
export const SALT = 8
/** Fingerprint bytes: the first 8 of SHA-256(session key ‖ node hash). */
export const FP_SIZE = 8
/** Nodes (2 bits each) a SPLIT's shape may have: at most 2048 parts, each with its fingerprint in the message. */
export const MAX_SHAPE = 4096
export const KEY_BITS = KEY_SIZE * 8
/**
 * Keys (in KEYS and PUSH items) one message may carry. A key costs its receiver a lookup, yet under
 * a deep node its suffix is a byte or two: without this cap a 64 KiB message could ask ~65 000
 * lookups where an honest one (32-byte suffixes past the 8 timestamp bytes) asks at most 2 047.
 * Senders respect it, so an honest message is never refused for it.
 */
export const MAX_MESSAGE_KEYS = 4096
/**
 * Subtrees (SUBTREE items) one side may name in a reconciliation; past them it pushes keys. The
 * receiver keeps each named node until the sync ends (src/net/subtrees.ts): under this cap that
 * is 3.5 MB of heap at most (16 384 nodes of 319 bits), where the keys budget alone (2M) let a peer
 * make it 1.1 GB (the list of before). A sync into an empty store names one; a catch-up of the
 * newest 100 events out of 200 000, 2–5. 65 536 (protocol version 4) let a liar hold an honest
 * peer's pushes at 2.3–2.6 × their latency in CI (test/net-hostile.test.ts, two runs of three);
 * 16 384: 0.98–1.05 × beside a busy core, where 65 536 gave 1.03–1.69 ×.
 */
export const MAX_SUBTREES = 1 << 14

/** A node of the binary tree: the keys whose first `bits` bits are those of `prefix`. */
export interface Addr { bits: number; prefix: Uint8Array }

/** A node reached from its parent: its prefix is only made when asked for (most never are). */
export class Node implements Addr {
  constructor(readonly bits: number, private readonly parent?: Addr, private readonly c = 0, private made?: Uint8Array) {}
  get prefix(): Uint8Array {
    if (this.made) return this.made
    // from the nearest ancestor that has its prefix, without making those in between
    let n: Addr = this
    const path: number[] = []
    while (n instanceof Node && !n.made) { path.push(n.c); n = n.parent! }
    const prefix = new Uint8Array((this.bits + 7) >> 3)
    prefix.set(n.prefix.subarray(0, prefix.length))
    for (let i = path.length - 1, bit = n.bits; i >= 0; i--, bit++) if (path[i]) prefix[bit >> 3] |= 0x80 >> (bit & 7)
    return (this.made = prefix)
  }
}

/** A node of a received SPLIT's shape: internal with its present children, or a leaf with its fingerprint. */
export class ShapeNode extends Node { kids?: [ShapeNode | null, ShapeNode | null]; fp?: Uint8Array }

export type Item =
  | (Addr & { type: typeof SPLIT; shape: ShapeNode })
  | (Addr & { type: typeof KEYS | typeof PUSH; keys: Uint8Array[] })
  | (Addr & { type: typeof ANSWER; count: number; bitmap: Uint8Array })
  | (Addr & { type: typeof SUBTREE })

export interface Parsed { more: boolean; salt: Uint8Array; items: Item[] }

/** What parsing needs to know of the session: its range and salt, and which nodes lie wholly outside the range. */
export interface ParseContext { from: number; to: number; salt?: Uint8Array; outside(addr: Addr): boolean }

export function bad(why: string): XaeroError {
  return new XaeroError('E_BAD_MESSAGE', `reconciliation message: ${why}`)
}

/** Parses a message and checks every bound of the format; E_BAD_MESSAGE for the first one broken. */
export function parseMessage(message: Uint8Array, context: ParseContext): Parsed {
  if (!(message instanceof Uint8Array)) throw new TypeError('a message is bytes')
  if (message.length > MAX_MESSAGE) throw bad(`${message.length} bytes is over ${MAX_MESSAGE}`)
  if (message.length < HEADER) throw bad('truncated header')
  if (message[0] !== VERSION) throw bad(`version ${message[0]}`)
  if (message[1] > 1) throw bad('unknown flags')
  const dv = new DataView(message.buffer, message.byteOffset, message.byteLength)
  if (dv.getFloat64(2) !== context.from || dv.getFloat64(10) !== context.to) throw bad('the sides reconcile different ranges')
  const salt = message.slice(18, 18 + SALT)
  if (context.salt && !equalBytes(salt, context.salt)) throw bad('a message of another reconciliation')
  const count = dv.getUint16(18 + SALT)
  const items: Item[] = []
  let at = HEADER
  const take = (n: number) => { if (at + n > message.length) throw bad('truncated item'); at += n; return at - n }
  for (let i = 0; i < count; i++) {
    const type = message[take(1)]
    const bits = dv.getUint16(take(2))
    if (bits > KEY_BITS || (type === SPLIT && bits >= KEY_BITS)) throw bad(`a node of ${bits} bits`)
    const prefix = message.slice(take((bits + 7) >> 3), at)
    if (bits & 7 && prefix[prefix.length - 1] & (0xff >> (bits & 7))) throw bad('bits set past a node prefix')
    if (type === SPLIT) {
      const n = dv.getUint16(take(2))
      if (n === 0 || n > MAX_SHAPE) throw bad(`a shape of ${n} nodes`)
      const shape = message.subarray(take((n + 3) >> 2), at)
      let next = 0
      const leaves: ShapeNode[] = []
      // preorder, iteratively: each node's two bits; a leaf is 00
      const root = new ShapeNode(bits, undefined, 0, prefix)
      const stack: ShapeNode[] = [root]
      while (stack.length > 0) {
        const s = stack.pop()!
        if (next >= n) throw bad('a shape shorter than its nodes')
        const v = (shape[next >> 2] >> (6 - 2 * (next & 3))) & 3
        next++
        if (v === 0) { leaves.push(s); continue }
        if (s.bits >= KEY_BITS) throw bad('a shape deeper than a key')
        s.kids = [v & 2 ? new ShapeNode(s.bits + 1, s, 0) : null, v & 1 ? new ShapeNode(s.bits + 1, s, 1) : null]
        if (s.kids[1]) stack.push(s.kids[1])
        if (s.kids[0]) stack.push(s.kids[0])
      }
      if (next !== n) throw bad('a shape longer than its nodes')
      if (n & 3 && shape[shape.length - 1] & (0xff >> (2 * (n & 3)))) throw bad('bits set past a shape')
      for (const leaf of leaves) if (!context.outside(leaf)) leaf.fp = message.slice(take(FP_SIZE), at)
      items.push({ type, bits, prefix, shape: root })
    } else if (type === KEYS || type === PUSH) {
      const n = dv.getUint16(take(2))
      const skip = bits >> 3, node: Addr = { bits, prefix }
      const keys: Uint8Array[] = []
      take(n * (KEY_SIZE - skip))
      for (let j = 0; j < n; j++) {
        const key = new Uint8Array(KEY_SIZE)
        key.set(prefix.subarray(0, skip))
        const from = at - n * (KEY_SIZE - skip) + j * (KEY_SIZE - skip)
        key.set(message.subarray(from, from + KEY_SIZE - skip), skip)
        if (!hasPrefix(key, node)) throw bad('a key outside its node')
        if (j > 0 && compareKeys(keys[j - 1], key) >= 0) throw bad('keys out of order')
        keys.push(key)
      }
      items.push({ type, bits, prefix, keys })
    } else if (type === ANSWER) {
      const n = dv.getUint16(take(2))
      const bitmap = message.slice(take((n + 7) >> 3), at)
      if (n & 7 && bitmap[bitmap.length - 1] & (0xff >> (n & 7))) throw bad('bits set past an answer')
      items.push({ type, bits, prefix, count: n, bitmap })
    } else if (type === SUBTREE) {
      items.push({ type, bits, prefix })
    } else throw bad(`item type ${type}`)
  }
  if (at !== message.length) throw bad('trailing bytes')
  let keys = 0
  for (const item of items) if (item.type === KEYS || item.type === PUSH) keys += item.keys.length
  if (keys > MAX_MESSAGE_KEYS) throw bad(`${keys} keys is over ${MAX_MESSAGE_KEYS}`)
  checkDisjoint(items.filter((item) => item.type === SPLIT || item.type === KEYS || item.type === SUBTREE), 'overlapping nodes')
  checkDisjoint(items.filter((item) => item.type === ANSWER), 'two answers at one node')
  return { more: message[1] === 1, salt, items }
}

/**
 * No node of these items may equal another or lie under it. A SPLIT or KEYS describes all of its
 * sender's set under its node, so an honest message never says two things of one subtree; a
 * repeated or nested one would only make the receiver do (and send) the same work again: one
 * 64 KiB message of a SPLIT repeated 116 times cost 9 s of CPU before this check.
 * Sorted in bit order, a node under another follows it at once (anything between them is under
 * it too), so neighbours are all that need comparing.
 */
function checkDisjoint(nodes: Addr[], why: string): void {
  if (nodes.length < 2) return
  const sorted = nodes.slice().sort(compareNodes)
  for (let i = 1; i < sorted.length; i++) if (isUnder(sorted[i], sorted[i - 1])) throw bad(why)
}

/** Bit order of nodes: by their common bits, then the shorter (the ancestor) first. */
function compareNodes(a: Addr, b: Addr): number {
  const bits = Math.min(a.bits, b.bits), whole = bits >> 3, rest = bits & 7
  for (let i = 0; i < whole; i++) if (a.prefix[i] !== b.prefix[i]) return a.prefix[i] - b.prefix[i]
  if (rest) {
    const mask = (0xff << (8 - rest)) & 0xff, x = a.prefix[whole] & mask, y = b.prefix[whole] & mask
    if (x !== y) return x - y
  }
  return a.bits - b.bits
}

/** Whether `node` is `top` or lies under it. */
export function isUnder(node: Addr, top: Addr): boolean {
  return node.bits >= top.bits && compareNodes({ bits: top.bits, prefix: node.prefix }, top) === 0
}

/** A whole message around items already encoded (their total is checked against MAX_MESSAGE by the caller). */
export function encodeMessage(more: boolean, from: number, to: number, salt: Uint8Array, parts: Uint8Array[]): Uint8Array {
  let size = HEADER
  for (const p of parts) size += p.length
  const message = new Uint8Array(size)
  const dv = new DataView(message.buffer)
  message[0] = VERSION
  message[1] = more ? 1 : 0
  dv.setFloat64(2, from)
  dv.setFloat64(10, to)
  message.set(salt, 18)
  dv.setUint16(18 + SALT, parts.length)
  let at = HEADER
  for (const p of parts) { message.set(p, at); at += p.length }
  return message
}

/** Bytes of an item's type and node, before its body. */
export function itemHead(addr: Addr): number {
  return 3 + ((addr.bits + 7) >> 3)
}

export function encodeItem(type: number, addr: Addr, body: Uint8Array): Uint8Array {
  const n = (addr.bits + 7) >> 3
  const out = new Uint8Array(3 + n + body.length)
  out[0] = type
  out[1] = addr.bits >> 8
  out[2] = addr.bits & 0xff
  out.set(addr.prefix.subarray(0, n), 3)
  out.set(body, 3 + n)
  return out
}

/** KEYS or PUSH: the keys' suffixes past the bytes the node fixes. */
export function encodeKeys(type: typeof KEYS | typeof PUSH, addr: Addr, keys: Uint8Array[]): Uint8Array {
  const skip = addr.bits >> 3, body = new Uint8Array(2 + keys.length * (KEY_SIZE - skip))
  new DataView(body.buffer).setUint16(0, keys.length)
  keys.forEach((k, i) => body.set(k.subarray(skip), 2 + i * (KEY_SIZE - skip)))
  return encodeItem(type, addr, body)
}

/** ANSWER to `count` keys listed at `addr`: bit i set when key i is lacking. */
export function encodeAnswer(addr: Addr, count: number, lacking: (i: number) => boolean): Uint8Array {
  const body = new Uint8Array(2 + ((count + 7) >> 3))
  new DataView(body.buffer).setUint16(0, count)
  for (let i = 0; i < count; i++) if (lacking(i)) body[2 + (i >> 3)] |= 0x80 >> (i & 7)
  return encodeItem(ANSWER, addr, body)
}

/** SPLIT: the shape's node codes in preorder (0 a part, else 2 × left present + right present), then the parts' fingerprints. */
export function encodeSplit(addr: Addr, shape: number[], fps: Uint8Array): Uint8Array {
  const body = new Uint8Array(2 + ((shape.length + 3) >> 2) + fps.length)
  new DataView(body.buffer).setUint16(0, shape.length)
  shape.forEach((v, i) => { body[2 + (i >> 2)] |= v << (6 - 2 * (i & 3)) })
  body.set(fps, body.length - fps.length)
  return encodeItem(SPLIT, addr, body)
}

/**
 * The keys under a node as bounds in key order: the first key with its prefix, and the first key
 * past them (undefined past the last key there is).
 */
export function nodeBounds(addr: Addr): { lo: Uint8Array; hi?: Uint8Array } {
  const lo = new Uint8Array(KEY_SIZE)
  lo.set(addr.prefix.subarray(0, (addr.bits + 7) >> 3))
  const hi = new Uint8Array(KEY_SIZE)
  return nodeEnd(addr, hi) > 0 ? { lo, hi } : { lo }
}

/**
 * Writes into `out` the node's prefix plus one at its last bit (the carry running up through
 * whole bytes): the first key past the node's keys, but for its trailing zero bytes, which are
 * left as `out` has them. Returns the bytes written, ⌈bits/8⌉; 0 when no key lies past the
 * node's (the root, or a prefix of all ones).
 */
export function nodeEnd(addr: Addr, out: Uint8Array): number {
  const n = (addr.bits + 7) >> 3
  for (let i = 0; i < n; i++) out[i] = addr.prefix[i]
  let at = n - 1, add = 1 << ((8 - (addr.bits & 7)) & 7)
  for (; at >= 0; at--, add = 1) {
    const v = out[at] + add
    out[at] = v & 0xff
    if (v <= 0xff) return n
  }
  return 0
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && compareKeys(a, b) === 0
}

export function bitOf(bytes: Uint8Array, i: number): number {
  return (bytes[i >> 3] >> (7 - (i & 7))) & 1
}

export function hasPrefix(key: Uint8Array, addr: Addr): boolean {
  const whole = addr.bits >> 3, rest = addr.bits & 7
  for (let i = 0; i < whole; i++) if (key[i] !== addr.prefix[i]) return false
  return rest === 0 || ((key[whole] ^ addr.prefix[whole]) & (0xff << (8 - rest)) & 0xff) === 0
}

export function nodeId(addr: Addr): string {
  return `${addr.bits}:${toHex(addr.prefix)}`
}
