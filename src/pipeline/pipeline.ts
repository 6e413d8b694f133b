import type { Runtime } from '../core/core.js'
import { XaeroError } from '../errors.js'
import { Event, SIGNATURE_SIZE } from '../event.js'
import type { Identity } from '../identity.js'
import { WorkerPool } from './pool.js'
import { SLOT_EVENTS, SLOT_TABLE, cachedSigner, fillSlot, sealSlot, slotChunks, slotResult, validateSlotBatched, type SealJob, type SlotJob, type ValidateJob } from './slot.js'

export interface PipelineOptions {
  /**
   * 0: this store's jobs run on the calling thread. N > 0: they run on the process's shared
   * worker pool, which grows to at least N workers (src/pipeline/pool.ts says how).
   */
  workers: number
  /** The group id every event must carry. */
  group: Uint8Array
  maxPayload: number
  maxSkew: number
  /** The store's identity: its appends are signed by it. */
  identity?: Identity
}

/** What validation found for one envelope: its 40-byte key, or why it was rejected. */
export type Validated = Uint8Array | XaeroError

/**
 * One store's handle on the CPU-heavy stages: validating envelopes (structure, group, size,
 * time, id, key, signature) and signing the store's appends, batch by batch in the slots of the
 * process's shared pool (src/pipeline/pool.ts), on its worker threads or, with `workers: 0`,
 * inline. The store's settings (group, limits, signing key) travel with each job, so one pool
 * serves stores of any group and identity.
 */
export class Pipeline {
  private closing?: Promise<void>
  private inflight = 0
  private idle?: () => void
  private readonly author?: string
  private readonly secretKey?: Uint8Array

  private constructor(private readonly runtime: Runtime, private readonly options: PipelineOptions, private readonly pool: WorkerPool) {
    if (options.identity) {
      this.author = options.identity.id
      this.secretKey = options.identity.secretKey
    }
  }

  /**
   * Takes a reference to the runtime's pool (starting its workers if this store is the first
   * to need them). If that fails (E_WORKER_FAILED, E_OUT_OF_MEMORY), nothing is left held.
   */
  static async create(runtime: Runtime, options: PipelineOptions): Promise<Pipeline> {
    if (!(options.group instanceof Uint8Array) || options.group.length !== 32) throw new TypeError('group must be 32 bytes')
    return new Pipeline(runtime, options, await WorkerPool.acquire(runtime, options.workers))
  }

  /** One result per envelope, in order. */
  async validate(envelopes: readonly Uint8Array[]): Promise<Validated[]> {
    return inSlots(envelopes, (e) => e.length, this.perJob(envelopes.length), (chunk) => this.validateChunk(chunk), tooLarge)
  }

  private async validateChunk(envelopes: Uint8Array[]): Promise<Validated[]> {
    const slot = await this.acquire()
    try {
      fillSlot(this.runtime.core, slot, envelopes)
      const job: ValidateJob = {
        op: 'validate', slot, count: envelopes.length, hasGroup: true, verify: true,
        maxPayload: this.options.maxPayload, maxTimestamp: Date.now() + this.options.maxSkew,
      }
      await this.run(job)
      return envelopes.map((_, i) => {
        const result = slotResult(this.runtime.core, slot, i)
        return typeof result === 'string' ? new XaeroError(result) : result
      })
    } finally {
      this.release(slot)
    }
  }

  /**
   * Signs envelopes by the pipeline's identity (built by `writeEnvelope` with it, signature
   * zero) in place: they are copied into a slot, the worker computes their ids (four at a time
   * in the core) and signs them where they lie, and the signatures are copied back.
   */
  async seal(envelopes: readonly Uint8Array[]): Promise<Event[]> {
    if (!this.secretKey) throw new TypeError('the pipeline has no identity')
    return inSlots(envelopes, (e) => e.length, this.perJob(envelopes.length), (chunk) => this.sealChunk(chunk))
  }

  private async sealChunk(envelopes: Uint8Array[]): Promise<Event[]> {
    const slot = await this.acquire()
    try {
      const { core } = this.runtime
      fillSlot(core, slot, envelopes)
      await this.run({ op: 'seal', slot, count: envelopes.length, maxPayload: this.options.maxPayload, author: this.author!, secretKey: this.secretKey! } satisfies SealJob)
      const { u8, dv } = core // current again: the memory may have grown meanwhile
      const sealed: Event[] = []
      for (let i = 0; i < envelopes.length; i++) {
        const key = slotResult(core, slot, i)
        if (typeof key === 'string') throw new Error(`the core rejected an envelope it built: ${key}`) // a bug, not bad input
        const envelope = envelopes[i], end = dv.getUint32(slot + SLOT_TABLE + i * 8, true) + envelope.length
        envelope.set(u8.subarray(end - SIGNATURE_SIZE, end), envelope.length - SIGNATURE_SIZE)
        sealed.push(new Event(envelope, key))
      }
      return sealed
    } finally {
      this.release(slot)
    }
  }

