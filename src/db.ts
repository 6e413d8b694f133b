// The public facade: `Xaeroflux` checks each call, keeps the store's status and calls in flight
// (src/store/lifecycle.ts), and hands the work to the modules under src/store/, src/merkle/ and
// src/pipeline/ (docs/STORAGE.md has the whole picture).
import { lockStore, openWal, storedValue } from '#platform'
import { defaultRuntime } from './core/default.js'
import { concat } from './bytes.js'
import { XaeroError } from './errors.js'
import type { Event } from './event.js'
import { bytes32, fromHex, toHex } from './hex.js'
import { Pipeline } from './pipeline/pipeline.js'
import { MerkleTree, encodeRoot } from './merkle/tree.js'
import { Pacer } from './sync/pacer.js'
import { timeBound } from './merkle/keys.js'
import { rebuildRange, type RebuildReport } from './merkle/rebuild.js'
import { Reconciliation, type ReconcileBudget } from './sync/session.js'
import { PAGE_RECORD } from './merkle/pages.js'
import { Feed, type IndexedListener, type Origin, type SubscribeFilter } from './store/feed.js'
import { Indexer } from './store/indexer.js'
import { EMPTY_VALUE, META_ROOT, META_UNINDEXED, PREFIX } from './store/layout.js'
import { levelError, openLevel, readState, type StoredState, type Sublevels } from './store/level.js'
import { Lifecycle, type Status } from './store/lifecycle.js'
import { resolveOptions, type OpenOptions, type StoreOptions } from './store/options.js'
import { checkRange, getEvent, getEvents, keysUnder, rangeEvents, type DB, type RangeOptions } from './store/queries.js'
import { replayWal } from './store/replay.js'
import { entries } from './store/cursor.js'
import type { ReplayReport, Wal } from './store/wal.js'
import type { GroupNetwork, NetworkOptions, PeerInfo } from './net/network.js'
import type { SyncResult } from './net/session.js'
import { WritePath } from './store/writer.js'

export type { OpenOptions, RangeOptions, SubscribeFilter, Origin, Status, PeerInfo, SyncResult }

/**
 * What the package's own layers (the network) use of a store, kept off its public API: the
 * stream of indexed events with their origins, and ingesting on behalf of a peer.
 */
export const internals = Symbol('xaeroflux.internals')

export interface StoreInternals {
  /** Adds a listener of every index batch's new events and their origins; returns its remover. */
  onIndexed(listener: IndexedListener): () => void
  /** Adds a listener of this store's appends once written to the write-ahead log (before its fsync and their indexing); returns its remover. */
  onAppended(listener: (events: readonly Event[]) => void): () => void
  /** `ingestMany` with the events' origin (a peer's id). */
  ingestMany(envelopes: readonly Uint8Array[], origin: Origin): Promise<Array<Event | XaeroError>>
  /** Aborted (reason E_CLOSED) when the store starts closing. */
  readonly closing: AbortSignal
}

/** Merkle pages read into the cache at open (`MerkleTree.warm`): ~0.8 MiB. */
const WARM_PAGES = 32

/**
 * An open store of one group's events. Appends and ingests are written to the WAL, then
 * indexed in LevelDB by one batch per group of events; queries read LevelDB.
 *
 * Lifecycle: `open` resolves with an open store; `close` settles every call in flight (their
 * work is finished, or they reject), and afterwards every call rejects with E_CLOSED.
 */
export class Xaeroflux extends EventTarget {
  /** What `open` found in the write-ahead log after the last run (empty for in-memory stores). */
  recovery: ReplayReport = { replayed: 0, tornBytes: 0, corrupt: [] }

  private readonly life = new Lifecycle()
  private readonly feed = new Feed()
  private readonly tree: MerkleTree
  /** Shared by this store's reconciliations: together they pause after 2 ms of steps while another peer's session shares the thread, and for the store's own appends. */
  private readonly pacer = new Pacer(() => this.network?.shared() ?? true)
  private readonly indexer: Indexer
  private readonly writer: WritePath
  private closing?: Promise<void>
  private network?: GroupNetwork
  /** Holds the path for this store where LevelDB does not (browsers: a Web Lock, #platform lockStore). */
  private lock?: { release(): void }

