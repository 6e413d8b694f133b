// Drops, before any signature check, events a store already holds or is storing right now.
//
// Why: in a mesh every event reaches a peer from several neighbours, each pushing what it has
// just indexed, and a sync on connect or after a gap overlaps those pushes. Without this filter
// every copy went through the workers' Ed25519 verification before the indexer dropped it as a
// duplicate: with 20 peers of up to 8 neighbours each, the 2-core machine spent most of its time
// verifying copies, and the 20-peer convergence bench never converged (docs/NETWORK.md).
//
// The filter keys on the event id (SHA-256 of the envelope without its signature, ~1.5 µs for a
// 344-byte envelope in the WebAssembly core), never on the signature, and holds only ids that
// are stored (so verified once): a copy with another signature, or a forged one, can neither be
// stored nor keep the real event out. A copy of an event being ingested from another peer waits
// for that ingest, and is ingested itself if that one failed (a forged copy sent first must not
// keep the real one out).
import { defaultRuntime } from '../core/default.js'
import type { Event } from '../event.js'
import { HEADER_SIZE, SIGNATURE_SIZE } from '../event.js'
import { XaeroError } from '../errors.js'
import { toHex } from '../hex.js'

/** Ids of recently stored events kept, at most (about 2 MB of strings). */
export const RECENT_IDS = 16_384

/** What an ingest returns per envelope: its Event, the error that refused it, or null when the store already held it (not checked again). */
export type IngestOutcome = Event | XaeroError | null

type Ingest = (envelopes: readonly Uint8Array[]) => Promise<Array<Event | XaeroError>>

/**
 * A set of at most `capacity` ids: adding one to a full set forgets the oldest. A ring of the ids
 * in insertion order says which, in O(1): taking a Set's first value instead walks over the slots
 * its deletions left at the front of V8's table, and in the Deduplicator it took ~1 s of a
 * 200 000-event sync's main thread (a CPU profile).
 */
export class RecentIds {
  private readonly ids = new Set<string>()
  /** The ids in the order they came, a ring: `next` is where the next one goes, over the oldest. */
  private readonly order: Array<string | undefined>
  private next = 0

  constructor(private readonly capacity: number) {
    this.order = new Array<string | undefined>(capacity).fill(undefined)
  }

  has(id: string): boolean { return this.ids.has(id) }

  add(id: string): void {
    if (this.ids.has(id)) return
    const oldest = this.order[this.next]
    if (oldest !== undefined) this.ids.delete(oldest)
    this.order[this.next] = id
    this.next = (this.next + 1) % this.capacity
    this.ids.add(id)
  }

  /** Forgets `id` now; true if it was held. (Its slot in the ring stays: were it added again, it would be forgotten when that slot comes round.) */
  delete(id: string): boolean { return this.ids.delete(id) }
}

export class Deduplicator {
  private readonly recent: RecentIds
  /** Ids being ingested: the results of the ingest storing each, and its place in them. */
  private readonly inFlight = new Map<string, { results: Promise<Array<Event | XaeroError> | undefined>; k: number }>()

  constructor(capacity = RECENT_IDS) {
    this.recent = new RecentIds(capacity)
  }

  /** Records ids the store has indexed (from any origin). */
  stored(events: readonly Event[]): void {
    for (const e of events) this.recent.add(e.id)
  }

  /** Whether the store indexed `id` recently (of the last `capacity`) or is storing it now. */
  has(id: string): boolean { return this.recent.has(id) || this.inFlight.has(id) }

  /**
   * Ingests, with `ingest`, what is neither held nor on its way; one outcome per envelope, in
   * order. `known`: the envelopes' ids if the caller computed them (as `envelopeIds` would).
   */
  async ingestMany(envelopes: readonly Uint8Array[], ingest: Ingest, known?: ReadonlyArray<string | undefined>): Promise<IngestOutcome[]> {
    const ids = known ?? envelopeIds(envelopes)
    const outcomes: IngestOutcome[] = new Array(envelopes.length).fill(null)
    const fresh: number[] = [], waiting: Array<{ i: number; done: Promise<boolean> }> = []
    const mine = new Set<string>()
    for (let i = 0; i < envelopes.length; i++) {
      const id = ids[i]
      if (id === undefined) { fresh.push(i); continue } // malformed: validation says why
      if (this.recent.has(id)) continue
      const other = this.inFlight.get(id)
      if (other && !mine.has(id)) { waiting.push({ i, done: other.results.then((r) => r !== undefined && !(r[other.k] instanceof XaeroError)) }); continue }
      fresh.push(i)
      mine.add(id)
    }
    await this.run(fresh, envelopes, ids, outcomes, ingest)
    // Copies of events another ingest was storing: done if it stored them, else ingested here.
    const retry: number[] = []
    for (const { i, done } of waiting) if (!(await done)) retry.push(i)
    if (retry.length > 0) await this.run(retry, envelopes, ids, outcomes, ingest)
    return outcomes
  }

