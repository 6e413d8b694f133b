// The subtrees a peer named in one sync (SUBTREE items: nodes where it has events and this side
// has none), and whether an event it sends unasked lies under one of them (docs/NETWORK.md, Sync).
//
// A peer names up to MAX_SUBTREES nodes a sync (src/sync/codec.ts), over any number of messages.
// They are kept as sorted runs, each at least twice the size of the next (the logarithmic method):
// adding k nodes to S costs O(k log S) over the sync, and a lookup binary-searches each of at
// most log2 S runs. One sorted list merged with each message's nodes cost O(S) a message instead:
// a peer naming 13 000 nodes a message, up to the keys budget (2M), made that 127 s of CPU in
// all, 2.9 s in one merge, and 3 GB of garbage (measured on a 2-core AMD EPYC, Node 20).
//
// Keys are compared as lowercase hex, whose order is the bytes' order: an event's key is the hex
// of its timestamp followed by its id, which the session has as hex already.
import { KEY_SIZE } from '../core/exports.js'
import { toHex, toHexPrefix } from '../hex.js'
import { nodeEnd, type Addr } from '../sync/codec.js'

/** Past every key's hex: the upper bound of a node that reaches the end of the key space. */
const END = 'g'
/** Scratch for a node's end (`nodeEnd`). */
const end = new Uint8Array(KEY_SIZE)

/** Nodes sorted by their first key: `lo[i]` is the hex of node i's first key, `hi[i]` of the first key past it (trailing zeros left off). */
interface Run { lo: string[]; hi: string[] }

export class NamedSubtrees {
  private readonly runs: Run[] = []
  private count = 0

  /** Subtrees named so far. */
  get size(): number { return this.count }
  /** The sorted runs a lookup searches: at most log2(size) + 1. */
  get runCount(): number { return this.runs.length }

  /** Adds the nodes of one message. */
  add(nodes: readonly Addr[]): void {
    if (nodes.length === 0) return
    // A node's bounds are its prefix and the prefix past it, in hex without trailing zeros: an
    // 80-digit key compares with them as with the whole 40-byte bounds, and making those cost
    // ~2 µs a node (22 ms for a 64 KiB message of 10 922 nodes; measured on a 2-core AMD EPYC).
    let lo = nodes.map((addr) => toHexPrefix(addr.prefix, (addr.bits + 7) >> 3))
    let hi = nodes.map((addr) => { const n = nodeEnd(addr, end); return n > 0 ? toHexPrefix(end, n) : END })
    // An honest side names its nodes in key order: sorted already.
    if (!lo.every((x, i) => i === 0 || lo[i - 1] <= x)) {
      const order = lo.map((_, i) => i).sort((x, y) => (lo[x] < lo[y] ? -1 : lo[x] > lo[y] ? 1 : 0))
      lo = order.map((i) => lo[i])
      hi = order.map((i) => hi[i])
    }
    this.runs.push({ lo, hi })
    this.count += nodes.length
    for (let n = this.runs.length; n >= 2 && this.runs[n - 2].lo.length < 2 * this.runs[n - 1].lo.length; n--) {
      this.runs.splice(n - 2, 2, merge(this.runs[n - 2], this.runs[n - 1]))
    }
  }

  /**
   * Whether the key whose hex is `key` lies under a named node. Nodes an honest peer names are
   * disjoint; of overlapping ones only the last starting at or before the key is tried, so a peer
   * that names overlapping nodes can only have its own events refused.
   */
  has(key: string): boolean {
    for (const { lo, hi } of this.runs) {
      let a = 0, b = lo.length
      while (a < b) { const m = (a + b) >> 1; if (lo[m] <= key) a = m + 1; else b = m }
      if (a > 0 && key < hi[a - 1]) return true
    }
    return false
  }
}

/** The hex key of an envelope (its timestamp, bytes 4–11, then its id). */
export function envelopeKeyHex(envelope: Uint8Array, id: string): string {
  return toHex(envelope.subarray(4, 12)) + id
}

function merge(x: Run, y: Run): Run {
  // An honest side names its nodes in key order, message after message: one run follows the other.
  if (x.lo[x.lo.length - 1] <= y.lo[0]) return { lo: x.lo.concat(y.lo), hi: x.hi.concat(y.hi) }
  if (y.lo[y.lo.length - 1] <= x.lo[0]) return { lo: y.lo.concat(x.lo), hi: y.hi.concat(x.hi) }
  const lo = new Array<string>(x.lo.length + y.lo.length), hi = new Array<string>(lo.length)
  let i = 0, j = 0, k = 0
  while (i < x.lo.length && j < y.lo.length) {
    if (x.lo[i] <= y.lo[j]) { lo[k] = x.lo[i]; hi[k++] = x.hi[i++] } else { lo[k] = y.lo[j]; hi[k++] = y.hi[j++] }
  }
  for (; i < x.lo.length; i++) { lo[k] = x.lo[i]; hi[k++] = x.hi[i] }
  for (; j < y.lo.length; j++) { lo[k] = y.lo[j]; hi[k++] = y.hi[j] }
  return { lo, hi }
}
