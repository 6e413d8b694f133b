import { KEY_SIZE, PAGE_SIZE } from '../core/exports.js'
import { XaeroError } from '../errors.js'
import { sha256, sha256Batch64 } from '../hash.js'
import { toHex } from '../hex.js'
import { compareKeys, equalBytes, prefixPosition, timeBound } from './keys.js'
import { LEAF, PAGE } from './pages.js'

/**
 * Set reconciliation over the paged Merkle index (docs/SYNC.md). Two sides exchange messages,
 * each turning the other's into its reply. They compare the nodes of the binary hash tree that
 * the pages hold (a node is a bit prefix of keys), descending only where they differ, until each
 * knows the keys it lacks (`need`) and the keys the other lacks (`have`).
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
 * A key suffix is the key without the ⌊bits/8⌋ bytes its node fixes.
 */
export const SPLIT = 2, KEYS = 3, ANSWER = 4, PUSH = 5
export const VERSION = 2

/** Largest message accepted or sent. */
export const MAX_MESSAGE = 64 * 1024
const HEADER = 1 + 1 + 8 + 8 + 8 + 2
const SALT = 8
/** Fingerprint bytes: the first 8 of SHA-256(session key ‖ node hash). */
const FP_SIZE = 8
/** Parts a SPLIT cuts a subtree into. */
const FRONTIER = 64
/**
 * A differing part with at most this many keys (in range) is settled by listing them. When few
 * parts of a message differ, up to LIST_WIDE keys, as long as the lists of the whole reply
 * stay within LIST_BUDGET bytes: listing some more keys costs less than one more round trip,
 * but a reply that overflows its frame costs one too.
 */
const LIST_MAX = 12, LIST_WIDE = 64, LIST_BUDGET = 32 * 1024
/** Nodes (2 bits each) a received SPLIT's shape may have: at most 2048 parts, each with its fingerprint in the message. */
const MAX_SHAPE = 4096
const KEY_BITS = KEY_SIZE * 8
/** Page snapshots kept by one side during a reconciliation. */
const SNAPSHOTS = 256

/** What one side knows of its own set; the store implements it over its tree and events. */
export interface ReconcileSource {
  /** The slot for everything under `prefix` (depth = prefix.length): EMPTY, a leaf's key, or a page (its record and child kinds). */
  slot(prefix: Uint8Array): Promise<{ kind: 'empty' } | { kind: 'leaf'; key: Uint8Array; hash: Uint8Array } | { kind: 'page'; hash: Uint8Array; record: Uint8Array; kinds: Uint8Array }>
  /** Which of these keys are stored. */
  hasKeys(keys: Uint8Array[]): Promise<boolean[]>
}

export interface ReconcileStats { rounds: number; bytesSent: number; bytesReceived: number }

/** A node of the binary tree: the keys whose first `bits` bits are those of `prefix`. */
interface Addr { bits: number; prefix: Uint8Array }

/** A page as this side saw it, with the number of keys (0, 1, 2 = two or more) under each slot. */
interface Snap { depth: number; prefix: Uint8Array; record: Uint8Array; kinds: Uint8Array; weight: Uint8Array }

/** This side's subtree at a node: empty, one key, or two or more (slot `h` of a page). */
type Mine = { t: 0 } | { t: 1; key: Uint8Array; hash: Uint8Array } | { t: 2; snap: Snap; h: number }
const NONE: Mine = { t: 0 }

/** A node reached from its parent: its prefix is only made when asked for (most never are). */
class Node implements Addr {
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

/** A node of a SPLIT's shape: internal with its present children, or a leaf with its fingerprint. */
class Shape extends Node { kids?: [Shape | null, Shape | null]; fp?: Uint8Array; mine?: Mine }

type Outgoing =
  | { kind: 'item'; bytes: Uint8Array }
  | { kind: 'push'; addr: Addr; keys: AsyncGenerator<Uint8Array>; skip?: Set<string>; next?: Uint8Array }

/** One side of a reconciliation. Create with `db.reconcile({ from, to })`. */
export class Reconciliation {
  private readonly needed = new Set<string>()
  private readonly had = new Set<string>()
  readonly stats: ReconcileStats = { rounds: 0, bytesSent: 0, bytesReceived: 0 }
  private outbox: Outgoing[] = []
  private readonly lo: Uint8Array
  private readonly hi: Uint8Array
  private readonly everything: boolean
  private salt?: Uint8Array
  private sessionKey?: Uint8Array
  /** Keys this side listed in KEYS, by node, until answered. */
  private readonly listed = new Map<string, Uint8Array[]>()
  private readonly snaps = new Map<string, Snap | Mine>()

