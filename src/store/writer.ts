// The write path (docs/STORAGE.md, Write path): appends are sealed (id, key, signature) by the
// pipeline and ingests validated by it, both in batches; then they are logged durably in the
// WAL and queued for the indexer, with backpressure so that memory stays bounded.
import { mapPacked } from '../arrays.js'
import { copyPooled, pooled } from '../bytes.js'
import { XaeroError } from '../errors.js'
import { Event, HEADER_SIZE, SIGNATURE_SIZE, checkFields, writeEnvelope } from '../event.js'
import { Batcher } from '../pipeline/batcher.js'
import type { Pipeline } from '../pipeline/pipeline.js'
import { slotChunks } from '../pipeline/slot.js'
import type { Origin } from './feed.js'
import type { Indexer, Queued } from './indexer.js'
import type { StoreOptions } from './options.js'
import type { Wal, WalPosition } from './wal.js'

type Bytes = Uint8Array

/** Single appends and ingests go through the workers in batches of at most this many. */
const PIPELINE_BATCH = 128
/** Events logged but not yet indexed, at most: beyond this, appends and ingests wait. */
const MAX_UNINDEXED = 8192
const MAX_UNINDEXED_BYTES = 32 << 20
const DONE = Promise.resolve()
const noop = () => {}

export class WritePath {
  /** Events being logged (between the WAL call and the indexer's queue). */
  private inflight = 0
  private unindexedBytes = 0
  private readonly roomWaiters: Array<() => void> = []
  /**
   * Ingested or replayed events logged (or being logged) and not yet indexed, by id: each with
   * the promise of its durability, for an ingest of the same event to wait on. Appends are not
   * kept here: their events were signed just now, so nobody is waiting on them, and an ingest of
   * one before it is indexed logs it again, for the indexer to drop.
   */
  private readonly pending = new Map<string, Promise<void>>()
  private readonly toValidate = new Batcher((envelopes: Bytes[]) => this.pipeline.validate(envelopes), PIPELINE_BATCH)
  private readonly toSeal = new Batcher(async (envelopes: Bytes[]) => {
    const events = await this.pipeline.seal(envelopes)
    await this.logMany(events, 'append', false, this.onAppended)
    return events
  }, PIPELINE_BATCH)

  /**
   * `onAppended`: called with each batch of appends once written to the write-ahead log, before
   * its fsync and before they are indexed (without a log, once indexed). The network pushes
   * them from there: a peer receives an append while its author's fsync runs, as a Raft leader
   * sends entries before its own disk write ends (docs/NETWORK.md, Live push).
   */
  constructor(private readonly options: StoreOptions, private readonly pipeline: Pipeline, private readonly indexer: Indexer, private readonly wal: Wal | undefined,
    private readonly onAppended?: (events: readonly Event[]) => void) {}

  /**
   * Signs a new event by the store's identity; resolves once it is durable. The rules every
   * peer applies (payload size, a timestamp at most `maxSkew` ahead, the writers list) are
   * applied here too: an event that peers would refuse is never stored.
   */
  append(fields: { kind: number; payload: Uint8Array | string; timestamp?: number }): Promise<Event> {
    const { identity, writers, groupBytes, maxPayload, maxSkew } = this.options
    if (!identity) throw new TypeError('append needs the store opened with an identity')
    if (writers && !writers.has(identity.id)) throw new XaeroError('E_NOT_WRITER', `${identity.id} is not a writer of this group`)
    if (!fields || typeof fields !== 'object') throw new TypeError('append takes { kind, payload, timestamp? }')
    // A literal of fixed shape, not `{ ...fields, group }`: a property defined after a spread
    // takes V8's slow path on every call, and leaves checkFields' loads missing their caches
    // (measured: ~9% of the main thread in a burst of appends).
    const checked = checkFields({ kind: fields.kind, timestamp: fields.timestamp, payload: fields.payload, group: groupBytes }, maxPayload)
    if (fields.timestamp !== undefined && checked.timestamp > Date.now() + maxSkew) {
      throw new XaeroError('E_FUTURE_TIMESTAMP', `timestamp ${checked.timestamp} is more than ${maxSkew} ms ahead: peers would refuse the event`, { details: { timestamp: checked.timestamp, maxSkew } })
    }
    // The envelope, unsigned, now: the event is the payload as it is now, whatever the caller
    // does next. Appends made together are sealed (id, key, signature) together, by the
    // workers, and logged together.
    const envelope = pooled(checked.payload.length + HEADER_SIZE + SIGNATURE_SIZE)
    writeEnvelope(envelope, 0, checked, identity.publicKey)
    return this.toSeal.add(envelope)
  }

