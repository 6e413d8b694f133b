import { Level } from 'level'
import { MemoryLevel } from 'memory-level'
import { openWal, spareCores, storedValue } from '#platform'
import { runtime } from './core/default.js'
import { mapPacked } from './arrays.js'
import { XaeroError } from './errors.js'
import { DEFAULT_MAX_PAYLOAD, DEFAULT_MAX_SKEW, Event, HEADER_SIZE, SIGNATURE_SIZE, checkFields, decodeEvents, writeEnvelope } from './event.js'
import { groupId } from './group.js'
import { bytes32, fromHex, toHex } from './hex.js'
import type { Identity } from './identity.js'
import { Pipeline } from './pipeline/pipeline.js'
import { Batcher } from './pipeline/batcher.js'
import { SLOT_DATA_BYTES, slotChunks } from './pipeline/slot.js'
import { MerkleTree, encodeRoot } from './merkle/tree.js'
import { timeBound } from './merkle/keys.js'
import { rebuildRange, type RebuildReport } from './merkle/rebuild.js'
import { Reconciliation, type ReconcileBudget } from './sync/session.js'
import { PAGE_RECORD } from './merkle/pages.js'
import type { Durability, ReplayReport, Wal, WalPosition } from './store/wal.js'
import {
  EMPTY_VALUE, FORMAT_VERSION, META_COUNT, META_GROUP, META_ROOT, META_UNINDEXED, META_VERSION, META_WAL, PREFIX, SUBLEVELS,
} from './store/layout.js'
import { concat, copyPooled, pooled, readU64, u64 } from './bytes.js'
import { Indexer, type Queued } from './store/indexer.js'
import { MAX_TIME, checkRange, getEvent, keysUnder, rangeEvents, type DB, type RangeOptions, type Sub } from './store/queries.js'

export type { RangeOptions }

type Bytes = Uint8Array

export interface OpenOptions {
  /** Folder of the store (Node) or IndexedDB name (browsers). Omitted: in memory. */
  path?: string
  /** The group's name; its id is `groupId(group)`. */
  group: string
  /** Who appends. Needed by `append`, not by `ingest`. */
  identity?: Identity
  /** When `append` and `ingest` resolve; see Durability. @default 'sync' */
  durability?: Durability
  /** Validation worker threads; 0 validates on this thread. @default one per spare core, at most 2 */
  workers?: number
  /** If given, only these authors (public keys, bytes or hex) may write to the group. */
  writers?: ReadonlyArray<Uint8Array | string>
  /** Memory for cached Merkle pages, in bytes. @default 8 MiB */
  pageCache?: number
  /**
   * Keep the Merkle index (root, prove, reconcile) as events are indexed. Off suits a bulk
   * load: the store remembers, and rebuilds the index when it is next opened with it on.
   * @default true
   */
  merkleIndex?: boolean
  /** Largest payload accepted, at most 2 MiB − 144 bytes. @default 1 MiB */
  maxPayload?: number
  /** How far in the future a timestamp may be, in ms. @default 10 minutes */
  maxSkew?: number
}

export type SubscribeFilter = Omit<RangeOptions, 'limit' | 'reverse'>

/** Single appends and ingests go through the workers in batches of at most this many. */
const PIPELINE_BATCH = 128
/** Events logged but not yet indexed, at most: beyond this, appends and ingests wait. */
const MAX_UNINDEXED = 8192
const MAX_UNINDEXED_BYTES = 32 << 20
const DONE = Promise.resolve()
/**
 * LevelDB's memtable (classic-level; IndexedDB has none): 16 MiB, not the default 4. A store that
 * appends without pause spends most of its LevelDB time compacting, and fewer, larger level-0
 * files cut that by a third (measured: 7.5 → 5.4 µs of CPU per event over 1M appends), for at most
 * two such buffers in memory at once.
 */
const WRITE_BUFFER_SIZE = 16 << 20
/** The largest maxPayload: an event must fit one pipeline slot. */
const MAX_PAYLOAD_LIMIT = SLOT_DATA_BYTES - 144

/**
 * An open store of one group's events. Appends and ingests are written to the WAL, then
 * indexed in LevelDB by one batch per group of events; queries read LevelDB.
 */
