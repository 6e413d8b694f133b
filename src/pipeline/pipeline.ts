import { startWorker } from '#platform'
import type { PipelineWorker } from '../platform/types.js'
import type { Runtime } from '../core/core.js'
import { XaeroError } from '../errors.js'
import { Event, SIGNATURE_SIZE } from '../event.js'
import type { Identity } from '../identity.js'
import { SLOT_BYTES, SLOT_TABLE, fillSlot, sealSlot, slotChunks, slotResult, slotSigner, validateSlotBatched, type SlotJob, type SlotSigner, type ValidateJob } from './slot.js'

export interface PipelineOptions {
  /** Worker threads; 0 validates on the calling thread. */
  workers: number
  /** The group id every event must carry. */
  group: Uint8Array
  maxPayload: number
  maxSkew: number
  /** The store's identity: workers sign its appends. */
  identity?: Identity
}

/** What validation found for one envelope: its 40-byte key, or why it was rejected. */
export type Validated = Uint8Array | XaeroError

// Four, not two: an index batch keeps the main thread busy for several ms at a time, and a
// worker with only one slot queued behind the one it works on then runs dry (measured: appends
// ~3% faster with four; only the touched part of a slot's 2 MiB becomes resident).
const SLOTS_PER_WORKER = 4

/**
 * The CPU-heavy stages on worker threads that share the core's memory: validating envelopes
 * (structure, group, size, time, id, key, signature) and signing the store's appends. Batches
 * go through a fixed set of slots: a caller that outpaces the workers waits for a free slot,
 * so memory stays bounded. With no workers the same code runs inline.
 */
export class Pipeline {
  private readonly free: number[] = []
  private readonly waiting: Array<(slot: number) => void> = []
  private readonly done = new Map<number, () => void>()
  private readonly owner = new Map<number, PipelineWorker>()
  private signer?: SlotSigner // inline appends (workers: 0)

  private constructor(private readonly runtime: Runtime, private readonly options: PipelineOptions, private readonly workers: PipelineWorker[], private readonly workspaces: number[]) {}

  static async create(runtime: Runtime, options: PipelineOptions): Promise<Pipeline> {
    const workspaces = Array.from({ length: options.workers }, () => runtime.workspaceFor())
    const workers = await Promise.all(workspaces.map(async (workspace) => {
      const worker = startWorker({ shared: runtime.shared, workspace, secretKey: options.identity?.secretKey })
      await new Promise<void>((resolve, reject) => { worker.once('message', () => resolve()); worker.once('error', reject) })
      return worker
    }))
    const v = new Pipeline(runtime, options, workers, workspaces)
    const slots = Math.max(1, workers.length * SLOTS_PER_WORKER)
    for (let i = 0; i < slots; i++) {
      const slot = runtime.map.alloc(SLOT_BYTES)
      runtime.core.u8.set(options.group, slot)
      v.free.push(slot)
      const worker = workers[i % Math.max(1, workers.length)]
      if (worker) v.owner.set(slot, worker)
    }
    for (const w of workers) w.on('message', (slot) => v.done.get(slot as number)?.())
    return v
  }

  /** One result per envelope, in order. */
  async validate(envelopes: readonly Uint8Array[]): Promise<Validated[]> {
    return inSlots(envelopes, (e) => e.length, (chunk) => this.validateChunk(chunk), tooLarge)
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
    if (!this.options.identity) throw new TypeError('the pipeline has no identity')
    return inSlots(envelopes, (e) => e.length, (chunk) => this.sealChunk(chunk))
  }

  private async sealChunk(envelopes: Uint8Array[]): Promise<Event[]> {
    const slot = await this.acquire()
    try {
      const { core } = this.runtime
      fillSlot(core, slot, envelopes)
      await this.run({ op: 'seal', slot, count: envelopes.length, maxPayload: this.options.maxPayload })
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

  // Runs a job on the slot's worker, or inline.
  private async run(job: SlotJob): Promise<void> {
    const worker = this.owner.get(job.slot)
    if (worker) {
      await new Promise<void>((resolve) => { this.done.set(job.slot, resolve); worker.postMessage(job) })
      this.done.delete(job.slot)
    } else if (job.op === 'validate') {
      await validateSlotBatched(this.runtime.core, job)
    } else {
      await sealSlot(this.runtime.core, job, this.signer ??= slotSigner(this.options.identity!.secretKey))
    }
  }

  private acquire(): Promise<number> {
    const slot = this.free.pop()
    return slot !== undefined ? Promise.resolve(slot) : new Promise((resolve) => this.waiting.push(resolve))
  }

  private release(slot: number): void {
    const next = this.waiting.shift()
    if (next) next(slot)
    else this.free.push(slot)
  }

  /** Stops the workers and returns their workspaces and the slots to the memory map. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()))
    for (const region of [...this.free, ...this.workspaces]) this.runtime.map.release(region)
    this.free.length = 0
    this.workspaces.length = 0
  }
}

/**
 * Splits `items` into chunks that fit a slot (count and bytes) and runs them concurrently, one
 * slot each; results come back in input order. An item too large for any slot gets `tooLarge`.
 */
async function inSlots<T, R>(items: readonly T[], size: (item: T) => number, run: (chunk: T[]) => Promise<R[]>, tooLarge?: (item: T) => R): Promise<R[]> {
  const chunks: Array<Promise<R[]>> = []
  for (const { start, end, fits } of slotChunks(items, size)) {
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
