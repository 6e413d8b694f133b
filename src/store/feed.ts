// Fan-out of newly indexed events: the app's subscriptions (`db.subscribe`) and the store's own
// listeners (the network layer), which also learn where each event came from.
import type { Event } from '../event.js'
import { toHex } from '../hex.js'
import { checkRange, type RangeOptions } from './queries.js'

/**
 * Where an indexed event came from: appended by this store, ingested by the app, found in the
 * write-ahead log at open, or received from a peer (its id), so that a network layer passes on
 * what it did not receive from that same peer.
 */
export type Origin = 'append' | 'ingest' | 'replay' | { peer: string }

/** Which newly indexed events `subscribe` delivers: a range's filters without `limit` and `reverse`. */
export type SubscribeFilter = Omit<RangeOptions, 'limit' | 'reverse'>

/** What the store's own listeners are given after each index batch: its new events, with their origins, in key order. */
export type IndexedListener = (events: readonly Event[], origins: readonly Origin[]) => void

export class Feed {
  private readonly subscribers = new Set<{ matches: (e: Event) => boolean; fn: (e: Event) => void }>()
  private readonly listeners = new Set<IndexedListener>()
  private readonly appendListeners = new Set<(events: readonly Event[]) => void>()

  /** Calls `fn` with each newly indexed event that matches `filter`; returns the function that stops it. */
  subscribe(filter: SubscribeFilter, fn: (event: Event) => void): () => void {
    if (typeof fn !== 'function') throw new TypeError('subscribe needs a callback')
    const { from, to, author, kind } = checkRange(filter ?? {})
    const authorHex = author && toHex(author)
    const entry = {
      fn,
      matches: (e: Event) => (kind === undefined || e.kind === kind) && (authorHex === undefined || e.author === authorHex) && e.timestamp >= from && e.timestamp < to,
    }
    this.subscribers.add(entry)
    return () => { this.subscribers.delete(entry) }
  }

  /** Whether anybody listens: a batch is announced only then. */
  get active(): boolean { return this.listeners.size > 0 || this.subscribers.size > 0 }

  /** Adds a listener of every index batch; returns the function that removes it. */
  listen(fn: IndexedListener): () => void {
    this.listeners.add(fn)
    return () => { this.listeners.delete(fn) }
  }

  /**
   * Adds a listener of this store's own appends, called once they are written to the
   * write-ahead log (before its fsync and their indexing; without a log, once indexed);
   * returns the function that removes it.
   */
  listenAppended(fn: (events: readonly Event[]) => void): () => void {
    this.appendListeners.add(fn)
    return () => { this.appendListeners.delete(fn) }
  }

  /** Announces appends written to the log; a callback that throws is reported, and the others still run. */
  appended(events: readonly Event[]): void {
    for (const fn of this.appendListeners) guarded(() => fn(events))
  }

  /** Announces an index batch's new events; a callback that throws is reported, and the others still run. */
  publish(events: readonly Event[], origins: readonly Origin[]): void {
    if (events.length === 0) return
    for (const fn of this.listeners) guarded(() => fn(events, origins))
    if (this.subscribers.size === 0) return
    for (const event of events) {
      for (const s of this.subscribers) if (s.matches(event)) guarded(() => s.fn(event))
    }
  }

  clear(): void {
    this.subscribers.clear()
    this.listeners.clear()
    this.appendListeners.clear()
  }
}

function guarded(fn: () => void): void {
  try {
    fn()
  } catch (e) {
    console.error('xaeroflux: a subscriber threw', e)
  }
}
