// The indexer (docs/STORAGE.md): events logged to the WAL wait in its queue, and are written to
// LevelDB one atomic batch at a time, with their index entries, the Merkle pages on their paths,
// the count and the WAL checkpoint.
import { storedValue } from '#platform'
import { mapPacked } from '../arrays.js'
import { concatPooled, copyPooledRange, prefixedPooled, u64 } from '../bytes.js'
import type { Event } from '../event.js'
import type { Origin } from './feed.js'
import { levelError } from './level.js'
import { compareKeys, startsWith } from '../merkle/keys.js'
import type { MerkleTree } from '../merkle/tree.js'
import { META_COUNT, META_ROOT, META_WAL, PREFIX } from './layout.js'
import { postingBlocks } from './postings.js'
import type { DB, Sub } from './queries.js'
import type { Wal, WalPosition } from './wal.js'

/**
 * A queued event and where it came from; the last of a WAL call carries the position past that
 * call. `durable` (never rejects) settles once the WAL call's fsync has: events are queued once
 * written, and a batch is announced only after that.
 */
export interface Queued { event: Event; end?: WalPosition; origin: Origin; durable?: Promise<void> }

const INDEX_BATCH = 1000

const keyOf = (q: Queued) => q.event.key
const envelopeOf = (q: Queued) => q.event.bytes
const KIND_AT = 2, AUTHOR_AT = 44 // in an envelope (docs/FORMAT.md)

export interface IndexerOptions {
  db: DB
  events: Sub
  tree: MerkleTree
  wal?: Wal
  /** Keep the Merkle pages and root; off, new events are found by reading them back. */
  merkleIndex: boolean
  /** Events stored when the store opened. */
  total: number
  /** After each committed batch: all its events, and those that were new. */
  onBatch(batch: Queued[], fresh: Queued[]): void
  /** When the queue has run dry, or indexing failed (`error`). */
  onStop(): void
}

export class Indexer {
  /** Events stored. */
  total: number
  /** Why indexing stopped, if it failed: every later write is refused with it. */
  error?: unknown
  /** WAL segments before this one are deleted (replay sets it; batches move it). */
  deletedBefore = 0
  private queue: Queued[] = []
  private running = false
  // Counted since open: a write resolves once `indexed` reaches the count it had when queued.
  private enqueued = 0
  private indexed = 0
  private readonly waiters: Array<{ count: number; resolve: () => void; reject: (e: unknown) => void }> = []
  /** Without the Merkle index: the greatest stored key (null for none), once read. */
  private newest?: Uint8Array | null
  /** A deletion of old WAL segments failed (reported once). */
  private deleteFailed = false

  constructor(private readonly o: IndexerOptions) {
    this.total = o.total
  }

  /** Events queued and not yet indexed. */
  get backlog(): number { return this.queue.length }

  get busy(): boolean { return this.running || this.queue.length > 0 }

  /** The LevelDB write of the batch being committed, if any. */
  private commit?: Promise<void>

  /**
   * Resolves once the batch being committed, if any, is in LevelDB: the Merkle tree may already
   * hold keys of events that queries see only then (at most one batch apart).
   */
  async committed(): Promise<void> {
    await this.commit?.catch(() => {})
  }

  enqueue(event: Event, end: WalPosition | undefined, origin: Origin, durable?: Promise<void>): void {
    this.queue.push({ event, end, origin, durable })
    this.enqueued++
    if (!this.running) { this.running = true; queueMicrotask(() => this.loop()) }
  }

  /** Resolves once every event queued so far is indexed (or rejects with `error`). */
  caughtUp(): Promise<void> {
    if (this.error) return Promise.reject(this.error)
    const count = this.enqueued
    if (this.indexed >= count) return Promise.resolve()
    return new Promise((resolve, reject) => this.waiters.push({ count, resolve, reject }))
  }

  private async loop(): Promise<void> {
    try {
      while (this.queue.length > 0) await this.indexBatch(this.queue.splice(0, INDEX_BATCH))
    } catch (e) {
      this.fail(e)
    } finally {
      this.running = false
      this.o.onStop()
    }
  }

