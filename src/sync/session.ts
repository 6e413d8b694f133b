import { KEY_SIZE } from '../core/exports.js'
import { sha256, sha256Batch64 } from '../hash.js'
import { toHex } from '../hex.js'
import {
  ANSWER, FP_SIZE, HEADER, KEYS, KEY_BITS, MAX_MESSAGE, MAX_SHAPE, Node, PUSH, SALT, SPLIT, ShapeNode,
  bad, encodeAnswer, encodeKeys, encodeMessage, encodeSplit, equalBytes, itemHead, nodeId, parseMessage,
  type Addr, type Item,
} from './codec.js'
import { KeyRange, NONE, TreeView, valueOf, type Mine, type ReconcileSource } from './view.js'

/**
 * One side of a set reconciliation over the paged Merkle index (docs/SYNC.md). Two sides exchange
 * messages, each turning the other's into its reply. They compare the nodes of the binary hash
 * tree that the pages hold (a node is a bit prefix of keys), descending only where they differ,
 * until each knows the keys it lacks (`need`) and the keys the other lacks (`have`).
 */

/** Parts a SPLIT cuts a subtree into. */
const FRONTIER = 64
/**
 * A differing part with at most this many keys (in range) is settled by listing them. When few
 * parts of a message differ, up to LIST_WIDE keys, as long as the lists of the whole reply
 * stay within LIST_BUDGET bytes: listing some more keys costs less than one more round trip,
 * but a reply that overflows its frame costs one too.
 */
const LIST_MAX = 12, LIST_WIDE = 64, LIST_BUDGET = 32 * 1024

export interface ReconcileStats { rounds: number; bytesSent: number; bytesReceived: number }

/** A node of a shape: a received one (with the fingerprint) or one this side cuts, with this side's subtree there. */
type Part = ShapeNode & { mine?: Mine }

type Outgoing =
  | { kind: 'item'; bytes: Uint8Array }
  | { kind: 'push'; addr: Addr; keys: AsyncGenerator<Uint8Array>; skip?: Set<string>; next?: Uint8Array }

/** One side of a reconciliation. Create with `db.reconcile({ from, to })`. */
export class Reconciliation {
  private readonly needed = new Set<string>()
  private readonly had = new Set<string>()
  readonly stats: ReconcileStats = { rounds: 0, bytesSent: 0, bytesReceived: 0 }
  private outbox: Outgoing[] = []
  private readonly range: KeyRange
  private readonly view: TreeView
  private salt?: Uint8Array
  private sessionKey?: Uint8Array
  /** Keys this side listed in KEYS, by node, until answered. */
  private readonly listed = new Map<string, Uint8Array[]>()

  constructor(source: ReconcileSource, readonly from: number, readonly to: number) {
    this.range = new KeyRange(from, to)
    this.view = new TreeView(source, this.range)
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
    await this.describe(root, await this.view.locate(root))
    return this.send(false)
  }

  /** Turns the other side's message into the reply; undefined when nothing is left to say. */
  async receive(message: Uint8Array): Promise<Uint8Array | undefined> {
    const { more, salt, items } = parseMessage(message, { from: this.from, to: this.to, salt: this.salt, outside: (a) => this.range.outside(a) })
    if (!this.salt) this.setSalt(salt)
    this.stats.bytesReceived += message.length
    const differ: Part[] = []
    for (const item of items) await this.handle(item, differ)
    const list = Math.max(LIST_MAX, Math.min(LIST_WIDE, Math.floor(LIST_BUDGET / (KEY_SIZE * differ.length))))
    for (const s of differ) await this.describe(s, s.mine!, list)
    if (this.outbox.length === 0 && !more) return undefined
    return this.send(true)
  }

  // --- what each item asks of this side ---------------------------------------------------------

  /** Acts on one item; the parts of a SPLIT that differ are left in `differ`, to be described. */
  private async handle(item: Item, differ: Part[]): Promise<void> {
    if (this.range.outside(item)) return
    switch (item.type) {
      case SPLIT: {
        const leaves: Part[] = []
        await this.walk(item.shape, await this.view.locate(item), leaves)
        const fps = this.fingerprints(leaves.map((s) => valueOf(s.mine!)))
        leaves.forEach((s, i) => { if (!equalBytes(fps.subarray(i * FP_SIZE, (i + 1) * FP_SIZE), s.fp!)) differ.push(s) })
        return
      }
      case KEYS: {
        const theirs = item.keys.filter((k) => this.range.has(k))
        const stored = await this.view.hasKeys(theirs)
        const lacking = new Set<string>()
        theirs.forEach((k, i) => { if (!stored[i]) { lacking.add(toHex(k)); this.needed.add(toHex(k.subarray(8))) } })
        if (lacking.size > 0) this.queue(encodeAnswer(item, item.keys.length, (i) => lacking.has(toHex(item.keys[i]))))
        const mine = await this.view.locate(item)
        if (mine.t !== 0) this.outbox.push({ kind: 'push', addr: item, keys: this.view.keysOf(mine), skip: new Set(theirs.map(toHex)) })
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
        const theirs = item.keys.filter((k) => this.range.has(k))
        const stored = await this.view.hasKeys(theirs)
        theirs.forEach((k, i) => { if (!stored[i]) this.needed.add(toHex(k.subarray(8))) })
      }
    }
  }