  constructor(private readonly source: ReconcileSource, readonly from: number, readonly to: number) {
    this.lo = timeBound(from)
    this.hi = timeBound(to)
    this.everything = from === 0 && to >= Number.MAX_SAFE_INTEGER // no stored event is that far in the future
  }

  /** Ids (hex) this side lacks. */
  get need(): string[] { return [...this.needed] }
  /** Ids (hex) the other side lacks. */
  get have(): string[] { return [...this.had] }

  /**
   * The first message: a SPLIT of this side's whole set (its keys if there are few, a request for
   * everything if there are none). Equal sets settle at once; otherwise the other side already
   * answers one level down.
   */
  async open(): Promise<Uint8Array> {
    this.setSalt(globalThis.crypto.getRandomValues(new Uint8Array(SALT)))
    const root: Addr = { bits: 0, prefix: new Uint8Array(0) }
    await this.describe(root, await this.locate(root))
    return this.send(false)
  }

  /** Turns the other side's message into the reply; undefined when nothing is left to say. */
  async receive(message: Uint8Array): Promise<Uint8Array | undefined> {
    const { more, items } = this.parse(message)
    this.stats.bytesReceived += message.length
    const differ: Shape[] = []
    for (const item of items) await this.handle(item, differ)
    const list = Math.max(LIST_MAX, Math.min(LIST_WIDE, Math.floor(LIST_BUDGET / (KEY_SIZE * differ.length))))
    for (const s of differ) await this.describe(s, s.mine!, list)
    if (this.outbox.length === 0 && !more) return undefined
    return this.send(true)
  }

  // --- what each item asks of this side ---------------------------------------------------------

  /** Acts on one item; the parts of a SPLIT that differ are left in `differ`, to be described. */
  private async handle(item: Item, differ: Shape[]): Promise<void> {
    if (this.position(item) === 'outside') return
    switch (item.type) {
      case SPLIT: {
        const leaves: Shape[] = []
        await this.walk(item.shape, await this.locate(item), leaves)
        const fps = this.fingerprints(leaves.map((s) => value(s.mine!)))
        leaves.forEach((s, i) => { if (!equalBytes(fps.subarray(i * FP_SIZE, (i + 1) * FP_SIZE), s.fp!)) differ.push(s) })
        return
      }
      case KEYS: {
        const theirs = item.keys.filter((k) => this.inRange(k))
        const stored = await this.source.hasKeys(theirs)
        const lacking = new Set<string>()
        theirs.forEach((k, i) => { if (!stored[i]) { lacking.add(toHex(k)); this.needed.add(toHex(k.subarray(8))) } })
        if (lacking.size > 0) {
          const bitmap = new Uint8Array(2 + ((item.keys.length + 7) >> 3))
          new DataView(bitmap.buffer).setUint16(0, item.keys.length)
          item.keys.forEach((k, i) => { if (lacking.has(toHex(k))) bitmap[2 + (i >> 3)] |= 0x80 >> (i & 7) })
          this.queue(encodeNode(ANSWER, item, bitmap))
        }
        const mine = await this.locate(item)
        if (mine.t !== 0) this.outbox.push({ kind: 'push', addr: item, keys: this.keysOf(mine), skip: new Set(theirs.map(toHex)) })
        return
      }
      case ANSWER: {
        const id = nodeId(item), keys = this.listed.get(id)
        if (!keys || keys.length !== item.count) throw bad('an answer to keys never listed')
        this.listed.delete(id)
        keys.forEach((k, i) => { if (item.bitmap[i >> 3] & (0x80 >> (i & 7))) this.had.add(toHex(k.subarray(8))) })
        return
      }
      case PUSH: {
        const theirs = item.keys.filter((k) => this.inRange(k))
        const stored = await this.source.hasKeys(theirs)
        theirs.forEach((k, i) => { if (!stored[i]) this.needed.add(toHex(k.subarray(8))) })
      }
    }
  }