export class Xaeroflux {
  /** What `open` found in the write-ahead log after the last run (empty for in-memory stores). */
  recovery: ReplayReport = { replayed: 0, tornBytes: 0, corrupt: [] }

  private closed = false
  private inflight = 0
  private idleWaiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = []
  /**
   * Ingested or replayed events logged (or being logged) and not yet indexed, by id: each with
   * the promise of its durability, for an ingest of the same event to wait on. Appends are not
   * kept here: their events were signed just now, so nobody is waiting on them, and an ingest of
   * one before it is indexed logs it again, for the indexer to drop.
   */
  private readonly pending = new Map<string, Promise<void>>()
  private readonly subscribers = new Set<{ filter: Filter; fn: (e: Event) => void }>()
  private readonly toValidate = new Batcher((envelopes: Bytes[]) => this.pipeline.validate(envelopes), PIPELINE_BATCH)
  private readonly toSeal = new Batcher(async (envelopes: Uint8Array[]) => {
    const events = await this.pipeline.seal(envelopes)
    await this.logMany(events, false)
    return events
  }, PIPELINE_BATCH)
  private unindexedBytes = 0
  private readonly roomWaiters: Array<() => void> = []

  private constructor(
    readonly group: string,
    readonly groupBytes: Uint8Array,
    private readonly options: Required<Pick<OpenOptions, 'maxPayload' | 'maxSkew'>> & OpenOptions,
    private readonly db: DB,
    private readonly sub: Record<keyof typeof SUBLEVELS, Sub>,
    private readonly pipeline: Pipeline,
    private readonly writers: Set<string> | undefined,
    private readonly wal: Wal | undefined,
    total: number,
  ) {
    const pages = Math.max(16, Math.floor((options.pageCache ?? 8 << 20) / PAGE_RECORD))
    this.tree = new MerkleTree(runtime, sub.pages, pages)
    this.indexer = new Indexer({
      db, events: sub.events, tree: this.tree, wal, merkleIndex: options.merkleIndex !== false, total,
      onBatch: (batch, fresh) => this.indexed(batch, fresh),
      onStop: () => {
        for (const wake of this.roomWaiters.splice(0)) wake()
        this.settleIdle()
      },
    })
  }

  private readonly tree: MerkleTree
  private readonly indexer: Indexer

  /** Opens (or creates) the store, replays its write-ahead log, and indexes what it finds there. */
  static async open(options: OpenOptions): Promise<Xaeroflux> {
    if (!options || typeof options.group !== 'string') throw new TypeError('open needs { group: string }')
    const durability = options.durability ?? 'sync'
    if (!['sync', 'batch', 'none'].includes(durability)) throw new TypeError("durability is 'sync', 'batch' or 'none'")
    const maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD
    if (!Number.isInteger(maxPayload) || maxPayload < 0 || maxPayload > MAX_PAYLOAD_LIMIT) throw new RangeError(`maxPayload must be 0..${MAX_PAYLOAD_LIMIT}`)
    const maxSkew = options.maxSkew ?? DEFAULT_MAX_SKEW
    const workers = options.workers ?? Math.min(2, spareCores())
    if (!Number.isInteger(workers) || workers < 0) throw new RangeError('workers must be a whole number')
    const group = groupId(options.group)
    const groupBytes = fromHex(group)
    const writers = options.writers ? new Set(options.writers.map((w) => toHex(bytes32(w, 'a writer')))) : undefined

    const db = (options.path === undefined
      ? new MemoryLevel<Bytes, Bytes>({ keyEncoding: 'view', valueEncoding: 'view' })
      : new Level<Bytes, Bytes>(options.path, { keyEncoding: 'view', valueEncoding: 'view', writeBufferSize: WRITE_BUFFER_SIZE })) as unknown as DB
    await db.open()
    const sub = Object.fromEntries(Object.entries(SUBLEVELS).map(([k, name]) =>
      [k, db.sublevel<Bytes, Bytes>(name, { keyEncoding: 'view', valueEncoding: 'view' })])) as Record<keyof typeof SUBLEVELS, Sub>
    let pipeline: Pipeline | undefined
    try {
      await checkFormat(sub.meta, groupBytes)
      pipeline = await Pipeline.create(runtime, { workers, group: groupBytes, maxPayload, maxSkew, identity: options.identity })
      const wal = options.path === undefined ? undefined : await openWal(options.path, durability)
      const [count, root] = await sub.meta.getMany([META_COUNT, META_ROOT])
      const store = new Xaeroflux(options.group, groupBytes, { ...options, maxPayload, maxSkew, workers }, db, sub, pipeline, writers, wal, readU64(count ?? u64(0)))
      store.tree.setRoot(root)
      if (options.merkleIndex === false) await sub.meta.put(META_UNINDEXED, EMPTY_VALUE, { sync: true } as never)
      await store.replay()
      if (options.merkleIndex !== false && await sub.meta.get(META_UNINDEXED) !== undefined) {
        await store.rebuildIndex()
        await sub.meta.del(META_UNINDEXED, { sync: true } as never)
      }
      return store
    } catch (e) {
      await pipeline?.close()
      await db.close()
      throw e
    }
  }