  private constructor(private readonly options: StoreOptions, private readonly db: DB, private readonly sub: Sublevels,
    private readonly pipeline: Pipeline, private readonly wal: Wal | undefined, state: StoredState) {
    super()
    this.tree = new MerkleTree(defaultRuntime(), sub.pages, Math.max(16, Math.floor(options.pageCache / PAGE_RECORD)))
    this.tree.setRoot(state.root)
    this.indexer = new Indexer({
      db, events: sub.events, tree: this.tree, wal, merkleIndex: options.merkleIndex, total: state.count,
      onBatch: (batch, fresh) => {
        this.writer.indexed(batch)
        if (this.feed.active) this.feed.publish(fresh.map((q) => q.event), fresh.map((q) => q.origin))
      },
      onStop: () => this.writer.wake(),
    })
    this.writer = new WritePath(options, pipeline, this.indexer, wal, (events) => this.feed.appended(events))
  }

  /** The group's name, as given to `open`. */
  get group(): string { return this.options.group }
  /** The group's id (32 bytes). */
  get groupBytes(): Uint8Array { return this.options.groupBytes }
  /**
   * The pipeline workers this store asked the process's pool for (the pool may run more, for
   * other stores); 0 when it validates and signs on its own thread: asked for (`workers: 0`),
   * or where workers cannot run (a browser page that is not cross-origin isolated).
   */
  get workers(): number { return this.options.workers }
  /** 'open', then 'closing' once `close` is called, then 'closed'. */
  get status(): Status { return this.life.status }

  /**
   * Opens (or creates) the store, replays its write-ahead log, and indexes what it finds there.
   * A failed open releases everything it started (the database, the log, its share of the
   * workers) before it rejects.
   */
  static async open(options: OpenOptions): Promise<Xaeroflux> {
    const o = resolveOptions(options)
    const lock = o.path === undefined ? undefined : await lockStore(o.path)
    const { db, sub } = await openLevel(o.path).catch((e) => { lock?.release(); throw e })
    let pipeline: Pipeline | undefined, wal: Wal | undefined, store: Xaeroflux
    try {
      const state = await readState(sub.meta, o.groupBytes).catch((e) => { throw levelError(e, 'cannot read the store') })
      pipeline = await Pipeline.create(defaultRuntime(), { workers: o.workers, group: o.groupBytes, maxPayload: o.maxPayload, maxSkew: o.maxSkew, identity: o.identity })
      wal = o.path === undefined ? undefined : await openWal(o.path, o.durability)
      store = new Xaeroflux(o, db, sub, pipeline, wal, state)
      store.lock = lock
      await store.recover(state)
    } catch (e) {
      await pipeline?.close()
      await wal?.close().catch(() => {})
      await db.close().catch(() => {})
      lock?.release()
      throw levelError(e, 'cannot open the store')
    }
    store.life.status = 'open'
    // The top of the Merkle tree, read in the background: the pages every sync and insert read
    // first. A store just opened read them one after another at its first sync, 0.2–7 ms each,
    // 20–25 ms of the network bench's catch-up. A read that fails here fails again where it is
    // needed, and is reported there.
    void store.tree.exclusive(() => store.tree.warm(WARM_PAGES)).catch(() => {})
    if (o.network) {
      try {
        await store.join(o.network)
      } catch (e) {
        await store.close().catch(() => {})
        throw e
      }
    }
    return store
  }

  // Starts the store's network (imported only then: a store without one loads no libp2p).
  private async join(options: NetworkOptions): Promise<void> {
    const { GroupNetwork } = await import('./net/network.js')
    this.network = await GroupNetwork.start({
      groupBytes: this.options.groupBytes,
      reconcile: (o) => this.reconcile(o),
      getMany: async (ids) => {
        this.life.assertOpen()
        try {
          return await getEvents(this.sub, ids.map((id) => fromHex(id)))
        } catch (e) {
          throw this.failure(e, 'get')
        }
      },
      envelopesBetween: (lo, hi) => this.envelopesBetween(lo, hi),
      committed: () => this.indexer.committed(),
      ingestMany: (envelopes, origin) => this.ingestFrom(envelopes, origin),
      onIndexed: (listener) => this.feed.listen(listener),
      onAppended: (listener) => this.feed.listenAppended(listener),
    }, options)
    for (const type of ['peer:connect', 'peer:disconnect', 'sync']) {
      this.network.addEventListener(type, (e) => this.dispatchEvent(new CustomEvent(type, { detail: (e as CustomEvent).detail })))
    }
  }

