import { KEY_SIZE } from '../core/exports.js'
import { XaeroError } from '../errors.js'
import { toHex } from '../hex.js'
import { compareKeys, equalBytes, prefixPosition, startsWith, timeBound } from './keys.js'

/**
 * Set reconciliation over the paged Merkle index (docs/SYNC.md): two sides exchange messages,
 * each turning the other's into its reply, descending only into subtrees whose hashes differ,
 * until each knows the keys it lacks (`need`) and the keys the other lacks (`have`).
 *
 * Message, version 1:
 *   version u8 = 1 | flags u8 (1 = more to come: answer even if empty) | from u64 | to u64 |
 *   items u16 | items
 * Item: type u8 | depth u8 | prefix (depth bytes) | body
 *   HASH      hash (32)                         my subtree under prefix hashes to this
 *   CHILDREN  count u16, count × (byte u8, hash 32)  my page at prefix has these non-empty children
 *   KEYS      count u16, count × key (40)       all my keys under prefix (answer with yours)
 *   ANSWER    count u16, count × key (40)       all my keys under prefix, in answer to KEYS
 */
export const HASH = 1, CHILDREN = 2, KEYS = 3, ANSWER = 4

/** Largest message accepted or sent. */
export const MAX_MESSAGE = 64 * 1024
const HEADER = 2 + 8 + 8 + 2
/** A subtree with at most this many keys is settled by listing them. */
const LIST_BELOW = 8

/** What one side knows of its own set; the store implements it over its tree and events. */
export interface ReconcileSource {
  /** The slot for everything under `prefix` (depth = prefix.length): EMPTY, a leaf's key, or a page's children. */
  slot(prefix: Uint8Array): Promise<{ kind: 'empty' } | { kind: 'leaf'; key: Uint8Array; hash: Uint8Array } | { kind: 'page'; hash: Uint8Array; children: Array<[number, Uint8Array]> }>
  /** Keys under `prefix`, in order, at most `limit`. */
  keysUnder(prefix: Uint8Array, limit?: number): Promise<Uint8Array[]>
  /** Which of these keys are stored. */
  hasKeys(keys: Uint8Array[]): Promise<boolean[]>
}

type Item =
  | { type: typeof HASH; prefix: Uint8Array; hash: Uint8Array }
  | { type: typeof CHILDREN; prefix: Uint8Array; children: Array<[number, Uint8Array]> }
  | { type: typeof KEYS | typeof ANSWER; prefix: Uint8Array; keys: Uint8Array[] }

const EMPTY_HASH = new Uint8Array(32)

export interface ReconcileStats { rounds: number; bytesSent: number; bytesReceived: number }

/** One side of a reconciliation. Create with `db.reconcile({ from, to })`. */
export class Reconciliation {
  private readonly needed = new Set<string>()
  private readonly had = new Set<string>()
  readonly stats: ReconcileStats = { rounds: 0, bytesSent: 0, bytesReceived: 0 }
  private outbox: Item[] = []
  private readonly lo: Uint8Array
  private readonly hi: Uint8Array

  constructor(private readonly source: ReconcileSource, readonly from: number, readonly to: number) {
    this.lo = timeBound(from)
    this.hi = timeBound(to)
  }

  /** Ids (hex) this side lacks. */
  get need(): string[] { return [...this.needed] }
  /** Ids (hex) the other side lacks. */
  get have(): string[] { return [...this.had] }

  /** The first message: this side's root, or its root page when the range cuts through it. */
  async open(): Promise<Uint8Array> {
    await this.describe(new Uint8Array(0))
    return this.send(false)
  }

  /** Turns the other side's message into the reply; undefined when nothing is left to say. */
  async receive(message: Uint8Array): Promise<Uint8Array | undefined> {
    const { more, items } = this.parse(message)
    this.stats.bytesReceived += message.length
    for (const item of items) await this.handle(item)
    if (this.outbox.length === 0 && !more) return undefined
    return this.send(true)
  }

