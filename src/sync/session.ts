import { KEY_SIZE } from '../core/exports.js'
import { XaeroError } from '../errors.js'
import { sha256, sha256Batch64 } from '../hash.js'
import { toHex } from '../hex.js'
import { yieldToEventLoop } from '../tasks.js'
import { Pacer } from './pacer.js'
import {
  ANSWER, FP_SIZE, HEADER, KEYS, KEY_BITS, MAX_MESSAGE, MAX_MESSAGE_KEYS, MAX_SHAPE, MAX_SUBTREES, Node, PUSH, SALT, SPLIT, SUBTREE, ShapeNode,
  bad, encodeAnswer, encodeItem, encodeKeys, encodeMessage, encodeSplit, equalBytes, itemHead, nodeId, parseMessage,
  type Addr, type Item,
} from './codec.js'
import { KeyRange, TreeView, valueOf, type Mine, type ReconcileSource } from './view.js'

/**
 * One side of a set reconciliation over the paged Merkle index (docs/SYNC.md). Two sides exchange
 * messages, each turning the other's into its reply. They compare the nodes of the binary hash
 * tree that the pages hold (a node is a bit prefix of keys), descending only where they differ,
 * until each knows the keys it lacks (`need`) and the keys the other lacks (`have`).
 *
 * Against a hostile peer: a message is parsed and checked whole (codec.ts), then applied to a
 * staging area that is committed only if nothing failed, so a rejected message changes nothing.
 * The peer may describe (SPLIT or KEYS) only a part this side offered in a SPLIT and that it has
 * not described yet, or the root in the opening message: each description answers one offer, and
 * offers are made only below the part described, so a session's work is bounded by this side's
 * tree, however the peer lies about its fingerprints.
 * What a message makes this side say is queued as cheap entries (bytes of small items, or the
 * node of a SPLIT/KEYS description or of a push, made only when a frame has room for it), so the
 * CPU of one `receive` is the walk of the message plus one frame of output. The session has
 * budgets (the queue's length among them), an AbortSignal, and yields to the event loop every
 * PACE_STEPS steps.
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
/** Steps (tree nodes visited, keys read, items made) between two yields to the event loop, at most. */
const PACE_STEPS = 512
/** Steps between two looks at the store's Pacer (src/sync/pacer.ts: at most PACE_MS of steps between two turns of the event loop). */
const PACE_CHECK = 32

/** Limits of one session; going over one is E_BUDGET (docs/SYNC.md). */
export interface ReconcileBudget {
  /** Messages this side receives. @default 10 000 */
  rounds?: number
  /** Keys carried by messages either way (listed in KEYS, pushed in PUSH). @default 2 097 152 */
  keys?: number
  /** Bytes sent and received. @default 128 MiB */
  bytes?: number
  /** Milliseconds from the first `open()` or `receive()`. @default 10 minutes */
  time?: number
  /**
   * Entries queued to send at once (items, parts to describe, subtrees to push), each ~100–200
   * bytes of memory until sent. An honest session queues about one per difference still being
   * settled: at most 10 544 in the test of 105k events with 10k differences. @default 262 144
   */
  outbox?: number
}

/** The budget of a reconciliation whose options name none (each field of `ReconcileBudget` that is left out). */
export const DEFAULT_BUDGET: Required<ReconcileBudget> = { rounds: 10_000, keys: 1 << 21, bytes: 128 << 20, time: 600_000, outbox: 1 << 18 }

/** The options of `db.reconcile`, besides its time range. */
export interface ReconcileOptions {
  /** Aborts the session: `open()`/`receive()` reject with the reason if it is an XaeroError, else E_ABORTED. */
  signal?: AbortSignal
  /** Limits of the session; over one, it fails with E_BUDGET. @default DEFAULT_BUDGET */
  budget?: ReconcileBudget
  /**
   * Whole subtrees one side lacks are named (SUBTREE), not listed key by key: their ids are in
   * neither `need` nor `have`, but their nodes are in `takeFound()`, and the events under them
   * are for the caller to move. Both sides must set it (a SUBTREE to a side without it is
   * E_BAD_MESSAGE). The network sets it: into an empty store, 200 000 keys took 123 round trips
   * and 8 MB before the first event moved (docs/SYNC.md, Subtrees). @default false
   */
  subtrees?: boolean
}

