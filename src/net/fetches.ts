// Which peer to fetch an announced event from (docs/NETWORK.md, Live push). A store relays the
// events it received by id (HAVE); a neighbour fetches each id it lacks from one of the peers that
// announced it, so that it receives the envelope about once, however many neighbours have it.
//
// Each id is fetched from the first peer that announced it; the next few that announce it are
// kept as fallbacks. A fetch that does not arrive within FETCH_MS (the peer is slow, lied, its
// queue overflowed, or it announced more than it remembers before the fetch came) or whose peer's
// session closed goes to the next fallback. With none left, it is given up, and a sync with the
// last peer asked repairs what it held (the Merkle sync, as for a gap in its pushes).

/** A fetch not answered in this long goes to another peer that announced the id. */
export const FETCH_MS = 5_000
/** Ids pending from one peer at most: a peer announcing ids it never serves holds no more (the rest of what it announces is not fetched from it). */
export const FETCHES_PER_PEER = 4_096
/** Other peers remembered per pending id, to fetch from if the first does not serve it. */
export const FALLBACKS = 3

interface Pending { from: string; since: number; others: string[] }

export class Fetches {
  private readonly pending = new Map<string, Pending>()
  private readonly perPeer = new Map<string, number>()

  /** `held(id)`: whether the store holds the event or is storing it now (it is not fetched). */
  constructor(private readonly held: (id: string) => boolean, private readonly timeoutMs = FETCH_MS) {}

  /** Ids pending now. */
  get size(): number { return this.pending.size }

  /** Of the ids `peer` announced, those to fetch from it now (neither held, nor pending from another peer). */
  claim(ids: readonly string[], peer: string): string[] {
    const out: string[] = [], now = performance.now()
    for (const id of ids) {
      if (this.held(id)) continue
      const p = this.pending.get(id)
      if (p) {
        if (p.from !== peer && p.others.length < FALLBACKS && !p.others.includes(peer)) p.others.push(peer)
        continue
      }
      if ((this.perPeer.get(peer) ?? 0) >= FETCHES_PER_PEER) continue
      this.pending.set(id, { from: peer, since: now, others: [] })
      this.count(peer, 1)
      out.push(id)
    }
    return out
  }

  /** The store indexed these (from whichever peer): no longer pending. */
  arrived(ids: Iterable<string>): void {
    for (const id of ids) {
      const p = this.pending.get(id)
      if (!p) continue
      this.pending.delete(id)
      this.count(p.from, -1)
    }
  }

  /**
   * Moves fetches to their next fallback with an open session (`open`), or gives them up: those
   * pending from `lost` (its session closed) when given, else those pending longer than the
   * timeout. Returns the ids to fetch now, by peer, and the peers to sync with: each one asked
   * last for a fetch given up, if its session is open.
   */
  reassign(open: (peer: string) => boolean, lost?: string): { fetch: Map<string, string[]>; repair: Set<string> } {
    const out = new Map<string, string[]>(), repair = new Set<string>(), now = performance.now()
    for (const [id, p] of this.pending) {
      if (lost !== undefined ? p.from !== lost : now - p.since < this.timeoutMs) continue
      this.count(p.from, -1)
      let next: string | undefined
      while ((next = p.others.shift()) !== undefined && !open(next));
      if (next === undefined || (this.perPeer.get(next) ?? 0) >= FETCHES_PER_PEER) {
        this.pending.delete(id)
        if (p.from !== lost && open(p.from)) repair.add(p.from)
        continue
      }
      p.from = next
      p.since = now
      this.count(next, 1)
      const list = out.get(next)
      if (list) list.push(id)
      else out.set(next, [id])
    }
    return { fetch: out, repair }
  }

  private count(peer: string, by: number): void {
    const n = (this.perPeer.get(peer) ?? 0) + by
    if (n > 0) this.perPeer.set(peer, n)
    else this.perPeer.delete(peer)
  }
}