  // --- what each item asks of this side ---------------------------------------------------------

  private async handle(item: Item): Promise<void> {
    if (this.position(item.prefix) === 'outside') return
    if (item.type === HASH) {
      const mine = await this.source.slot(item.prefix)
      if (!equalBytes(slotHash(mine), item.hash)) await this.describe(item.prefix, mine)
    } else if (item.type === CHILDREN) {
      const mine = await this.source.slot(item.prefix)
      const theirs = new Map(item.children.map(([b, h]) => [b, h]))
      const ours = new Map(mine.kind === 'page' ? mine.children : [])
      if (mine.kind === 'leaf') ours.set(mine.key[item.prefix.length], mine.hash)
      for (let b = 0; b < 256; b++) {
        const t = theirs.get(b), o = ours.get(b)
        if (!t && !o) continue
        const child = extend(item.prefix, b)
        if (this.position(child) === 'outside') continue
        if (t && o && equalBytes(t, o)) continue // equal subtrees: nothing to learn there
        await this.describe(child)
      }
    } else {
      const theirs = item.keys.filter((k) => this.inRange(k))
      const stored = await this.source.hasKeys(theirs)
      theirs.forEach((k, i) => { if (!stored[i]) this.needed.add(toHex(k.subarray(8))) })
      const few = await this.source.keysUnder(item.prefix, LIST_BELOW + 1)
      if (few.length > LIST_BELOW) {
        // Too many here to list: the other side walks down this subtree instead.
        if (item.type === KEYS) await this.describe(item.prefix)
        return
      }
      const known = new Set(theirs.map(toHex))
      for (const k of few) if (this.inRange(k) && !known.has(toHex(k))) this.had.add(toHex(k.subarray(8)))
      if (item.type === KEYS) this.outbox.push({ type: ANSWER, prefix: item.prefix, keys: few })
    }
  }

  /** Queues what this side has under `prefix`: its keys if few, else its hash or its children. */
  private async describe(prefix: Uint8Array, known?: Awaited<ReturnType<ReconcileSource['slot']>>): Promise<void> {
    const mine = known ?? await this.source.slot(prefix)
    const inside = this.position(prefix) === 'inside'
    if (mine.kind === 'page') {
      const few = await this.source.keysUnder(prefix, LIST_BELOW + 1)
      if (few.length <= LIST_BELOW) this.outbox.push({ type: KEYS, prefix, keys: few })
      else if (inside && prefix.length === 0) this.outbox.push({ type: HASH, prefix, hash: mine.hash })
      else this.outbox.push({ type: CHILDREN, prefix, children: mine.children })
    } else {
      this.outbox.push({ type: KEYS, prefix, keys: mine.kind === 'leaf' ? [mine.key] : [] })
    }
  }

  // --- messages --------------------------------------------------------------------------------

  private send(reply: boolean): Uint8Array {
    const parts: Uint8Array[] = []
    let size = HEADER, n = 0
    while (n < this.outbox.length) {
      const bytes = encodeItem(this.outbox[n])
      if (size + bytes.length > MAX_MESSAGE) {
        if (n === 0) throw new Error('an item larger than a message') // CHILDREN ≤ 8.5 KB, KEYS are split below
        break
      }
      parts.push(bytes)
      size += bytes.length
      n++
    }
    this.outbox = this.outbox.slice(n)
    const out = new Uint8Array(size)
    const dv = new DataView(out.buffer)
    out[0] = 1
    out[1] = this.outbox.length > 0 ? 1 : 0
    dv.setFloat64(2, this.from)
    dv.setFloat64(10, this.to)
    dv.setUint16(18, n)
    let at = HEADER
    for (const p of parts) { out.set(p, at); at += p.length }
    this.stats.bytesSent += out.length
    if (reply || this.stats.rounds === 0) this.stats.rounds++
    return out
  }