  private async replay(): Promise<void> {
    if (!this.wal) return
    const stored = await this.sub.meta.get(META_WAL)
    const from = stored ? { segment: readU64(stored), offset: readU64(stored, 8) } : { segment: 1, offset: 0 }
    this.indexer.deletedBefore = from.segment
    const records: Array<{ bytes: Bytes; end: WalPosition }> = []
    this.recovery = await this.wal.replay(from, (bytes, end) => records.push({ bytes: bytes.slice(), end }))
    // Records were validated before they were logged; replay re-derives their keys only.
    const decoded = decodeEvents(records.map((r) => r.bytes), { group: this.groupBytes, maxPayload: this.options.maxPayload, now: MAX_TIME, maxSkew: 0, verify: false })
    decoded.forEach((r, i) => {
      if (r instanceof XaeroError) this.recovery.corrupt.push(new XaeroError('E_CORRUPT_WAL', `a logged record is not a valid event: ${r.code}`, { cause: r }))
      else {
        this.unindexedBytes += r.bytes.length
        this.enqueue(r, records[i].end)
      }
    })
    await this.flush()
    // All before the new segment is indexed or reported: check it no more, and let it go.
    const start = this.wal.position()
    await this.sub.meta.put(META_WAL, concat(u64(start.segment), u64(start.offset)), { sync: true } as never)
    await this.wal.deleteBefore(start)
    this.indexer.deletedBefore = start.segment
  }

  // --- writing -------------------------------------------------------------------------------

  /** Signs a new event by this store's identity; resolves once it is durable (see `durability`). */
  append(fields: { kind: number; payload: Uint8Array | string; timestamp?: number }): Promise<Event> {
    // Not `async`: it hands back the batch's own promise (an async function would wrap it in
    // another, settled two turns later), and turns what it throws into a rejection.
    try {
      this.assertOpen()
      const identity = this.options.identity
      if (!identity) throw new TypeError('append needs the store opened with an identity')
      if (this.writers && !this.writers.has(identity.id)) throw new XaeroError('E_NOT_WRITER', `${identity.id} is not a writer of this group`)
      if (!fields || typeof fields !== 'object') throw new TypeError('append takes { kind, payload, timestamp? }')
      // A literal of fixed shape, not `{ ...fields, group }`: a property defined after a spread
      // takes V8's slow path on every call, and leaves checkFields' loads missing their caches
      // (measured: ~9% of the main thread in a burst of appends).
      const checked = checkFields({ kind: fields.kind, timestamp: fields.timestamp, payload: fields.payload, group: this.groupBytes }, this.options.maxPayload)
      // The envelope, unsigned, now: the event is the payload as it is now, whatever the caller
      // does next. Appends made together are sealed (id, key, signature) together, by the
      // workers, and logged together.
      const envelope = pooled(checked.payload.length + HEADER_SIZE + SIGNATURE_SIZE)
      writeEnvelope(envelope, 0, checked, identity.publicKey)
      return this.toSeal.add(envelope)
    } catch (e) {
      return Promise.reject(e)
    }
  }

