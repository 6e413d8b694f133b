import { startWorker } from '#platform'
import type { PipelineWorker } from '../platform/types.js'
import type { Runtime } from '../core/core.js'
import { XaeroError } from '../errors.js'
import type { WorkerData, WorkerFailure } from './serve.js'
import { SLOT_BYTES, type SlotJob } from './slot.js'

/**
 * The most workers a pool runs, whatever the stores ask for: each is a thread and a workspace,
 * and brings SLOTS_PER_WORKER slots (2.3 MiB each, only the touched part resident).
 */
export const MAX_POOL_WORKERS = 16

// Four per worker, not two: an index batch keeps the main thread busy for several ms at a time,
// and a worker with only one slot queued behind the one it works on then runs dry (measured:
// appends ~3% faster with four; only the touched part of a slot's 2 MiB becomes resident).
const SLOTS_PER_WORKER = 4
/** A worker that has not said 'ready' by then has failed to start: nothing waits forever. */
const START_TIMEOUT = 30_000
/** After a failed start, replacements are tried again no sooner than this (a job with no worker at all tries at once). */
const RETRY_AFTER = 1000

interface Waiter<T> { resolve: (value: T) => void; reject: (error: unknown) => void }

class Thread {
  /** Jobs posted and not yet answered, by slot. */
  readonly jobs = new Map<number, Waiter<void>>()
  ready = false
  /** Failed or stopped: it takes no more jobs, and what it sends is ignored. */
  retired = false
  /** Settles the start: resolves on 'ready', rejects if the worker fails first. */
  started?: (error?: unknown) => void
  constructor(readonly worker: PipelineWorker, readonly workspace: number) {}
}

const pools = new WeakMap<Runtime, WorkerPool>()

/**
 * The process's pipeline workers and slots (one pool per runtime, that is per thread that owns a
 * runtime), shared by every open store: a store is a reference (`acquire` … `release`).
 *
 * - Lazily started: importing the package starts no thread; the first store that wants workers
 *   starts them, and the pool stops them and returns their memory when the last store releases
 *   it, so a process whose stores are all closed can exit.
 * - Size: a store opened with `workers: N` asks for at least N workers: the pool grows to the
 *   largest N asked for since it started (at most MAX_POOL_WORKERS) and keeps that size while any
 *   store is open. `workers: 0` starts nothing (the store validates on its own thread) but
 *   still holds a reference, for the slots.
 * - Slots belong to the pool: SLOTS_PER_WORKER per worker (at least one worker's worth), each
 *   allocated when first needed; a caller that outpaces the workers waits for a free slot, so
 *   memory stays bounded by the pool's size, not by the number of stores.
 * - A worker that dies (crashes, is terminated, the core throws in it) fails every job it held
 *   with E_WORKER_FAILED (its error as `cause`) and is replaced by a new worker on a fresh
 *   workspace. The dead worker's workspace and the slots of its jobs are reused only once its
 *   thread is known to have stopped (Node: when `terminate` settles); in browsers, which cannot
 *   tell, they are left unreleased (at most 2.3 MiB × its jobs, per death).
 */
export class WorkerPool {
  private refs = 0
  private size = 0
  private stopped = false
  /** Workers ready and alive, in start order. */
  private readonly threads: Thread[] = []
  /** Every worker not yet retired, starting ones too. */
  private readonly all = new Set<Thread>()
  /** Dead workers being stopped: the last `release` waits for them too. */
  private readonly dying = new Set<Promise<void>>()
  private starting?: Promise<void>
  private retryAt = 0
  private readonly free: number[] = []
  private readonly waiting: Array<Waiter<number>> = []
  /** Slots the pool has, free or held. */
  private slots = 0
  /** Slots whose job's worker died: `returned` by their holder, its thread `stopped`; freed once both. */
  private readonly orphans = new Map<number, { returned: boolean; stopped: boolean }>()
  /** Workers this pool has started, replacements included (figures and tests). */
  started = 0

  private constructor(private readonly runtime: Runtime) {}

  /**
   * A reference to the runtime's pool, grown to at least `workers` workers (see the class), all
   * of them started (or the ones the pool already had). If a worker fails to start, the reference
   * is released again and this rejects with E_WORKER_FAILED.
   */
  static async acquire(runtime: Runtime, workers: number): Promise<WorkerPool> {
    if (!Number.isInteger(workers) || workers < 0) throw new RangeError('workers must be a whole number')
    let pool = pools.get(runtime)
    if (!pool) pools.set(runtime, (pool = new WorkerPool(runtime)))
    pool.refs++
    const before = pool.size, wanted = Math.min(workers, MAX_POOL_WORKERS)
    if (wanted > pool.size) pool.size = wanted
    try {
      if (workers > 0) await pool.startMissing()
      return pool
    } catch (e) {
      if (pool.size === wanted) pool.size = before // not grown by this store after all
      await pool.release()
      throw e
    }
  }