  /**
   * Walks the other side's shape alongside this side's tree: where it has nothing and this side
   * has keys, they are pushed; where this side has nothing, everything is asked for; the leaves
   * are gathered with this side's subtree there, to compare fingerprints.
   */
  private async walk(s: Shape, mine: Mine, leaves: Shape[]): Promise<void> {
    if (this.position(s) === 'outside') return
    if (mine.t === 0) return this.queueKeys(s, [])
    if (!s.kids) { s.mine = mine; leaves.push(s); return }
    for (const c of [0, 1]) {
      const kid = s.kids[c], addr = kid ?? new Node(s.bits + 1, s, c)
      const sub = await this.child(mine, s.bits, c)
      if (kid) await this.walk(kid, sub, leaves)
      else if (sub.t !== 0 && this.position(addr) !== 'outside') this.outbox.push({ kind: 'push', addr, keys: this.keysOf(sub) })
    }
  }

  /** Queues what this side has under a node that differs: its keys if few, else a SPLIT. */
  private async describe(addr: Addr, mine: Mine, list = LIST_MAX): Promise<void> {
    if (mine.t === 0) return this.queueKeys(addr, [])
    const few: Uint8Array[] = []
    for await (const key of this.keysOf(mine)) { few.push(key); if (few.length > list) break }
    if (few.length <= list) return this.queueKeys(addr, few)
    this.queue(await this.split(addr, mine))
  }

  private queueKeys(addr: Addr, keys: Uint8Array[]): void {
    if (keys.length > 0) this.listed.set(nodeId(addr), keys)
    const skip = addr.bits >> 3, body = new Uint8Array(2 + keys.length * (KEY_SIZE - skip))
    new DataView(body.buffer).setUint16(0, keys.length)
    keys.forEach((k, i) => body.set(k.subarray(skip), 2 + i * (KEY_SIZE - skip)))
    this.queue(encodeNode(KEYS, addr, body))
  }

  /**
   * A SPLIT of this side's subtree at `addr`: starting from it, the shallowest part with two or
   * more keys is cut in two (a part with one non-empty half just gets longer, for free) until
   * FRONTIER parts; the shape says which halves are empty, and each part in range gets a fingerprint.
   */
  private async split(addr: Addr, mine: Mine): Promise<Uint8Array> {
    const root = new Shape(addr.bits, undefined, 0, addr.prefix)
    root.mine = mine
    const byDepth: Shape[][] = []
    const expandable = (s: Shape) => s.mine!.t === 2 && this.position(s) !== 'outside'
    const add = (s: Shape) => { (byDepth[s.bits] ??= []).push(s) }
    if (expandable(root)) add(root)
    let parts = 1, nodes = 1, depth = addr.bits
    while (depth < KEY_BITS && nodes + 2 <= MAX_SHAPE) {
      const s = byDepth[depth]?.pop()
      if (!s) { depth++; continue }
      const halves = [await this.child(s.mine!, s.bits, 0), await this.child(s.mine!, s.bits, 1)]
      const present = halves.filter((m) => m.t !== 0).length
      if (parts - 1 + present > FRONTIER) break
      parts += present - 1
      s.kids = [null, null]
      for (const c of [0, 1]) {
        if (halves[c].t === 0) continue
        const kid = new Shape(s.bits + 1, s, c)
        kid.mine = halves[c]
        s.kids[c] = kid
        nodes++
        if (expandable(kid)) add(kid)
      }
    }
    // preorder: the shape (2 bits a node: 00 a leaf, else which halves are present), then the leaves' fingerprints
    const shape: number[] = [], leaves: Shape[] = []
    const visit = (s: Shape) => {
      if (!s.kids) { shape.push(0); if (this.position(s) !== 'outside') leaves.push(s); return }
      shape.push((s.kids[0] ? 2 : 0) | (s.kids[1] ? 1 : 0))
      if (s.kids[0]) visit(s.kids[0])
      if (s.kids[1]) visit(s.kids[1])
    }
    visit(root)
    const fps = this.fingerprints(leaves.map((s) => value(s.mine!)))
    const body = new Uint8Array(2 + ((shape.length + 3) >> 2) + fps.length)
    new DataView(body.buffer).setUint16(0, shape.length)
    shape.forEach((v, i) => { body[2 + (i >> 2)] |= v << (6 - 2 * (i & 3)) })
    body.set(fps, body.length - fps.length)
    return encodeNode(SPLIT, addr, body)
  }