/** What a reconciliation found since the last `takeFound()`. */
export interface Found {
  /** Ids (hex) this side lacks. */
  need: string[]
  /** Ids (hex) the other side lacks. */
  have: string[]
  /** Nodes where this side has nothing and the other side has keys (`subtrees` only). */
  needSubtrees: Addr[]
  /** Nodes where the other side has nothing and this side has keys (`subtrees` only). */
  haveSubtrees: Addr[]
}

/** What a reconciliation has exchanged so far (`Reconciliation.stats`). */
export interface ReconcileStats {
  /** Messages sent (the first, and each reply). */
  rounds: number
  /** Bytes of the messages this side sent. */
  bytesSent: number
  /** Bytes of the messages this side received. */
  bytesReceived: number
  /** Keys carried by the messages, either way. */
  keys: number
  /** Entries queued to send now (at most `budget.outbox`). */
  outbox: number
}

/** A node of a shape: a received one (with the fingerprint) or one this side cuts, with this side's subtree there. */
type Part = ShapeNode & { mine?: Mine }

/** What is queued to send. Descriptions and pushes hold a node, not a subtree: they are made when sent. */
type Outgoing =
  | { kind: 'item'; bytes: Uint8Array; keys: number; listed?: Uint8Array[]; addr?: Addr; offered?: string[] }
  | { kind: 'describe'; addr: Addr; list: number }
  | { kind: 'push'; addr: Addr; skip?: Set<string>; keys?: AsyncGenerator<Uint8Array>; next?: Uint8Array }

/** The effects of one message, committed only if all of it was applied. */
interface Staged { needed: string[]; had: string[]; subtrees: Addr[]; answered: string[]; described: string[]; out: Outgoing[] }

/** One side of a reconciliation. Create with `db.reconcile({ from, to, signal, budget })`. */
export class Reconciliation {
  private readonly needed = new Set<string>()
  private readonly had = new Set<string>()
  /** `needed` and `had` in the order found, and how much of each `takeFound` handed out. */
  private readonly neededInOrder: string[] = []
  private readonly hadInOrder: string[] = []
  private neededTaken = 0
  private hadTaken = 0
  /** Subtrees found so far (`subtrees`), until `takeFound` hands them out. */
  private needSubtrees: Addr[] = []
  private haveSubtrees: Addr[] = []
  private readonly subtrees: boolean
  /** SUBTREE items sent and received so far: at most MAX_SUBTREES each way. */
  private subtreesSent = 0
  private subtreesReceived = 0
  /** What this side has exchanged so far. */
  readonly stats: ReconcileStats = { rounds: 0, bytesSent: 0, bytesReceived: 0, keys: 0, outbox: 0 }
  private outbox: Outgoing[] = []
  private readonly range: KeyRange
  private readonly view: TreeView
  private readonly budget: Required<ReconcileBudget>
  private readonly signal?: AbortSignal
  private salt?: Uint8Array
  private sessionKey?: Uint8Array
  /** Keys this side listed in KEYS, by node, until answered. */
  private readonly listed = new Map<string, Uint8Array[]>()
  /**
   * The parts (fingerprinted leaves) of the SPLITs this side sent, by node, until the peer
   * describes them. Parts the peer found equal stay: at most one entry per node of this side's
   * tree with more than LIST_MAX keys under it, as each part is offered once.
   */
  private readonly offered = new Set<string>()
  private received = 0
  private started?: number
  private steps = 0
  private readonly pacer: Pacer
  private busy = false
  /** While a call runs with the source held: lets waiting writers through (ReconcileSource.hold). */
  private breathe?: (rest: () => Promise<void>) => Promise<void>
  /** Set by an abort or a budget: the session is over and every later call rejects with it. */
  private failure?: XaeroError

  /**
   * @param from earliest timestamp of the range reconciled, inclusive (ms)
   * @param to latest timestamp, exclusive (ms)
   */
  constructor(private readonly source: ReconcileSource, readonly from: number, readonly to: number, options: ReconcileOptions = {}) {
    if (typeof options !== 'object' || options === null) throw new TypeError('reconcile options must be an object')
    const { signal, budget = {}, subtrees = false } = options
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError('signal must be an AbortSignal')
    if (typeof budget !== 'object' || budget === null) throw new TypeError('budget must be an object')
    for (const [name, v] of Object.entries(budget)) {
      if (!(name in DEFAULT_BUDGET)) throw new TypeError(`unknown budget ${name}`)
      if (v !== undefined && (typeof v !== 'number' || !(v > 0) || (v !== Infinity && !Number.isSafeInteger(v)))) throw new RangeError(`budget.${name} must be a whole number > 0 or Infinity`)
    }
    this.budget = { ...DEFAULT_BUDGET, ...Object.fromEntries(Object.entries(budget).filter(([, v]) => v !== undefined)) }
    this.signal = signal
    this.subtrees = subtrees === true
    this.range = new KeyRange(from, to)
    this.pacer = source.pacer ?? new Pacer()
    this.view = new TreeView(source, this.range)
  }