  /** Gives back a reference; the last one stops the workers (resolving once they have stopped) and frees the slots. */
  async release(): Promise<void> {
    if (this.refs <= 0) throw new Error('WorkerPool.release without acquire') // a bug: Pipeline.close is idempotent
    if (--this.refs > 0) return
    this.stopped = true
    if (pools.get(this.runtime) === this) pools.delete(this.runtime)
    for (const slot of this.free.splice(0)) this.freeSlot(slot)
    const closed = new XaeroError('E_CLOSED', 'the worker pool stopped')
    for (const w of this.waiting.splice(0)) w.reject(closed)
    await Promise.all([...this.all].map((t) => this.retire(t, closed)).concat([...this.dying]))
  }

  /** A slot for one job, for the caller alone until `releaseSlot`. */
  acquireSlot(): Promise<number> {
    const slot = this.free.pop()
    if (slot !== undefined) return Promise.resolve(slot)
    if (this.stopped) return Promise.reject(new XaeroError('E_CLOSED', 'the worker pool stopped'))
    if (this.slots < this.target) return new Promise((resolve) => resolve(this.newSlot())) // rejects with E_OUT_OF_MEMORY
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }))
  }

  releaseSlot(slot: number): void {
    const orphan = this.orphans.get(slot)
    if (orphan) {
      orphan.returned = true
      if (orphan.stopped) this.freeOrphan(slot)
      return
    }
    const next = this.waiting.shift()
    if (next) next.resolve(slot)
    else if (this.stopped) this.freeSlot(slot)
    else this.free.push(slot)
  }

  /**
   * Runs the job on the least busy worker; resolves once it is done, rejects with
   * E_WORKER_FAILED if that worker dies first (or no worker can be started).
   */
  run(job: SlotJob): Promise<void> {
    const threads = this.threads
    if (threads.length === 0) {
      if (this.stopped || this.size === 0) return Promise.reject(new XaeroError('E_CLOSED', 'the worker pool has no workers'))
      return this.startMissing().then(() => this.run(job))
    }
    if (threads.length < this.size && !this.starting && Date.now() >= this.retryAt) this.startMissing().catch(() => {})
    let thread = threads[0]
    for (let i = 1; i < threads.length; i++) if (threads[i].jobs.size < thread.jobs.size) thread = threads[i]
    return new Promise((resolve, reject) => {
      thread.jobs.set(job.slot, { resolve, reject })
      thread.worker.postMessage(job)
    })
  }

  /** Workers ready now (at least one counted): how many jobs can run at once. */
  get workers(): number {
    return Math.max(1, this.threads.length)
  }

  /** True when workers are running and none has a job: a job sent now waits for nobody. */
  get idle(): boolean {
    return this.threads.length > 0 && this.threads.every((t) => t.jobs.size === 0)
  }

  /** What tests look at: the live workers (a test may terminate one) and the counts. */
  inspect(): { size: number; refs: number; started: number; slots: number; workers: Array<{ worker: PipelineWorker; jobs: number }> } {
    return { size: this.size, refs: this.refs, started: this.started, slots: this.slots, workers: this.threads.map((t) => ({ worker: t.worker, jobs: t.jobs.size })) }
  }

  /** The runtime's pool, if one is running (for tests). */
  static of(runtime: Runtime): WorkerPool | undefined {
    return pools.get(runtime)
  }

  private get target(): number {
    return Math.max(1, this.size) * SLOTS_PER_WORKER
  }

  private newSlot(): number {
    const slot = this.runtime.map.alloc(SLOT_BYTES)
    this.slots++
    return slot
  }

  private freeOrphan(slot: number): void {
    this.orphans.delete(slot)
    this.runtime.map.release(slot)
  }

  private freeSlot(slot: number): void {
    this.runtime.map.release(slot)
    this.slots--
  }

  // Starts workers until the pool has `size` of them; one start at a time is shared by all callers.
  private startMissing(): Promise<void> {
    if (this.threads.length >= this.size || this.stopped) return Promise.resolve()
    return (this.starting ??= (async () => {
      try {
        while (!this.stopped && this.threads.length < this.size) {
          const results = await Promise.allSettled(Array.from({ length: this.size - this.threads.length }, () => this.startThread()))
          const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
          if (failure) {
            this.retryAt = Date.now() + RETRY_AFTER
            throw failure.reason
          }
        }
      } finally {
        this.starting = undefined
      }
    })())
  }

  private async startThread(): Promise<void> {
    const workspace = this.runtime.workspaceFor() // E_OUT_OF_MEMORY: nothing started yet
    let worker: PipelineWorker
    try {
      worker = startWorker({ shared: this.runtime.shared, workspace } satisfies WorkerData)
    } catch (cause) {
      this.runtime.map.release(workspace)
      throw new XaeroError('E_WORKER_FAILED', `cannot start a pipeline worker: ${describe(cause)}`, { cause })
    }
    this.started++
    const thread = new Thread(worker, workspace)
    this.all.add(thread)
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => this.fail(thread, new Error(`no word from the worker within ${START_TIMEOUT} ms`)), START_TIMEOUT)
      thread.started = (error) => {
        clearTimeout(timer)
        thread.started = undefined
        if (error) reject(error)
        else resolve()
      }
      worker.on('message', (m) => this.onMessage(thread, m))
      worker.on('error', (e) => this.fail(thread, e))
      worker.on('exit', (code) => this.fail(thread, new Error(`the worker exited (code ${String(code)})`)))
    })
  }

  private onMessage(thread: Thread, message: unknown): void {
    if (typeof message === 'number') { // the fast path: a job done
      const job = thread.jobs.get(message)
      if (job) {
        thread.jobs.delete(message)
        job.resolve()
      }
    } else if (message === 'ready') {
      if (thread.retired) return
      thread.ready = true
      if (this.stopped) void this.retire(thread, new XaeroError('E_CLOSED', 'the worker pool stopped'))
      else {
        this.threads.push(thread)
        thread.started?.()
      }
    } else if ((message as WorkerFailure | null)?.failed) {
      const { name, message: text, stack } = (message as WorkerFailure).failed
      this.fail(thread, Object.assign(new Error(text), { name, stack }))
    }
  }

  // A worker died or failed to start: its jobs fail, and the pool replaces it while it is in use.
  private fail(thread: Thread, cause: unknown): void {
    if (thread.retired) return
    const error = new XaeroError('E_WORKER_FAILED', `a pipeline worker ${thread.ready ? 'died' : 'failed to start'}: ${describe(cause)}`, { cause })
    const dying = this.retire(thread, error)
    this.dying.add(dying)
    void dying.then(() => this.dying.delete(dying))
    this.serveWaiters()
    if (!this.stopped && this.threads.length < this.size && Date.now() >= this.retryAt) this.startMissing().catch(() => {})
  }

  // Takes a worker out of service: its jobs reject with `error`, their slots are orphaned, and
  // the thread is terminated; its memory is freed as the class comment says. Resolves once the
  // thread has stopped (where that can be known).
  private async retire(thread: Thread, error: unknown): Promise<void> {
    if (thread.retired) return
    thread.retired = true
    this.all.delete(thread)
    const i = this.threads.indexOf(thread)
    if (i >= 0) this.threads.splice(i, 1)
    // Ready with no job: it runs no code now, so it touches no memory whatever terminate does.
    const idle = thread.ready && thread.jobs.size === 0
    const held = [...thread.jobs.keys()]
    for (const slot of held) {
      this.orphans.set(slot, { returned: false, stopped: false })
      this.slots--
    }
    const jobs = [...thread.jobs.values()]
    thread.jobs.clear()
    for (const job of jobs) job.reject(error)
    thread.started?.(error)
    const stopped = thread.worker.terminate().then(() => true, () => false)
    if (idle) this.runtime.map.release(thread.workspace)
    if (!thread.worker.knowsWhenStopped) return
    if (await stopped) {
      if (!idle) this.runtime.map.release(thread.workspace)
      for (const slot of held) {
        const orphan = this.orphans.get(slot)!
        orphan.stopped = true
        if (orphan.returned) this.freeOrphan(slot)
      }
    }
  }

  // Slots lost with a dead worker are made anew for whoever waits (or they would wait forever).
  private serveWaiters(): void {
    while (this.waiting.length > 0 && this.slots < this.target) {
      const next = this.waiting.shift()!
      try {
        next.resolve(this.newSlot())
      } catch (e) {
        next.reject(e)
      }
    }
  }
}

function describe(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause)
}