  // The envelopes with keys in [lo, hi), in key order (for the network: the subtrees a peer lacks).
  private async *envelopesBetween(lo: Uint8Array, hi: Uint8Array | undefined): AsyncGenerator<Uint8Array> {
    this.life.assertOpen()
    try {
      for await (const [, bytes] of entries(this.sub.events, { gte: lo, ...(hi ? { lt: hi } : {}) })) yield bytes
    } catch (e) {
      throw this.failure(e, 'get')
    }
  }

  // Replays the log, and rebuilds the Merkle index if it was kept off last time.
  private async recover(state: StoredState): Promise<void> {
    if (!this.options.merkleIndex) await this.sub.meta.put(META_UNINDEXED, EMPTY_VALUE, { sync: true } as never)
    if (this.wal) {
      this.indexer.deletedBefore = state.checkpoint.segment
      this.recovery = await replayWal(this.wal, this.sub.meta, state.checkpoint, this.options.groupBytes,
        (event, end) => this.writer.replayed(event, end), () => this.indexer.caughtUp())
      this.indexer.deletedBefore = this.wal.position().segment
    }
    if (this.options.merkleIndex && state.unindexed) {
      await this.rebuild({ from: 0, to: Number.MAX_SAFE_INTEGER })
      await this.sub.meta.del(META_UNINDEXED, { sync: true } as never)
    }
  }

  // --- writing -------------------------------------------------------------------------------

  /**
   * Signs a new event by this store's identity; resolves once it is durable (see `durability`).
   * A timestamp more than `maxSkew` ahead is E_FUTURE_TIMESTAMP: every peer would refuse it.
   * An append that rejects with E_IO was not acknowledged, but its event may still be found
   * after a reopen; appending again makes another event.
   */
  append(fields: { kind: number; payload: Uint8Array | string; timestamp?: number }): Promise<Event> {
    // Not `async`: it hands back the batch's own promise (an async function would wrap it in
    // another, settled two turns later), and turns what it throws into a rejection.
    try {
      this.life.assertOpen()
      const appended = this.life.track(this.writer.append(fields))
      // The store's reconciliations wait while it is under way (src/sync/pacer.ts, startLocal).
      const ended = this.pacer.startLocal()
      appended.then(ended, ended)
      return appended
    } catch (e) {
      return Promise.reject(e)
    }
  }

  /** Validates an envelope from elsewhere and stores it; storing an event already stored is a no-op. */
  async ingest(bytes: Uint8Array): Promise<Event> {
    this.life.assertOpen()
    if (!(bytes instanceof Uint8Array)) throw new TypeError('ingest takes the bytes of an envelope')
    return this.life.track(this.writer.ingest(bytes, 'ingest'))
  }

  /**
   * `ingest` for many envelopes at once: one result per envelope, in order, an Event or the
   * XaeroError that rejected it (also when logging it failed).
   */
  async ingestMany(envelopes: readonly Uint8Array[]): Promise<Array<Event | XaeroError>> {
    return this.ingestFrom(envelopes, 'ingest')
  }

  private async ingestFrom(envelopes: readonly Uint8Array[], origin: Origin): Promise<Array<Event | XaeroError>> {
    this.life.assertOpen()
    if (!Array.isArray(envelopes) || envelopes.some((e) => !(e instanceof Uint8Array))) throw new TypeError('ingestMany takes an array of envelopes')
    return this.life.track(this.writer.ingestMany(envelopes, origin))
  }

  /** Resolves when every call made before it has settled and every event accepted is indexed and visible to queries. */
  async flush(): Promise<void> {
    this.life.assertOpen()
    await this.life.settled()
    await this.indexer.caughtUp()
  }

  // --- reading -------------------------------------------------------------------------------