  /**
   * Walks the other side's shape alongside this side's tree: where it has nothing and this side
   * has keys, they are pushed; where this side has nothing, everything is asked for; the leaves
   * are gathered with this side's subtree there, to compare fingerprints.
   */
  private async walk(s: Part, mine: Mine, leaves: Part[]): Promise<void> {
    if (this.range.outside(s)) return
    if (mine.t === 0) return this.queueKeys(s, [])
    if (!s.kids) { s.mine = mine; leaves.push(s); return }
    for (const c of [0, 1]) {
      const kid = s.kids[c], addr = kid ?? new Node(s.bits + 1, s, c)
      const sub = await this.view.child(mine, s.bits, c)
      if (kid) await this.walk(kid, sub, leaves)
      else if (sub.t !== 0 && !this.range.outside(addr)) this.outbox.push({ kind: 'push', addr, keys: this.view.keysOf(sub) })
    }
  }

  /** Queues what this side has under a node that differs: its keys if few, else a SPLIT. */
  private async describe(addr: Addr, mine: Mine, list = LIST_MAX): Promise<void> {
    if (mine.t === 0) return this.queueKeys(addr, [])
    const few: Uint8Array[] = []
    for await (const key of this.view.keysOf(mine)) { few.push(key); if (few.length > list) break }
    if (few.length <= list) return this.queueKeys(addr, few)
    this.queue(await this.split(addr, mine))
  }

  private queueKeys(addr: Addr, keys: Uint8Array[]): void {
    if (keys.length > 0) this.listed.set(nodeId(addr), keys)
    this.queue(encodeKeys(KEYS, addr, keys))
  }

  /**
   * A SPLIT of this side's subtree at `addr`: starting from it, the shallowest part with two or
   * more keys is cut in two (a part with one non-empty half just gets longer, for free) until
   * FRONTIER parts; the shape says which halves are empty, and each part in range gets a fingerprint.
   */
  private async split(addr: Addr, mine: Mine): Promise<Uint8Array> {
    const root: Part = new ShapeNode(addr.bits, undefined, 0, addr.prefix)
    root.mine = mine
    const byDepth: Part[][] = []
    const expandable = (s: Part) => s.mine!.t === 2 && !this.range.outside(s)
    const add = (s: Part) => { (byDepth[s.bits] ??= []).push(s) }
    if (expandable(root)) add(root)
    let parts = 1, nodes = 1, depth = addr.bits
    while (depth < KEY_BITS && nodes + 2 <= MAX_SHAPE) {
      const s = byDepth[depth]?.pop()
      if (!s) { depth++; continue }
      const halves = [await this.view.child(s.mine!, s.bits, 0), await this.view.child(s.mine!, s.bits, 1)]
      const present = halves.filter((m) => m.t !== 0).length
      if (parts - 1 + present > FRONTIER) break
      parts += present - 1
      s.kids = [null, null]
      for (const c of [0, 1]) {
        if (halves[c].t === 0) continue
        const kid: Part = new ShapeNode(s.bits + 1, s, c)
        kid.mine = halves[c]
        s.kids[c] = kid
        nodes++
        if (expandable(kid)) add(kid)
      }
    }
    // preorder: the shape (2 bits a node: 00 a leaf, else which halves are present), then the leaves' fingerprints
    const shape: number[] = [], leaves: Part[] = []
    const visit = (s: Part) => {
      if (!s.kids) { shape.push(0); if (!this.range.outside(s)) leaves.push(s); return }
      shape.push((s.kids[0] ? 2 : 0) | (s.kids[1] ? 1 : 0))
      if (s.kids[0]) visit(s.kids[0])
      if (s.kids[1]) visit(s.kids[1])
    }
    visit(root)
    return encodeSplit(addr, shape, this.fingerprints(leaves.map((s) => valueOf(s.mine!))))
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
      const skip = out.addr.bits >> 3, head = itemHead(out.addr) + 2
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
        for (const k of keys) this.had.add(toHex(k.subarray(8)))
        const bytes = encodeKeys(PUSH, out.addr, keys)
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
    const message = encodeMessage(this.outbox.length > 0, this.from, this.to, this.salt!, parts)
    this.stats.bytesSent += message.length
    if (reply || this.stats.rounds === 0) this.stats.rounds++
    return message
  }
}

