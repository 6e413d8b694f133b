// A pipeline worker: the core on the shared memory, validating or signing the slots it is sent.
import { parentPort, workerData } from 'node:worker_threads'
import { ed25519 } from '#platform'
import { Core, type CoreShared } from '../core/core.js'
import { sealSlot, validateSlot, type SlotJob } from './slot.js'

const { shared, workspace, secretKey } = workerData as { shared: CoreShared; workspace: number; secretKey?: Uint8Array }
const core = await Core.attach(shared, workspace)
const sign = secretKey && ed25519.signer(secretKey)
parentPort!.on('message', (job: SlotJob) => {
  if (job.op === 'validate') validateSlot(core, job)
  else if (sign) sealSlot(core, job, sign)
  parentPort!.postMessage(job.slot)
})
parentPort!.postMessage('ready')