  // --- this side's tree, node by node -----------------------------------------------------------

  /** This side's subtree at a node. */
  private async locate(addr: Addr): Promise<Mine> {
    const d = addr.bits >> 3, j = addr.bits & 7
    const at = await this.page(addr.prefix.subarray(0, d))
    if (!('record' in at)) return at.t === 1 && hasPrefix(at.key, addr) ? at : NONE
    return this.at(at, j === 0 ? 1 : (1 << j) | (addr.prefix[d] >> (8 - j)))
  }

  /** Half `c` of this side's subtree at a node of `bits` bits. */
  private async child(mine: Mine, bits: number, c: number): Promise<Mine> {
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

  private at(snap: Snap, h: number): Mine {
    const w = snap.weight[h]
    if (w === 0) return NONE
    if (w === 2) return { t: 2, snap, h }
    while (h < 256) h = snap.weight[2 * h] ? 2 * h : 2 * h + 1
    const b = h - 256
    return { t: 1, key: snap.record.subarray(PAGE_SIZE + b * KEY_SIZE, PAGE_SIZE + (b + 1) * KEY_SIZE), hash: snap.record.subarray(h * 32, h * 32 + 32) }
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
    const slot = await this.source.slot(prefix)
    let out: Snap | Mine
    if (slot.kind === 'empty') out = NONE
    else if (slot.kind === 'leaf') out = { t: 1, key: slot.key, hash: slot.hash }
    else {
      const weight = new Uint8Array(512)
      for (let b = 0; b < 256; b++) weight[256 + b] = slot.kinds[b] === LEAF ? 1 : slot.kinds[b] === PAGE ? 2 : 0
      for (let h = 255; h >= 1; h--) weight[h] = Math.min(2, weight[2 * h] + weight[2 * h + 1])
      out = { depth: prefix.length, prefix: prefix.slice(), record: slot.record, kinds: slot.kinds, weight }
    }
    if (this.snaps.size >= SNAPSHOTS) this.snaps.delete(this.snaps.keys().next().value!)
    this.snaps.set(id, out)
    return out
  }

  /** This side's keys in range under a node, in order. */
  private async *keysOf(mine: Mine): AsyncGenerator<Uint8Array> {
    if (mine.t === 0) return
    if (mine.t === 1) { if (this.inRange(mine.key)) yield mine.key; return }
    const stack: Array<{ snap: Snap; h: number }> = [{ snap: mine.snap, h: mine.h }]
    while (stack.length > 0) {
      let { snap, h } = stack.pop()!
      if (snap.weight[h] === 0 || (!this.everything && this.position(heapAddr(snap, h)) === 'outside')) continue
      if (h >= 256) {
        const b = h - 256
        if (snap.kinds[b] === LEAF) {
          const key = snap.record.subarray(PAGE_SIZE + b * KEY_SIZE, PAGE_SIZE + (b + 1) * KEY_SIZE)
          if (this.inRange(key)) yield key
          continue
        }
        const next = await this.page(childPrefix(snap, b))
        if (!('record' in next)) { if (next.t === 1 && this.inRange(next.key)) yield next.key; continue }
        snap = next
        h = 1
      }
      stack.push({ snap, h: 2 * h + 1 }, { snap, h: 2 * h })
    }
  }

  // --- fingerprints --------------------------------------------------------------------------------

  private setSalt(salt: Uint8Array): void {
    this.salt = salt
    const seed = new Uint8Array(22 + SALT)
    seed.set(new TextEncoder().encode('xaeroflux/reconcile/2\n'))
    seed.set(salt, 22)
    this.sessionKey = sha256(seed)
  }

  /** FP_SIZE bytes for each 32-byte value: the start of SHA-256(session key ‖ value), one batch. */
  private fingerprints(values: Uint8Array[]): Uint8Array {
    if (values.length === 0) return new Uint8Array(0)
    const messages = new Uint8Array(values.length * 64)
    values.forEach((v, i) => { messages.set(this.sessionKey!, i * 64); messages.set(v, i * 64 + 32) })
    const digests = sha256Batch64(messages)
    const out = new Uint8Array(values.length * FP_SIZE)
    for (let i = 0; i < values.length; i++) out.set(digests.subarray(i * 32, i * 32 + FP_SIZE), i * FP_SIZE)
    return out
  }

  // --- messages --------------------------------------------------------------------------------

  private queue(bytes: Uint8Array): void {
    this.outbox.push({ kind: 'item', bytes })
  }

  private async send(reply: boolean): Promise<Uint8Array> {
    const parts: Uint8Array[] = []
    let size = HEADER, done = 0
    while (done < this.outbox.length) {
      const out = this.outbox[done]
      if (out.kind === 'item') {
        if (size + out.bytes.length > MAX_MESSAGE) break
        parts.push(out.bytes)
        size += out.bytes.length
        done++
        continue
      }
      // Keys to push, as many as fit: the rest waits for the next message.
      const skip = out.addr.bits >> 3, head = 3 + ((out.addr.bits + 7) >> 3) + 2
      const room = Math.floor((MAX_MESSAGE - size - head) / (KEY_SIZE - skip))
      if (room < 1) break
      const keys: Uint8Array[] = []
      while (keys.length < room) {
        const key = out.next ?? (await out.keys.next()).value
        out.next = undefined
        if (!key) break
        if (!out.skip?.has(toHex(key))) keys.push(key)
      }
      if (keys.length > 0) {
        const body = new Uint8Array(2 + keys.length * (KEY_SIZE - skip))
        new DataView(body.buffer).setUint16(0, keys.length)
        keys.forEach((k, i) => { body.set(k.subarray(skip), 2 + i * (KEY_SIZE - skip)); this.had.add(toHex(k.subarray(8))) })
        const bytes = encodeNode(PUSH, out.addr, body)
        parts.push(bytes)
        size += bytes.length
      }
      if (keys.length === room) {
        const next = (await out.keys.next()).value
        if (next) { out.next = next; break }
      }
      done++
    }
    this.outbox = this.outbox.slice(done)
    const message = new Uint8Array(size)
    const dv = new DataView(message.buffer)
    message[0] = VERSION
    message[1] = this.outbox.length > 0 ? 1 : 0
    dv.setFloat64(2, this.from)
    dv.setFloat64(10, this.to)
    message.set(this.salt!, 18)
    dv.setUint16(18 + SALT, parts.length)
    let at = HEADER
    for (const p of parts) { message.set(p, at); at += p.length }
    this.stats.bytesSent += message.length
    if (reply || this.stats.rounds === 0) this.stats.rounds++
    return message
  }

  private parse(message: Uint8Array): { more: boolean; items: Item[] } {
    if (!(message instanceof Uint8Array)) throw new TypeError('a message is bytes')
    if (message.length > MAX_MESSAGE) throw bad(`${message.length} bytes is over ${MAX_MESSAGE}`)
    if (message.length < HEADER) throw bad('truncated header')
    if (message[0] !== VERSION) throw bad(`version ${message[0]}`)
    if (message[1] > 1) throw bad('unknown flags')
    const dv = new DataView(message.buffer, message.byteOffset, message.byteLength)
    if (dv.getFloat64(2) !== this.from || dv.getFloat64(10) !== this.to) throw bad('the sides reconcile different ranges')
    const salt = message.subarray(18, 18 + SALT)
    if (this.salt && !equalBytes(salt, this.salt)) throw bad('a message of another reconciliation')
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
      const node: Addr = { bits, prefix }
      if (type === SPLIT) {
        const n = dv.getUint16(take(2))
        if (n === 0 || n > MAX_SHAPE) throw bad(`a shape of ${n} nodes`)
        const shape = message.subarray(take((n + 3) >> 2), at)
        let next = 0
        const leaves: Shape[] = []
        // preorder, iteratively: each node's two bits; a leaf is 00
        const root = new Shape(bits, undefined, 0, prefix)
        const stack: Shape[] = [root]
        while (stack.length > 0) {
          const s = stack.pop()!
          if (next >= n) throw bad('a shape shorter than its nodes')
          const v = (shape[next >> 2] >> (6 - 2 * (next & 3))) & 3
          next++
          if (v === 0) { leaves.push(s); continue }
          if (s.bits >= KEY_BITS) throw bad('a shape deeper than a key')
          s.kids = [v & 2 ? new Shape(s.bits + 1, s, 0) : null, v & 1 ? new Shape(s.bits + 1, s, 1) : null]
          if (s.kids[1]) stack.push(s.kids[1])
          if (s.kids[0]) stack.push(s.kids[0])
        }
        if (next !== n) throw bad('a shape longer than its nodes')
        if (n & 3 && shape[shape.length - 1] & (0xff >> (2 * (n & 3)))) throw bad('bits set past a shape')
        for (const leaf of leaves) if (this.position(leaf) !== 'outside') leaf.fp = message.slice(take(FP_SIZE), at)
        items.push({ type, ...node, shape: root })
      } else if (type === KEYS || type === PUSH) {
        const n = dv.getUint16(take(2))
        const skip = bits >> 3
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
        items.push({ type, ...node, keys })
      } else if (type === ANSWER) {
        const n = dv.getUint16(take(2))
        const bitmap = message.slice(take((n + 7) >> 3), at)
        if (n & 7 && bitmap[bitmap.length - 1] & (0xff >> (n & 7))) throw bad('bits set past an answer')
        items.push({ type, ...node, count: n, bitmap })
      } else throw bad(`item type ${type}`)
    }
    if (at !== message.length) throw bad('trailing bytes')
    if (!this.salt) this.setSalt(salt.slice())
    return { more: message[1] === 1, items }
  }