  /** Validates an envelope and stores it; storing an event already stored is a no-op. */
  async ingest(bytes: Bytes, origin: Origin): Promise<Event> {
    // Calls made together are validated together: one batch through the workers.
    const key = await this.toValidate.add(bytes)
    if (key instanceof XaeroError) throw key
    const event = new Event(copyPooled(bytes), key)
    const [result] = await this.accept([event], origin)
    if (result instanceof XaeroError) throw result
    return event
  }

  /** One result per envelope, in order: its Event, or the XaeroError that rejected it (a failed WAL write included). */
  async ingestMany(envelopes: readonly Bytes[], origin: Origin): Promise<Array<Event | XaeroError>> {
    const keys = await this.pipeline.validate(envelopes)
    const results = mapPacked(keys, (k, i): Event | XaeroError => (k instanceof XaeroError ? k : new Event(copyPooled(envelopes[i]), k)))
    const events = results.filter((r): r is Event => r instanceof Event)
    const outcomes = await this.accept(events, origin)
    const byEvent = new Map(events.map((e, i) => [e, outcomes[i]]))
    return results.map((r) => (r instanceof Event ? byEvent.get(r)! : r))
  }

  // Checks writers, and logs what is not on its way yet; one outcome per event. An event on its
  // way is waited for: an ingest resolves only once its event is durable, whoever logged it. An
  // event already stored is logged again and dropped by the indexer, which checks every batch:
  // asking LevelDB here would look up a missing key per new event, which LevelDB pays for with
  // seek compactions (docs/STORAGE.md, Write path).
  private async accept(events: readonly Event[], origin: Origin): Promise<Array<Event | XaeroError>> {
    const { writers } = this.options
    const outcomes: Array<Event | XaeroError | Promise<void>> = []
    const toLog = new Map<string, Event>() // one of each: an envelope may come twice
    for (const e of events) {
      if (writers && !writers.has(e.author)) {
        outcomes.push(new XaeroError('E_NOT_WRITER', `${e.author} is not a writer of this group`))
        continue
      }
      outcomes.push(this.pending.get(e.id) ?? DONE)
      if (!this.pending.has(e.id)) toLog.set(e.id, e)
    }
    if (toLog.size > 0) {
      const durable = this.logChunks([...toLog.values()], origin, true)
      for (let i = 0; i < events.length; i++) {
        const e = events[i]
        if (!(outcomes[i] instanceof XaeroError) && toLog.has(e.id)) outcomes[i] = durable.get(e.id)!
      }
    }
    // A few distinct promises (one per WAL call) stand for many events: settle each once.
    const distinct = [...new Set(outcomes.filter((o): o is Promise<void> => o instanceof Promise))]
    const failed = new Map<Promise<void>, unknown>()
    ;(await Promise.allSettled(distinct)).forEach((r, i) => { if (r.status === 'rejected') failed.set(distinct[i], r.reason) })
    return outcomes.map((o, i) => {
      if (!(o instanceof Promise)) return o
      if (!failed.has(o)) return events[i]
      const e = failed.get(o)
      if (e instanceof XaeroError) return e
      throw e
    })
  }