  private perJob(n: number): number {
    return jobSize(n, this.options.workers > 0 ? this.pool.workers : 1)
  }

  // Runs a job on the pool's workers, or inline: with `workers: 0`, and a job of one envelope
  // while the workers are idle. Its Ed25519 sign or verify takes ~0.05 ms here, the round trip to
  // a worker ~0.4 ms more, and a live push waits for two of them, one on each peer
  // (docs/dev/latency.md). A worker that is busy is left to it: the job could wait behind
  // another there, but this thread has the network and the indexer to run.
  private run(job: SlotJob): Promise<void> {
    if (this.options.workers > 0 && !(job.count === 1 && this.pool.idle)) return this.pool.run(job)
    if (job.op === 'validate') return validateSlotBatched(this.runtime.core, job)
    return sealSlot(this.runtime.core, job, cachedSigner(job.author, job.secretKey))
  }

  // A slot of the pool's, with this store's group in its first 32 bytes (the slot is the pool's:
  // the last job there may have been another store's).
  private async acquire(): Promise<number> {
    if (this.closing) throw new XaeroError('E_CLOSED', 'the pipeline is closed')
    this.inflight++
    try {
      const slot = await this.pool.acquireSlot()
      this.runtime.core.u8.set(this.options.group, slot)
      return slot
    } catch (e) {
      this.done()
      throw e
    }
  }

  private release(slot: number): void {
    this.pool.releaseSlot(slot)
    this.done()
  }

  private done(): void {
    if (--this.inflight === 0) this.idle?.()
  }

  /**
   * Waits for this store's jobs under way (each ends: done, or failed with its worker), then
   * gives back its reference to the pool; the last one stops the workers. Idempotent: later
   * calls return the same promise. Calls made after it reject with E_CLOSED.
   */
  close(): Promise<void> {
    return (this.closing ??= (async () => {
      if (this.inflight > 0) await new Promise<void>((resolve) => { this.idle = resolve })
      await this.pool.release()
    })())
  }
}

/**
 * The fewest envelopes a job is split to: below it, a worker's round trip (~0.4 ms) costs more
 * than the share of the verifies (40 µs each) it takes off the other worker.
 */
export const MIN_JOB = 32

/**
 * Envelopes per job for a batch of `n` on `workers` workers: a batch that would fill fewer slots
 * than there are workers is spread over them, in jobs of MIN_JOB envelopes or more, rather than
 * given to one. Measured: a catch-up's 100 received events were one job; spread over 2 workers,
 * their validation took 3.0–5.2 ms instead of 4.9–6.5 in a warm process (5.0 instead of 7.4 ms
 * in the process's first batch; medians of 6 runs, the store's ingestMany).
 */
export function jobSize(n: number, workers: number): number {
  const jobs = Math.max(Math.ceil(n / SLOT_EVENTS), Math.min(workers, Math.floor(n / MIN_JOB)), 1)
  return Math.ceil(n / jobs)
}

/**
 * Splits `items` into chunks of at most `most` that fit a slot (count and bytes) and runs them
 * concurrently, one slot each; results come back in input order. An item too large for any slot
 * gets `tooLarge`.
 */
async function inSlots<T, R>(items: readonly T[], size: (item: T) => number, most: number, run: (chunk: T[]) => Promise<R[]>, tooLarge?: (item: T) => R): Promise<R[]> {
  const chunks: Array<Promise<R[]>> = []
  for (const { start, end, fits } of slotChunks(items, size, most)) {
    if (fits) chunks.push(run(items.slice(start, end)))
    else if (tooLarge) chunks.push(Promise.resolve([tooLarge(items[start])]))
    else throw new RangeError('an item does not fit a slot')
  }
  return (await Promise.all(chunks)).flat()
}

// An envelope larger than a slot cannot be valid: a slot holds the largest allowed event.
function tooLarge(envelope: Uint8Array): XaeroError {
  return new XaeroError('E_PAYLOAD_TOO_LARGE', `an envelope of ${envelope.length} bytes is over any payload limit`)
}