  // The tree tells which events are new: its pages commit with them. Only the insert holds the
  // tree: the commit runs outside it (the tree serves the pages it handed out until then), so
  // that reconciliations and proofs wait for an insert, not for LevelDB. Measured with 10 peers
  // of a mesh on the loaded 2-core machine, before this: a reconciliation step's page reads
  // waited behind one index batch each, up to 15 s a step (sessions timed out waiting for it).
  private async indexBatch(batch: Queued[]): Promise<void> {
    const { tree, wal } = this.o
    const write = this.o.db.batch()
    const { fresh, end, dropSegments } = await tree.exclusive(async () => {
      const fresh = await this.newEvents(batch)
      let time: Uint8Array | undefined // an ids value: events in key order share it while their timestamp does
      for (const { event } of fresh) {
        const key = event.key
        write.put(concatPooled(PREFIX.events, key), storedValue(event.bytes))
        if (!time || !startsWith(key, time)) time = storedValue(copyPooledRange(key, 0, 8))
        write.put(prefixedPooled(PREFIX.ids, key, 8, 40), time)
      }
      for (const b of postingBlocks(fresh, keyOf, envelopeOf, AUTHOR_AT, 32)) write.put(concatPooled(PREFIX.byAuthor, b.key), b.value)
      for (const b of postingBlocks(fresh, keyOf, envelopeOf, KIND_AT, 2)) write.put(concatPooled(PREFIX.byKind, b.key), b.value)
      if (this.o.merkleIndex) {
        const merkle = tree.takeWrites()
        for (const page of merkle.pages) write.put(concatPooled(PREFIX.pages, page.key), storedValue(page.value))
        write.put(concatPooled(PREFIX.meta, META_ROOT), merkle.root)
      }
      write.put(concatPooled(PREFIX.meta, META_COUNT), u64(this.total + fresh.length))
      const end = batch.findLast((q) => q.end)?.end
      if (end) write.put(concatPooled(PREFIX.meta, META_WAL), concatPooled(u64(end.segment), u64(end.offset)))
      // Before WAL segments are deleted, what replaces them must be on disk, not only in the OS.
      const dropSegments = end !== undefined && end.segment > this.deletedBefore
      return { fresh, end, dropSegments }
    })
    this.commit = write.write({ sync: dropSegments } as never)
    try {
      await this.commit
    } finally {
      this.commit = undefined
      tree.committed()
    }
    if (!this.o.merkleIndex) this.noteNewest(fresh)
    this.total += fresh.length
    if (dropSegments && end && wal) {
      try {
        await wal.deleteBefore(end)
        this.deletedBefore = end.segment
      } catch (e) {
        // The batch is committed; old segments left behind cost only disk space, and a later
        // batch deletes them. Not a reason to refuse every later write.
        if (!this.deleteFailed) console.warn('xaeroflux: cannot delete old write-ahead log segments yet; will retry', e)
        this.deleteFailed = true
      }
    }
    // Announced in order once its WAL calls are durable; the next batch does not wait for that.
    const durable = allDurable(batch)
    // A failure there fails indexing as the loop's would: the chain must not stop, leaving
    // `caughtUp` (flush, close) waiting for ever.
    this.announcing = this.announcing.then(() => durable).then(() => this.announce(batch, fresh)).catch((e) => this.fail(e))
  }

  private fail(e: unknown): void {
    this.error ??= levelError(e, 'indexing failed')
    for (const w of this.waiters.splice(0)) w.reject(this.error)
  }

  /** The announcement of the batches committed so far, in order. */
  private announcing: Promise<void> = Promise.resolve()

  private announce(batch: Queued[], fresh: Queued[]): void {
    this.indexed += batch.length
    while (this.waiters.length > 0 && this.waiters[0].count <= this.indexed) this.waiters.shift()!.resolve()
    this.o.onBatch(batch, fresh)
  }

  // The events of a batch not stored yet, each once, in key order: LevelDB takes sorted puts
  // faster, and posting blocks need their keys sorted. The Merkle tree knows which are new (its
  // pages commit with the events). Without it, the events are read back, except those whose
  // key is above every stored key: appends, mostly, since keys start with the time. A lookup of
  // a missing key is what costs (LevelDB pays for misses with seek compactions).
  private async newEvents(batch: Queued[]): Promise<Queued[]> {
    const sorted = batch.slice().sort((a, b) => compareKeys(a.event.key, b.event.key))
    if (this.o.merkleIndex) {
      const added = new Set(await this.o.tree.insert(mapPacked(sorted, keyOf)))
      return sorted.filter((q) => added.has(q.event.key))
    }
    this.newest ??= (await this.o.events.keys({ reverse: true, limit: 1 }).all())[0] ?? null
    const newest = this.newest
    const unsure = newest ? sorted.filter((q) => compareKeys(q.event.key, newest) <= 0) : []
    const stored = new Set<Queued>()
    if (unsure.length > 0) (await this.o.events.getMany(unsure.map(keyOf))).forEach((v, i) => v !== undefined && stored.add(unsure[i]))
    // Sorted, an event given twice is given twice in a row.
    return sorted.filter((q, i) => !stored.has(q) && (i === 0 || compareKeys(sorted[i - 1].event.key, q.event.key) !== 0))
  }

  // After a commit without the Merkle index: the greatest stored key may have moved.
  private noteNewest(fresh: Queued[]): void {
    for (const { event } of fresh) if (!this.newest || compareKeys(event.key, this.newest) > 0) this.newest = event.key
  }
}

// Waits for the fsyncs of the WAL calls a batch's events came in (one promise per call, shared by
// its events, which are queued together): a batch is announced, and the writes waiting on it
// resolved, only once they settled. Queries may see its events one fsync sooner, from its commit.
function allDurable(batch: readonly Queued[]): Promise<unknown> | undefined {
  let last: Promise<void> | undefined
  const waits: Array<Promise<void>> = []
  for (const q of batch) if (q.durable && q.durable !== last) waits.push(last = q.durable)
  return waits.length > 0 ? Promise.all(waits) : undefined
}