  // Logs events durably, a slot's worth per WAL call, and queues them for indexing; with
  // `track`, each event is pending (with the promise of its durability) until indexed.
  // `onWritten` gets each chunk once written (see `onAppended`).
  private logChunks(events: readonly Event[], origin: Origin, track: boolean, onWritten?: (events: readonly Event[]) => void): Map<string, Promise<void>> {
    const durable = new Map<string, Promise<void>>()
    for (const { start, end } of slotChunks(events, (e) => e.bytes.length)) {
      const chunk = events.slice(start, end)
      const written = this.write(chunk, origin, track, onWritten)
      written.catch(() => {}) // each caller awaits it; this only marks it handled
      for (const e of chunk) {
        if (track) this.pending.set(e.id, written)
        durable.set(e.id, written)
      }
    }
    return durable
  }

  private logMany(events: readonly Event[], origin: Origin, track: boolean, onWritten?: (events: readonly Event[]) => void): Promise<unknown> {
    const parts = new Set(this.logChunks(events, origin, track, onWritten).values())
    return parts.size === 1 ? parts.values().next().value! : Promise.all(parts)
  }

  private async write(events: Event[], origin: Origin, track: boolean, onWritten?: (events: readonly Event[]) => void): Promise<void> {
    const bytes = events.reduce((n, e) => n + e.bytes.length, 0)
    await this.room(events.length, bytes)
    this.inflight += events.length
    this.unindexedBytes += bytes
    let queued = false
    // The checkpoint may only move past whole WAL calls: the last event carries the call's end.
    const queue = (end?: WalPosition, durable?: Promise<void>) => {
      queued = true
      this.inflight -= events.length
      events.forEach((e, i) => this.enqueue(e, i === events.length - 1 ? end : undefined, origin, track, durable))
    }
    try {
      if (this.wal) {
        // Queued for indexing once written, while the fsync runs: the indexer announces a batch
        // only once its WAL calls are durable (Queued.durable), so subscribers and peers still
        // see only durable events, and indexing no longer waits for the disk (~1 ms of a live
        // push at durability 'batch', docs/dev/latency.md).
        const durable: Promise<unknown> = this.wal.appendMany(mapPacked(events, (e) => e.bytes), (end) => {
          queue(end, durable.then(noop, noop))
          onWritten?.(events)
        })
        await durable
      } else {
        queue()
        // Without a log (in memory; IndexedDB in a browser) an event is durable once its index batch is.
        await this.indexer.caughtUp()
        onWritten?.(events)
      }
    } catch (e) {
      // A later ingest of these events logs them again (the indexer drops what it has stored).
      if (track) for (const event of events) this.pending.delete(event.id)
      if (!queued) {
        this.inflight -= events.length
        this.unindexedBytes -= bytes
      }
      throw e
    }
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

  /** Queues an event logged earlier (WAL replay) for indexing. */
  replayed(event: Event, end: WalPosition): void {
    this.unindexedBytes += event.bytes.length
    this.enqueue(event, end, 'replay', true)
  }

  private enqueue(event: Event, end: WalPosition | undefined, origin: Origin, track: boolean, durable?: Promise<void>): void {
    if (track && !this.pending.has(event.id)) this.pending.set(event.id, DONE)
    this.indexer.enqueue(event, end, origin, durable)
  }

  /** After each index batch: its events are no longer pending, and waiting producers may go on. */
  indexed(batch: readonly Queued[]): void {
    const tracked = this.pending.size > 0 // else the batch holds appends only: no id to compute
    for (const q of batch) {
      if (tracked) this.pending.delete(q.event.id)
      this.unindexedBytes -= q.event.bytes.length
    }
    this.wake()
  }

  /** Wakes producers waiting for room (after a batch, or when indexing failed). */
  wake(): void {
    for (const wake of this.roomWaiters.splice(0)) wake()
  }
}