  /** Validates an envelope from elsewhere and stores it; storing an event already stored is a no-op. */
  async ingest(bytes: Uint8Array): Promise<Event> {
    this.assertOpen()
    if (!(bytes instanceof Uint8Array)) throw new TypeError('ingest takes the bytes of an envelope')
    // Calls made together are validated together: one batch through the workers.
    const key = await this.toValidate.add(bytes)
    if (key instanceof XaeroError) throw key
    const event = new Event(copyPooled(bytes), key)
    await this.accept([event])
    return event
  }

  /** `ingest` for many envelopes at once: one result per envelope, an Event or the XaeroError that rejected it. */
  async ingestMany(envelopes: readonly Uint8Array[]): Promise<Array<Event | XaeroError>> {
    this.assertOpen()
    if (!Array.isArray(envelopes) || envelopes.some((e) => !(e instanceof Uint8Array))) throw new TypeError('ingestMany takes an array of envelopes')
    const keys = await this.pipeline.validate(envelopes)
    const results = keys.map((k, i) => (k instanceof XaeroError ? k : new Event(copyPooled(envelopes[i]), k)))
    const accepted = await this.accept(results.filter((r): r is Event => r instanceof Event))
    return results.map((r) => (r instanceof Event ? accepted.get(r) ?? r : r))
  }

  // Checks writers, and logs what is not on its way yet. An event on its way is waited for: an
  // ingest resolves only once its event is durable, whoever logged it. An event already stored
  // is logged again and dropped by the indexer, which checks every batch: asking LevelDB here
  // would look up a missing key per new event, which LevelDB pays for with seek compactions
  // (docs/STORAGE.md, Write path).
  private async accept(events: Event[]): Promise<Map<Event, XaeroError>> {
    const rejected = new Map<Event, XaeroError>()
    const durable: Array<Promise<void>> = []
    const toLog = new Map<string, Event>() // one of each: an envelope may come twice
    for (const e of events) {
      if (this.writers && !this.writers.has(e.author)) {
        rejected.set(e, new XaeroError('E_NOT_WRITER', `${e.author} is not a writer of this group`))
        continue
      }
      const onItsWay = this.pending.get(e.id)
      if (onItsWay) durable.push(onItsWay)
      else toLog.set(e.id, e)
    }
    if (toLog.size > 0) durable.push(this.logMany([...toLog.values()]))
    await Promise.all(durable)
    if (rejected.size === events.length && events.length === 1) throw rejected.get(events[0])
    return rejected
  }

  // Logs events durably, a slot's worth per WAL call, and queues them for indexing; with
  // `track`, each event is pending (with the promise of its durability) until indexed.
  private logMany(events: readonly Event[], track = true): Promise<void> {
    const parts: Array<Promise<void>> = []
    for (const { start, end } of slotChunks(events, (e) => e.bytes.length)) {
      const chunk = events.slice(start, end)
      const durable = this.write(chunk, track)
      if (track) for (const e of chunk) this.pending.set(e.id, durable)
      parts.push(durable)
    }
    return parts.length === 1 ? parts[0] : Promise.all(parts).then(() => {})
  }

  private async write(events: Event[], track: boolean): Promise<void> {
    const bytes = events.reduce((n, e) => n + e.bytes.length, 0)
    await this.room(events.length, bytes)
    this.inflight += events.length
    this.unindexedBytes += bytes
    try {
      // The checkpoint may only move past whole WAL calls: the last event carries the call's end.
      const end = this.wal ? await this.wal.appendMany(mapPacked(events, (e) => e.bytes)) : undefined
      events.forEach((e, i) => this.enqueue(e, i === events.length - 1 ? end : undefined, track))
    } catch (e) {
      if (track) for (const event of events) this.pending.delete(event.id)
      this.unindexedBytes -= bytes
      throw e
    } finally {
      this.inflight -= events.length
      this.settleIdle()
    }
    // Without a log (in memory; IndexedDB in a browser) an event is durable once its index batch is.
    if (!this.wal) await this.indexer.caughtUp()
  }