  private async run(indexes: number[], envelopes: readonly Uint8Array[], ids: ReadonlyArray<string | undefined>, outcomes: IngestOutcome[], ingest: Ingest): Promise<void> {
    if (indexes.length === 0) return
    let settle!: (results: Array<Event | XaeroError> | undefined) => void
    const results = new Promise<Array<Event | XaeroError> | undefined>((resolve) => { settle = resolve })
    const claimed: string[] = []
    indexes.forEach((i, k) => {
      const id = ids[i]
      if (id === undefined || this.inFlight.has(id)) return
      // The promise of one id's outcome is made only for a copy that waits on it (above): one
      // per id cost ~5 µs an event, 1 s of a 200 000-event sync's main thread (a CPU profile).
      this.inFlight.set(id, { results, k })
      claimed.push(id)
    })
    try {
      const got = await ingest(indexes.map((i) => envelopes[i]))
      settle(got)
      indexes.forEach((i, k) => {
        outcomes[i] = got[k]
        if (!(got[k] instanceof XaeroError) && ids[i] !== undefined) this.recent.add(ids[i]!)
      })
    } catch (e) {
      settle(undefined)
      throw e
    } finally {
      for (const id of claimed) this.inFlight.delete(id)
    }
  }
}

/** Envelopes hashed per call of the core (their bytes, a job table and the digests in one region). */
const IDS_PER_CALL = 256
/** A job of the core's `sha256Many`: { bytes u32, length u32, digest u32 }; a length of SKIP is passed over. */
const JOB = 12
const SKIP = 0xffffffff

/**
 * Each envelope's id (hex), or undefined where its length field does not match its size. The
 * ids are hashed four at a time in the core (`sha256Many`), IDS_PER_CALL envelopes per call:
 * one `sha256` call per envelope cost ~5 µs each on the receiving thread, 1.0 s of a 200 000-event
 * sync's main thread (a CPU profile of the receiver).
 */
export function envelopeIds(envelopes: readonly Uint8Array[]): Array<string | undefined> {
  const ids = new Array<string | undefined>(envelopes.length)
  for (let start = 0; start < envelopes.length; start += IDS_PER_CALL) idsOf(envelopes, start, Math.min(envelopes.length, start + IDS_PER_CALL), ids)
  return ids
}

function idsOf(envelopes: readonly Uint8Array[], start: number, end: number, ids: Array<string | undefined>): void {
  const signedLength = new Array<number>(end - start)
  let bytes = 0
  for (let i = start; i < end; i++) {
    const e = envelopes[i], signed = e.length - SIGNATURE_SIZE
    const valid = e.length >= HEADER_SIZE + SIGNATURE_SIZE && new DataView(e.buffer, e.byteOffset + 76, 4).getUint32(0) === signed - HEADER_SIZE
    signedLength[i - start] = valid ? signed : -1
    if (valid) bytes += signed
  }
  const count = end - start, runtime = defaultRuntime(), { core } = runtime
  runtime.withRegion(bytes + count * (JOB + 32), (ptr) => {
    const jobs = ptr + bytes, digests = jobs + count * JOB
    const u8 = core.u8, dv = core.dv
    for (let k = 0, at = ptr; k < count; k++) {
      const job = jobs + k * JOB, signed = signedLength[k]
      if (signed < 0) { dv.setUint32(job + 4, SKIP, true); continue }
      u8.set(envelopes[start + k].subarray(0, signed), at)
      dv.setUint32(job, at, true)
      dv.setUint32(job + 4, signed, true)
      dv.setUint32(job + 8, digests + k * 32, true)
      at += signed
    }
    core.exports.sha256Many(jobs, count, JOB)
    const hashed = core.u8
    for (let k = 0; k < count; k++) ids[start + k] = signedLength[k] < 0 ? undefined : toHex(hashed.subarray(digests + k * 32, digests + k * 32 + 32))
  })
}
