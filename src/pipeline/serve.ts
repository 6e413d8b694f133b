// The work of a pipeline worker, whatever the thread: the core on the shared memory, validating
// or signing the slots it is sent (src/pipeline/worker.ts in Node, worker-browser.ts in browsers).
import { ed25519 } from '#platform'
import { Core, type CoreShared } from '../core/core.js'
import { sealSlot, validateSlot, type SlotJob } from './slot.js'

/** What a worker is started with. */
export interface WorkerData { shared: CoreShared; workspace: number; secretKey?: Uint8Array }

/** Attaches the core, says 'ready', then answers each job with its slot once done. */
export async function serveSlots(data: WorkerData, post: (message: unknown) => void, onJob: (handle: (job: SlotJob) => void) => void): Promise<void> {
  const core = await Core.attach(data.shared, data.workspace)
  const sign = data.secretKey && ed25519.signer(data.secretKey)
  onJob((job) => {
    if (job.op === 'validate') validateSlot(core, job)
    else if (sign) sealSlot(core, job, sign)
    post(job.slot)
  })
  post('ready')
}