  // Backpressure: a producer faster than the indexer waits here, so memory stays bounded.
  private async room(count: number, bytes: number): Promise<void> {
    const unindexed = () => this.inflight + this.indexer.backlog
    while (!this.indexer.error && unindexed() > 0 &&
      (unindexed() + count > MAX_UNINDEXED || this.unindexedBytes + bytes > MAX_UNINDEXED_BYTES)) {
      await new Promise<void>((resolve) => this.roomWaiters.push(resolve))
    }
    if (this.indexer.error) throw this.indexer.error
  }

  private enqueue(event: Event, end?: WalPosition, track = true): void {
    if (track && !this.pending.has(event.id)) this.pending.set(event.id, DONE)
    this.indexer.enqueue(event, end)
  }

  // After each index batch: its events are no longer pending, and the new ones are announced.
  private indexed(batch: Queued[], fresh: Queued[]): void {
    const tracked = this.pending.size > 0 // else the batch holds appends only: no id to compute
    for (const q of batch) {
      if (tracked) this.pending.delete(q.event.id)
      this.unindexedBytes -= q.event.bytes.length
    }
    for (const wake of this.roomWaiters.splice(0)) wake()
    for (const { event } of fresh) this.advertise(event)
  }

  private advertise(event: Event): void {
    for (const s of this.subscribers) {
      if (!s.filter(event)) continue
      try {
        s.fn(event)
      } catch (e) {
        console.error('xaeroflux: a subscriber threw', e)
      }
    }
  }

  private settleIdle(): void {
    if (this.indexer.busy || this.inflight > 0) return
    const waiters = this.idleWaiters.splice(0)
    for (const w of waiters) (this.indexer.error ? w.reject(this.indexer.error) : w.resolve())
  }

  /** Resolves when every event accepted so far is indexed and visible to queries. */
  flush(): Promise<void> {
    if (this.indexer.error) return Promise.reject(this.indexer.error)
    return new Promise((resolve, reject) => {
      this.idleWaiters.push({ resolve, reject })
      this.settleIdle()
    })
  }

  // --- reading -------------------------------------------------------------------------------

  /** The event with this id (hex or 32 bytes), or undefined. */
  async get(id: Uint8Array | string): Promise<Event | undefined> {
    this.assertOpen()
    return getEvent(this.sub, bytes32(id, 'id'))
  }

  /** The Merkle root (hex) of every stored event's key: equal sets of events give equal roots. */
  async root(): Promise<string> {
    this.assertIndexed()
    return this.tree.exclusive(() => toHex(this.tree.root()))
  }

  /**
   * A proof (bytes) about one event against `root()`: for a stored event's id, that it is in
   * the set (`verifyProof`); for a 40-byte key, that it is in the set or that it is not
   * (`verifyAbsence`). An id alone has no place in the tree (keys start with the timestamp), so
   * the absence of an event is proven for its key. Throws E_NOT_FOUND for an unknown id.
   */
  async prove(idOrKey: Uint8Array | string): Promise<Uint8Array> {
    this.assertIndexed()
    const bytes = typeof idOrKey === 'string' ? fromHex(idOrKey) : idOrKey
    if (!(bytes instanceof Uint8Array) || (bytes.length !== 32 && bytes.length !== 40)) throw new TypeError('prove takes an id (32 bytes) or a key (40 bytes)')
    let key = bytes
    if (bytes.length === 32) {
      const ts = await this.sub.ids.get(bytes)
      if (!ts) throw new XaeroError('E_NOT_FOUND', `no event ${toHex(bytes)} is stored`)
      key = concat(ts, bytes)
    }
    return this.tree.exclusive(() => this.tree.prove(key))
  }

  /**
   * Recomputes the Merkle pages that cover events in [from, to) from the stored events,
   * rewrites those that differ, and reports what it found. Indexing waits meanwhile.
   */
  async rebuildIndex(options: { from?: number; to?: number } = {}): Promise<RebuildReport> {
    this.assertIndexed()
    const { from, to } = checkRange(options)
    await this.flush()
    return this.tree.exclusive(async () => {
      const write = this.db.batch()
      const { root, report } = await rebuildRange(runtime, timeBound(from), timeBound(to), {
        keysUnder: (prefix, limit) => keysUnder(this.sub.events, prefix, limit),
        storedPage: (address) => this.sub.pages.get(address),
        repair: (address, page) => write.put(concat(PREFIX.pages, address), storedValue(page)),
      }, this.tree.rootSlot())
      const rootBytes = encodeRoot(root.kind, root.value)
      write.put(concat(PREFIX.meta, META_ROOT), rootBytes)
      await write.write({ sync: true } as never)
      this.tree.forget()
      this.tree.setRoot(rootBytes)
      return report
    })
  }

