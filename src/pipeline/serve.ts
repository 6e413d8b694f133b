// The work of a pipeline worker, whatever the thread: the core on the shared memory, validating
// or signing the slots it is sent (src/pipeline/worker.ts in Node, worker-browser.ts in browsers).
import { Core, type CoreShared } from '../core/core.js'
import { sealSlot, slotSigner, validateSlotBatched, type SlotJob } from './slot.js'

/** What a worker is started with. */
export interface WorkerData { shared: CoreShared; workspace: number; secretKey?: Uint8Array }

/** Attaches the core, says 'ready', then answers each job with its slot once done. */
export async function serveSlots(data: WorkerData, post: (message: unknown) => void, onJob: (handle: (job: SlotJob) => void) => void): Promise<void> {
  const core = await Core.attach(data.shared, data.workspace)
  const sign = data.secretKey && slotSigner(data.secretKey)
  onJob(async (job) => {
    if (job.op === 'validate') await validateSlotBatched(core, job)
    else if (sign) await sealSlot(core, job, sign)
    post(job.slot)
  })
  post('ready')
}
