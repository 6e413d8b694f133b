// A validation worker: the core on the shared memory, validating the slots it is sent.
import { parentPort, workerData } from 'node:worker_threads'
import { Core, type CoreShared } from '../core/core.js'
import { validateSlot, type SlotJob } from './slot.js'

const { shared, workspace } = workerData as { shared: CoreShared; workspace: number }
const core = await Core.attach(shared, workspace)
parentPort!.on('message', (job: SlotJob) => {
  validateSlot(core, job)
  parentPort!.postMessage(job.slot)
})
parentPort!.postMessage('ready')