  /** The event with this id (hex or 32 bytes), or undefined. */
  async get(id: Uint8Array | string): Promise<Event | undefined> {
    this.life.assertOpen()
    const bytes = bytes32(id, 'id')
    try {
      return await getEvent(this.sub, bytes)
    } catch (e) {
      throw this.failure(e, 'get')
    }
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
    try {
      let key = bytes
      if (bytes.length === 32) {
        const ts = await this.sub.ids.get(bytes)
        if (!ts) throw new XaeroError('E_NOT_FOUND', `no event ${toHex(bytes)} is stored`)
        key = concat(ts, bytes)
      }
      return await this.tree.exclusive(() => this.tree.prove(key))
    } catch (e) {
      throw this.failure(e, 'prove')
    }
  }

  /**
   * Recomputes the Merkle pages that cover events in [from, to) from the stored events,
   * rewrites those that differ, and reports what it found. Indexing waits meanwhile.
   */
  async rebuildIndex(options: { from?: number; to?: number } = {}): Promise<RebuildReport> {
    this.assertIndexed()
    const range = checkRange(options)
    await this.flush()
    return this.life.track(this.rebuild(range))
  }

  private rebuild({ from, to }: { from: number; to: number }): Promise<RebuildReport> {
    return this.tree.exclusive(async () => {
      const write = this.db.batch()
      const { root, report } = await rebuildRange(defaultRuntime(), timeBound(from), timeBound(to), {
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
   * `subtrees`: whole subtrees one side lacks are named, not listed (`takeFound()`; docs/SYNC.md).
   * A reconciliation still running when the store closes fails with E_CLOSED.
   */
  reconcile(options: { from?: number; to?: number; signal?: AbortSignal; budget?: ReconcileBudget; subtrees?: boolean } = {}): Reconciliation {
    this.assertIndexed()
    if (typeof options !== 'object' || options === null) throw new TypeError('reconcile options must be an object')
    const { from, to } = checkRange({ from: options.from, to: options.to })
    if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) throw new TypeError('signal must be an AbortSignal')
    const tree = this.tree, closing = this.life.signal
    const signal = options.signal ? AbortSignal.any([options.signal, closing]) : closing
    // Also checked at each read of the index: the session may be between two awaits of its own.
    const unlessClosed = () => { if (closing.aborted) throw closing.reason }
    // Each call's work holds the tree, its page reads then waiting for no insert, and lets the
    // index batches queued meanwhile through at each of its yields (every 512 steps or 2 ms). Measured
    // with 10 peers of a mesh on the loaded 2-core machine: a step of ~300 page reads, each taking
    // its turn after an index batch, waited 10–15 s, past the peers' idle limit. Held for whole
    // steps instead, a liar's steps held A's indexing, and so its live pushes: 13 → 47 ms median
    // under load (test/net-hostile.test.ts). Pages read after a breath may be of a newer tree:
    // the set only grows, so that costs at most a difference found again, or an event indexed
    // meanwhile left to the live push and the next sync, as any event indexed during a sync is.
    let held = false
    return new Reconciliation({
      hold: async (work) => {
        let release = () => {}
        const acquire = () => new Promise<void>((granted) => {
          void tree.exclusive(() => new Promise<void>((released) => { release = released; granted() }))
        })
        await acquire()
        held = true
        try {
          return await work(async (rest) => {
            held = false
            release()
            try {
              await rest()
            } finally {
              await acquire()
              held = true
            }
          })
        } finally {
          held = false
          release()
        }
      },
      slot: async (prefix) => { unlessClosed(); return held ? tree.slotAt(prefix) : tree.exclusive(() => tree.slotAt(prefix)) },
      slots: async (prefixes) => { unlessClosed(); return held ? tree.slotsAt(prefixes) : tree.exclusive(() => tree.slotsAt(prefixes)) },
      pacer: this.pacer,
      hasKeys: async (keys) => {
        unlessClosed()
        try {
          return (await this.sub.events.getMany(keys)).map((v) => v !== undefined)
        } catch (e) {
          throw this.failure(e, 'reconcile')
        }
      },
    }, from, to, { signal, budget: options.budget, subtrees: options.subtrees })
  }

  /** Events stored (indexed) so far. */
  async count(): Promise<number> {
    this.life.assertOpen()
    return this.indexer.total
  }

  /**
   * Streams events in key order (time, then id), filtered by time [from, to), author and kind,
   * reading LevelDB in chunks (src/store/cursor.ts): the result set is never held in memory, and
   * an iterator that is abandoned holds at most one chunk (≤ 128 events, about 1 MiB) and no
   * LevelDB resources. Not a snapshot: events indexed while it runs may appear past its position.
   * An iterator still running when the store closes ends with E_CLOSED.
   */
  async *range(options: RangeOptions = {}): AsyncGenerator<Event> {
    this.life.assertOpen()
    const closing = this.life.signal
    try {
      for await (const event of rangeEvents(this.sub, checkRange(options))) {
        if (closing.aborted) throw closing.reason
        yield event
      }
    } catch (e) {
      throw this.failure(e, 'range')
    }
  }

  /**
   * Calls `fn` with every newly indexed event that matches `filter`, once each, in index order
   * (index batch after batch; within one, in key order).
   * Returns the function that stops the subscription.
   */
  subscribe(filter: SubscribeFilter, fn: (event: Event) => void): () => void {
    this.life.assertOpen()
    return this.feed.subscribe(filter, fn)
  }

  // --- the network ---------------------------------------------------------------------------

  /** The addresses of the store's node, each ending in /p2p/<peer id>; empty without `network`. */
  multiaddrs(): string[] {
    this.life.assertOpen()
    return this.network?.multiaddrs() ?? []
  }

  /** The group peers connected now (a sync session open with each); none while the store closes. */
  peers(): PeerInfo[] {
    // Closing ends every session and says 'peer:disconnect' for each: a listener may ask who is left.
    if (this.life.status === 'closing') return []
    this.life.assertOpen()
    return this.network?.peers() ?? []
  }

  /**
   * Reconciles with a peer (a multiaddr ending in /p2p/<peer id>, or a peer id of the group) over
   * [from, to), and exchanges what each side lacks, both ways. Events: 'peer:connect',
   * 'peer:disconnect' and 'sync' (CustomEvents whose `detail` says who and what).
   */
  async syncWith(peer: string, options: { from?: number; to?: number; signal?: AbortSignal } = {}): Promise<SyncResult> {
    this.life.assertOpen()
    if (!this.network) throw new TypeError('the store was opened without network')
    checkRange({ from: options.from, to: options.to })
    if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) throw new TypeError('signal must be an AbortSignal')
    const signal = options.signal ? AbortSignal.any([options.signal, this.life.signal]) : this.life.signal
    return this.life.track(this.network.syncWith(peer, { ...options, signal }))
  }

  /**
   * For the package's own layers only (see `internals`).
   * @internal
   */
  get [internals](): StoreInternals {
    return {
      onIndexed: (listener) => this.feed.listen(listener),
      onAppended: (listener) => this.feed.listenAppended(listener),
      ingestMany: (envelopes, origin) => this.ingestFrom(envelopes, origin),
      closing: this.life.signal,
    }
  }

  /**
   * Settles every call in flight (appends and ingests finish, or reject if they fail), ends
   * iterators and reconciliations with E_CLOSED, then closes the log, releases the workers and
   * closes LevelDB. A second call waits for the first. Rejects (E_IO) only if the log or the
   * database failed to close, after releasing everything else.
   */
  close(): Promise<void> {
    return (this.closing ??= this.shutdown())
  }

  private async shutdown(): Promise<void> {
    this.life.beginClose()
    // Peers first: nothing new arrives while the calls in flight settle.
    await this.network?.stop().catch(() => {})
    await this.life.settled()
    await this.indexer.caughtUp().catch(() => {}) // an indexing failure was given to the calls it failed
    this.feed.clear()
    await this.tree.exclusive(() => this.tree.forget())
    let failure: unknown
    await this.pipeline.close().catch((e) => { failure = e })
    await this.wal?.close().catch((e) => { failure ??= e })
    await this.db.close().catch((e) => { failure ??= levelError(e, 'cannot close the store') })
    this.lock?.release()
    this.life.status = 'closed'
    if (failure) throw failure
  }

  /** A failure of a read: E_CLOSED if the store closed meanwhile, else the XaeroError it is. */
  private failure(e: unknown, call: string): unknown {
    return this.life.closedOr(levelError(e, `${call} failed`))
  }

  private assertIndexed(): void {
    this.life.assertOpen()
    if (!this.options.merkleIndex) throw new TypeError('the store was opened with merkleIndex: false')
  }
}