  private parse(message: Uint8Array): { more: boolean; items: Item[] } {
    const bad = (why: string) => new XaeroError('E_BAD_MESSAGE', `reconciliation message: ${why}`)
    if (!(message instanceof Uint8Array)) throw new TypeError('a message is bytes')
    if (message.length > MAX_MESSAGE) throw bad(`${message.length} bytes is over ${MAX_MESSAGE}`)
    if (message.length < HEADER) throw bad('truncated header')
    if (message[0] !== 1) throw bad(`version ${message[0]}`)
    if (message[1] > 1) throw bad('unknown flags')
    const dv = new DataView(message.buffer, message.byteOffset, message.byteLength)
    if (dv.getFloat64(2) !== this.from || dv.getFloat64(10) !== this.to) throw bad('the sides reconcile different ranges')
    const count = dv.getUint16(18)
    const items: Item[] = []
    let at = HEADER
    const need = (n: number) => { if (at + n > message.length) throw bad('truncated item'); const from = at; at += n; return from }
    for (let i = 0; i < count; i++) {
      const type = message[need(1)], depth = message[need(1)]
      if (depth >= KEY_SIZE) throw bad(`depth ${depth}`)
      const prefix = message.slice(need(depth), at)
      if (type === HASH) items.push({ type, prefix, hash: message.slice(need(32), at) })
      else if (type === CHILDREN) {
        const n = dv.getUint16(need(2))
        if (n > 256) throw bad('more than 256 children')
        const children: Array<[number, Uint8Array]> = []
        for (let j = 0; j < n; j++) {
          const b = message[need(1)]
          if (j > 0 && b <= children[j - 1][0]) throw bad('children out of order')
          children.push([b, message.slice(need(32), at)])
        }
        items.push({ type, prefix, children })
      } else if (type === KEYS || type === ANSWER) {
        const n = dv.getUint16(need(2))
        const keys: Uint8Array[] = []
        for (let j = 0; j < n; j++) {
          const key = message.slice(need(KEY_SIZE), at)
          if (!startsWith(key, prefix)) throw bad('a key outside its prefix')
          keys.push(key)
        }
        items.push({ type, prefix, keys })
      } else throw bad(`item type ${type}`)
    }
    if (at !== message.length) throw bad('trailing bytes')
    return { more: message[1] === 1, items }
  }

  // --- the time range ----------------------------------------------------------------------------

  private inRange(key: Uint8Array): boolean {
    return compareKeys(key, this.lo) >= 0 && compareKeys(key, this.hi) < 0
  }

  private position(prefix: Uint8Array): 'inside' | 'outside' | 'straddles' {
    return prefixPosition(prefix, this.lo, this.hi)
  }
}

function encodeItem(item: Item): Uint8Array {
  const head = 2 + item.prefix.length
  const body = item.type === HASH ? 32 : item.type === CHILDREN ? 2 + item.children.length * 33 : 2 + item.keys.length * KEY_SIZE
  const out = new Uint8Array(head + body)
  out[0] = item.type
  out[1] = item.prefix.length
  out.set(item.prefix, 2)
  const dv = new DataView(out.buffer)
  if (item.type === HASH) out.set(item.hash, head)
  else if (item.type === CHILDREN) {
    dv.setUint16(head, item.children.length)
    item.children.forEach(([b, h], i) => { out[head + 2 + i * 33] = b; out.set(h, head + 3 + i * 33) })
  } else {
    dv.setUint16(head, item.keys.length)
    item.keys.forEach((k, i) => out.set(k, head + 2 + i * KEY_SIZE))
  }
  return out
}

function slotHash(slot: Awaited<ReturnType<ReconcileSource['slot']>>): Uint8Array {
  return slot.kind === 'empty' ? EMPTY_HASH : slot.hash
}

function extend(prefix: Uint8Array, b: number): Uint8Array {
  const out = new Uint8Array(prefix.length + 1)
  out.set(prefix)
  out[prefix.length] = b
  return out
}