  /** Ids (hex) this side lacks. */
  get need(): string[] { return this.neededInOrder.slice() }
  /** Ids (hex) the other side lacks. */
  get have(): string[] { return this.hadInOrder.slice() }

  /**
   * What was found since the last call, each once, in the order found: the ids added to `need`
   * and `have`, and the subtrees (with `subtrees`). A transport can move their events while the
   * reconciliation goes on, rather than after its last message (src/net/session.ts).
   */
  takeFound(): Found {
    const found: Found = {
      need: this.neededInOrder.slice(this.neededTaken), have: this.hadInOrder.slice(this.hadTaken),
      needSubtrees: this.needSubtrees, haveSubtrees: this.haveSubtrees,
    }
    this.neededTaken = this.neededInOrder.length
    this.hadTaken = this.hadInOrder.length
    this.needSubtrees = []
    this.haveSubtrees = []
    return found
  }

  /**
   * The first message: a SPLIT of this side's whole set (its keys if there are few, a request for
   * everything if there are none). Equal sets settle at once; otherwise the other side already
   * answers one level down.
   */
  open(): Promise<Uint8Array> {
    return this.guard(async () => {
      if (this.salt) throw new TypeError('a reconciliation opens once, before it receives')
      this.setSalt(globalThis.crypto.getRandomValues(new Uint8Array(SALT)))
      this.outbox.push({ kind: 'describe', addr: { bits: 0, prefix: new Uint8Array(0) }, list: LIST_MAX })
      return this.send(false)
    })
  }

  /**
   * Turns the other side's message into the reply; undefined when nothing is left to say. A
   * message that is rejected (E_BAD_MESSAGE) changes nothing; after E_BUDGET or an abort the
   * session is over.
   */
  receive(message: Uint8Array): Promise<Uint8Array | undefined> {
    return this.guard(async () => {
      if (!(message instanceof Uint8Array)) throw new TypeError('a message is bytes')
      this.spend('rounds', this.received + 1)
      this.spend('bytes', this.stats.bytesSent + this.stats.bytesReceived + message.length)
      const { more, salt, items } = parseMessage(message, { from: this.from, to: this.to, salt: this.salt, outside: (a) => this.range.outside(a) })
      const opening = !this.salt // the peer's first message, and this side did not open
      const described: string[] = []
      let keys = 0, subtrees = 0
      for (const item of items) {
        if (item.type === KEYS || item.type === PUSH) keys += item.keys.length
        if (item.type === SUBTREE) {
          if (!this.subtrees) throw bad('a SUBTREE in a session without subtrees')
          if (this.subtreesReceived + ++subtrees > MAX_SUBTREES) throw bad(`more than ${MAX_SUBTREES} subtrees named`)
          keys++ // a subtree's node is kept until taken: the keys budget bounds them too
        }
        if (item.type === ANSWER && this.listed.get(nodeId(item))?.length !== item.count) throw bad('an answer to keys never listed')
        if (item.type === SPLIT || item.type === KEYS) {
          const id = nodeId(item)
          if (opening ? item.bits !== 0 : !this.offered.has(id)) throw bad('a description of a part this side did not offer, or offered and saw described already')
          described.push(id)
        }
      }
      this.spend('keys', this.stats.keys + keys)
      if (!this.salt) this.setSalt(salt)
      const staged = await this.apply(items)
      staged.described = described
      this.spend('outbox', this.outbox.length + staged.out.length)
      if (this.failure) throw this.failure // aborted while applying: nothing is committed
      // commit
      for (const id of staged.needed) addOnce(this.needed, this.neededInOrder, id)
      for (const id of staged.had) addOnce(this.had, this.hadInOrder, id)
      for (const addr of staged.subtrees) this.needSubtrees.push(addr)
      this.subtreesReceived += subtrees
      for (const id of staged.answered) this.listed.delete(id)
      for (const id of staged.described) this.offered.delete(id)
      for (const out of staged.out) this.outbox.push(out)
      this.received++
      this.stats.bytesReceived += message.length
      this.stats.keys += keys
      if (this.outbox.length === 0 && !more) { this.stats.outbox = 0; return undefined }
      return this.send(true)
    })
  }

