// The work of a pipeline worker, whatever the thread: the core on the shared memory, validating
// or signing the slots it is sent (src/pipeline/worker.ts in Node, worker-browser.ts in browsers).
import { Core, type CoreShared } from '../core/core.js'
import { cachedSigner, sealSlot, validateSlotBatched, type SlotJob } from './slot.js'

/** What a worker is started with: no store's settings, which come with each job. */
export interface WorkerData { shared: CoreShared; workspace: number }

/** What a worker posts when a job threw: it then takes no more jobs, and the pool replaces it. */
export interface WorkerFailure { failed: { name: string; message: string; stack?: string } }

/**
 * Attaches the core, says 'ready', then answers each job with its slot once done. A job that
 * throws (the core trapped: its state is unknown) ends the worker's service: it posts a
 * WorkerFailure and ignores later jobs, which the pool fails (src/pipeline/pool.ts).
 */
export async function serveSlots(data: WorkerData, post: (message: unknown) => void, onJob: (handle: (job: SlotJob) => void) => void): Promise<void> {
  const core = await Core.attach(data.shared, data.workspace)
  let failed = false
  onJob(async (job) => {
    if (failed) return
    try {
      if (job.op === 'validate') await validateSlotBatched(core, job)
      else await sealSlot(core, job, cachedSigner(job.author, job.secretKey))
    } catch (e) {
      failed = true
      const error = e instanceof Error ? e : new Error(String(e))
      post({ failed: { name: error.name, message: error.message, stack: error.stack } } satisfies WorkerFailure)
      return
    }
    post(job.slot)
  })
  post('ready')
}