  /**
   * One side of a set reconciliation with another store (docs/SYNC.md), optionally limited to
   * timestamps in [from, to): `open()` makes the first message, `receive(message)` the reply
   * (undefined when done); then `need` and `have` list the ids this side lacks and the other lacks.
   * `signal` aborts the session, `budget` bounds its rounds, keys, bytes and time (E_BUDGET).
   * Once the store is closed, the session's next read of the index rejects with E_CLOSED.
   */
  reconcile(options: { from?: number; to?: number; signal?: AbortSignal; budget?: ReconcileBudget } = {}): Reconciliation {
    this.assertIndexed()
    if (typeof options !== 'object' || options === null) throw new TypeError('reconcile options must be an object')
    const { from, to } = checkRange({ from: options.from, to: options.to })
    const tree = this.tree
    return new Reconciliation({
      slot: (prefix) => { this.assertOpen(); return tree.exclusive(() => tree.slotAt(prefix)) },
      hasKeys: async (keys) => { this.assertOpen(); return (await this.sub.events.getMany(keys)).map((v) => v !== undefined) },
    }, from, to, { signal: options.signal, budget: options.budget })
  }

  /** Events stored (indexed) so far. */
  async count(): Promise<number> {
    this.assertOpen()
    return this.indexer.total
  }

  /**
   * Streams events in key order (time, then id), filtered by time [from, to), author and kind,
   * reading LevelDB in chunks: the result set is never held in memory.
   */
  async *range(options: RangeOptions = {}): AsyncGenerator<Event> {
    this.assertOpen()
    yield* rangeEvents(this.sub, checkRange(options))
  }

  /**
   * Calls `fn` with every newly indexed event that matches `filter`, once each, in index order
   * (index batch after batch; within one, in key order).
   * Returns the function that stops the subscription.
   */
  subscribe(filter: SubscribeFilter, fn: (event: Event) => void): () => void {
    this.assertOpen()
    if (typeof fn !== 'function') throw new TypeError('subscribe needs a callback')
    const { from, to, author, kind } = checkRange(filter ?? {})
    const authorHex = author && toHex(author)
    const entry = {
      fn,
      filter: (e: Event) => (kind === undefined || e.kind === kind) && (authorHex === undefined || e.author === authorHex) && e.timestamp >= from && e.timestamp < to,
    }
    this.subscribers.add(entry)
    return () => { this.subscribers.delete(entry) }
  }

  /** Finishes queued work, then closes the log, the workers and LevelDB. Later calls fail with E_CLOSED. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    try {
      await this.flush()
    } finally {
      this.subscribers.clear()
      await this.tree.exclusive(() => this.tree.forget())
      await this.pipeline.close()
      await this.wal?.close()
      await this.db.close()
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new XaeroError('E_CLOSED')
  }

  private assertIndexed(): void {
    this.assertOpen()
    if (this.options.merkleIndex === false) throw new TypeError('the store was opened with merkleIndex: false')
  }
}

type Filter = (e: Event) => boolean

async function checkFormat(meta: Sub, group: Uint8Array): Promise<void> {
  const [version, storedGroup] = await meta.getMany([META_VERSION, META_GROUP])
  if (version === undefined) {
    await meta.batch([{ type: 'put', key: META_VERSION, value: u64(FORMAT_VERSION) }, { type: 'put', key: META_GROUP, value: group }])
    return
  }
  if (readU64(version) !== FORMAT_VERSION) throw new XaeroError('E_STORE_MISMATCH', `store format ${readU64(version)}, this version reads ${FORMAT_VERSION}`)
  if (storedGroup && toHex(storedGroup) !== toHex(group)) throw new XaeroError('E_STORE_MISMATCH', 'the store belongs to another group')
}