  // --- guards: one call at a time, abort, budgets -------------------------------------------------

  /** Runs a call: rejects at once on a failed session or an aborted signal, and as soon as the signal aborts. */
  private async guard<T>(work: () => Promise<T>): Promise<T> {
    if (this.busy) throw new TypeError('a reconciliation handles one call at a time')
    this.check()
    this.started ??= performance.now()
    this.busy = true
    // A call starts a task of its own (a message came in): the clock of the pauses starts again.
    this.pacer.turned()
    const signal = this.signal
    let onAbort: (() => void) | undefined
    try {
      const running = this.source.hold ? this.source.hold((breathe) => { this.breathe = breathe; return work() }) : work()
      if (!signal) return await running
      const aborted = new Promise<never>((_, reject) => {
        onAbort = () => reject(this.fail(abortError(signal.reason)))
        signal.addEventListener('abort', onAbort, { once: true })
      })
      running.catch(() => {}) // if the abort wins, the work stops at its next step; its error is the abort's
      return await Promise.race([running, aborted])
    } finally {
      if (onAbort) signal!.removeEventListener('abort', onAbort)
      this.busy = false
      this.breathe = undefined
    }
  }

  /** Throws if the session failed, was aborted, or ran out of time. */
  private check(): void {
    if (this.failure) throw this.failure
    if (this.signal?.aborted) throw this.fail(abortError(this.signal.reason))
    if (this.started !== undefined) this.spend('time', performance.now() - this.started)
  }

  private spend(budget: keyof ReconcileBudget, used: number): void {
    const limit = this.budget[budget]
    if (used > limit) throw this.fail(new XaeroError('E_BUDGET', `reconciliation: over its ${budget} budget (${limit})`, { details: { budget, limit } }))
  }

  private fail(error: XaeroError): XaeroError {
    this.failure ??= error
    return this.failure
  }

  /**
   * Counts a step of work; every PACE_STEPS steps, and when the store's reconciliations have used
   * up their time (Pacer), lets the event loop run (other peers, the store's own pushes) and the
   * index's writers through, and checks abort and time.
   */
  private async pace(): Promise<void> {
    if (++this.steps % PACE_CHECK !== 0) return
    const due = this.pacer.due
    if (this.steps % PACE_STEPS !== 0 && !due) return
    const rest = due ? () => this.pacer.pause() : async () => { await yieldToEventLoop(); this.pacer.turned() }
    // The tree is let go for the pause, not after it: a store without a write-ahead log (in
    // memory, IndexedDB) acknowledges an append once it is indexed, so its index batch, and the
    // live push that follows it, waited for the whole pause (test/net-hostile.test.ts).
    await (this.breathe ? this.breathe(rest) : rest())
    this.check()
  }


  // --- what each item asks of this side ---------------------------------------------------------

  /** Applies a checked message's items to a staging area: nothing of this side changes here (but the view's cache). */
  private async apply(items: Item[]): Promise<Staged> {
    const staged: Staged = { needed: [], had: [], subtrees: [], answered: [], described: [], out: [] }
    const differ: Part[] = []
    for (const item of items) await this.handle(item, differ, staged)
    const list = Math.max(LIST_MAX, Math.min(LIST_WIDE, Math.floor(LIST_BUDGET / (KEY_SIZE * differ.length))))
    for (const s of differ) staged.out.push({ kind: 'describe', addr: { bits: s.bits, prefix: s.prefix }, list })
    return staged
  }