  // --- the time range ----------------------------------------------------------------------------

  private inRange(key: Uint8Array): boolean {
    return this.everything || (compareKeys(key, this.lo) >= 0 && compareKeys(key, this.hi) < 0)
  }

  private position(addr: Addr): 'inside' | 'outside' | 'straddles' {
    return this.everything ? 'inside' : prefixPosition(addr.prefix, this.lo, this.hi, addr.bits)
  }
}

type Item =
  | (Addr & { type: typeof SPLIT; shape: Shape })
  | (Addr & { type: typeof KEYS | typeof PUSH; keys: Uint8Array[] })
  | (Addr & { type: typeof ANSWER; count: number; bitmap: Uint8Array })

function bad(why: string): XaeroError {
  return new XaeroError('E_BAD_MESSAGE', `reconciliation message: ${why}`)
}

function encodeNode(type: number, addr: Addr, body: Uint8Array): Uint8Array {
  const n = (addr.bits + 7) >> 3
  const out = new Uint8Array(3 + n + body.length)
  out[0] = type
  out[1] = addr.bits >> 8
  out[2] = addr.bits & 0xff
  out.set(addr.prefix.subarray(0, n), 3)
  out.set(body, 3 + n)
  return out
}

function value(mine: Mine): Uint8Array {
  if (mine.t === 0) throw new Error('no value for an empty subtree')
  return mine.t === 1 ? mine.hash : mine.snap.record.subarray(mine.h * 32, mine.h * 32 + 32)
}

function bitOf(bytes: Uint8Array, i: number): number {
  return (bytes[i >> 3] >> (7 - (i & 7))) & 1
}

function hasPrefix(key: Uint8Array, addr: Addr): boolean {
  const whole = addr.bits >> 3, rest = addr.bits & 7
  for (let i = 0; i < whole; i++) if (key[i] !== addr.prefix[i]) return false
  return rest === 0 || ((key[whole] ^ addr.prefix[whole]) & (0xff << (8 - rest)) & 0xff) === 0
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

function nodeId(addr: Addr): string {
  return `${addr.bits}:${toHex(addr.prefix)}`
}