  /** Acts on one item; the parts of a SPLIT that differ are left in `differ`, to be described. */
  private async handle(item: Item, differ: Part[], staged: Staged): Promise<void> {
    await this.pace()
    if (this.range.outside(item)) return
    switch (item.type) {
      case SPLIT: {
        const leaves: Part[] = [], mine = await this.view.locate(item)
        await this.readAhead(item.shape, mine)
        await this.walk(item.shape, mine, leaves, staged)
        const fps = this.fingerprints(leaves.map((s) => valueOf(s.mine!)))
        leaves.forEach((s, i) => { if (!equalBytes(fps.subarray(i * FP_SIZE, (i + 1) * FP_SIZE), s.fp!)) differ.push(s) })
        return
      }
      case KEYS: {
        const theirs = item.keys.filter((k) => this.range.has(k))
        const stored = await this.view.hasKeys(theirs)
        const lacking = new Set<string>()
        theirs.forEach((k, i) => { if (!stored[i]) { lacking.add(toHex(k)); staged.needed.push(toHex(k.subarray(8))) } })
        if (lacking.size > 0) staged.out.push({ kind: 'item', bytes: encodeAnswer(item, item.keys.length, (i) => lacking.has(toHex(item.keys[i]))), keys: 0 })
        const mine = await this.view.locate(item)
        if (mine.t !== 0) staged.out.push({ kind: 'push', addr: { bits: item.bits, prefix: item.prefix }, skip: new Set(theirs.map(toHex)) })
        return
      }
      case ANSWER: {
        const id = nodeId(item), keys = this.listed.get(id)! // checked before applying
        staged.answered.push(id)
        keys.forEach((k, i) => { if (item.bitmap[i >> 3] & (0x80 >> (i & 7))) staged.had.push(toHex(k.subarray(8))) })
        return
      }
      case PUSH: {
        const theirs = item.keys.filter((k) => this.range.has(k))
        const stored = await this.view.hasKeys(theirs)
        theirs.forEach((k, i) => { if (!stored[i]) staged.needed.push(toHex(k.subarray(8))) })
        return
      }
      case SUBTREE:
        staged.subtrees.push({ bits: item.bits, prefix: item.prefix })
    }
  }

  /**
   * Walks the other side's shape alongside this side's tree: where it has nothing and this side
   * has keys, they are pushed; at a part where this side has nothing, everything is asked for
   * (at each part, not at a node above them: the peer accepts descriptions of its parts only);
   * the other parts are gathered with this side's subtree there, to compare fingerprints.
   */
  private async walk(s: Part, mine: Mine, leaves: Part[], staged: Staged): Promise<void> {
    await this.pace()
    if (this.range.outside(s)) return
    if (!s.kids) {
      if (mine.t === 0) staged.out.push(keysItem(s, []))
      else { s.mine = mine; leaves.push(s) }
      return
    }
    for (const c of [0, 1]) {
      const kid = s.kids[c], addr = kid ?? new Node(s.bits + 1, s, c)
      const sub = await this.view.child(mine, s.bits, c)
      if (kid) await this.walk(kid, sub, leaves, staged)
      else if (sub.t !== 0 && !this.range.outside(addr)) staged.out.push({ kind: 'push', addr: { bits: addr.bits, prefix: addr.prefix } })
    }
  }

  /**
   * Reads this side's pages under a SPLIT's shape a level of the shape at a time, each level's in
   * one batch, before `walk` descends it node by node (and finds them read).
   */
  private async readAhead(shape: Part, mine: Mine): Promise<void> {
    let level: Array<[Part, Mine]> = [[shape, mine]]
    while (level.length > 0) {
      await this.view.readChildren(level.map(([, m]) => m))
      const next: Array<[Part, Mine]> = []
      for (const [s, m] of level) {
        if (!s.kids || m.t === 0 || this.range.outside(s)) continue
        await this.pace()
        for (const c of [0, 1]) if (s.kids[c]) next.push([s.kids[c]!, await this.view.child(m, s.bits, c)])
      }
      level = next
    }
  }

  /** What this side has under a node that differs: its keys if few, else a SPLIT. */
  private async describe(addr: Addr, list: number): Promise<Outgoing & { kind: 'item' }> {
    const mine = await this.view.locate(addr)
    if (mine.t === 0) return keysItem(addr, [])
    const few: Uint8Array[] = []
    for await (const key of this.view.keysOf(mine)) { await this.pace(); few.push(key); if (few.length > list) break }
    if (few.length <= list) return keysItem(addr, few)
    return { kind: 'item', keys: 0, ...await this.split(addr, mine) }
  }

  /**
   * A SPLIT of this side's subtree at `addr`: starting from it, the shallowest part with two or
   * more keys is cut in two (a part with one non-empty half just gets longer, for free) until
   * FRONTIER parts; the shape says which halves are empty, and each part in range gets a
   * fingerprint. `offered`: those parts, which the peer may describe once each.
   */
  private async split(addr: Addr, mine: Mine): Promise<{ bytes: Uint8Array; offered: string[] }> {
    const root: Part = new ShapeNode(addr.bits, undefined, 0, addr.prefix)
    root.mine = mine
    const byDepth: Part[][] = []
    const expandable = (s: Part) => s.mine!.t === 2 && !this.range.outside(s)
    const add = (s: Part) => { (byDepth[s.bits] ??= []).push(s) }
    if (expandable(root)) add(root)
    let parts = 1, nodes = 1, depth = addr.bits, readDepth = -1
    while (depth < KEY_BITS && nodes + 2 <= MAX_SHAPE) {
      if (readDepth !== depth) { readDepth = depth; await this.view.readChildren((byDepth[depth] ?? []).map((s) => s.mine!)) }
      const s = byDepth[depth]?.pop()
      if (!s) { depth++; continue }
      await this.pace()
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
    return { bytes: encodeSplit(addr, shape, this.fingerprints(leaves.map((s) => valueOf(s.mine!)))), offered: leaves.map(nodeId) }
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

  /**
   * The next frame: queued entries in order, as many as fit in MAX_MESSAGE bytes and
   * MAX_MESSAGE_KEYS keys. A description is made when its turn comes (and kept if it does not fit);
   * a push reads its keys lazily and goes on in the next frame.
   */
  private async send(reply: boolean): Promise<Uint8Array> {
    const parts: Uint8Array[] = []
    let size = HEADER, keysIn = 0, done = 0
    while (done < this.outbox.length) {
      await this.pace()
      const queued = this.outbox[done]
      const out = queued.kind === 'describe' ? (this.outbox[done] = await this.describe(queued.addr, queued.list)) : queued
      if (out.kind === 'item') {
        if (size + out.bytes.length > MAX_MESSAGE || keysIn + out.keys > MAX_MESSAGE_KEYS) break
        parts.push(out.bytes)
        size += out.bytes.length
        keysIn += out.keys
        if (out.listed) this.listed.set(nodeId(out.addr!), out.listed)
        if (out.offered) for (const id of out.offered) this.offered.add(id)
        done++
        continue
      }
      if (this.subtrees && !out.skip?.size && this.subtreesSent < MAX_SUBTREES) {
        // The peer has nothing under this node: named, not listed (its events move outside).
        const bytes = encodeItem(SUBTREE, out.addr, new Uint8Array(0))
        if (size + bytes.length > MAX_MESSAGE || keysIn + 1 > MAX_MESSAGE_KEYS) break
        parts.push(bytes)
        size += bytes.length
        keysIn++
        this.subtreesSent++
        this.haveSubtrees.push(out.addr)
        done++
        continue
      }
      // Keys to push, as many as fit: the rest waits for the next message.
      const skip = out.addr.bits >> 3, head = itemHead(out.addr) + 2
      const room = Math.min(Math.floor((MAX_MESSAGE - size - head) / (KEY_SIZE - skip)), MAX_MESSAGE_KEYS - keysIn)
      if (room < 1) break
      out.keys ??= this.view.keysOf(await this.view.locate(out.addr))
      const keys: Uint8Array[] = []
      while (keys.length < room) {
        await this.pace()
        const key = out.next ?? (await out.keys.next()).value
        out.next = undefined
        if (!key) break
        if (!out.skip?.has(toHex(key))) keys.push(key)
      }
      if (keys.length > 0) {
        for (const k of keys) addOnce(this.had, this.hadInOrder, toHex(k.subarray(8)))
        const bytes = encodeKeys(PUSH, out.addr, keys)
        parts.push(bytes)
        size += bytes.length
        keysIn += keys.length
      }
      if (keys.length === room) {
        const next = (await out.keys.next()).value
        if (next) { out.next = next; break }
      }
      done++
    }
    this.outbox = this.outbox.slice(done)
    this.stats.outbox = this.outbox.length
    const message = encodeMessage(this.outbox.length > 0, this.from, this.to, this.salt!, parts)
    this.spend('bytes', this.stats.bytesSent + this.stats.bytesReceived + message.length)
    this.spend('keys', this.stats.keys + keysIn)
    this.check()
    this.stats.bytesSent += message.length
    this.stats.keys += keysIn
    if (reply || this.stats.rounds === 0) this.stats.rounds++
    return message
  }
}

function addOnce(set: Set<string>, inOrder: string[], id: string): void {
  if (set.has(id)) return
  set.add(id)
  inOrder.push(id)
}

/** A KEYS item listing `keys` at a node (remembered as listed once sent, to check the answer). */
function keysItem(addr: Addr, keys: Uint8Array[]): Outgoing & { kind: 'item' } {
  const copy = { bits: addr.bits, prefix: addr.prefix }
  return { kind: 'item', bytes: encodeKeys(KEYS, copy, keys), keys: keys.length, ...(keys.length > 0 ? { listed: keys, addr: copy } : {}) }
}

function abortError(reason: unknown): XaeroError {
  return reason instanceof XaeroError ? reason : new XaeroError('E_ABORTED', 'the reconciliation was aborted', { cause: reason })
}

