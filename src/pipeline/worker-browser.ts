// A pipeline worker in a browser (a classic Web Worker, started from the script that `npm run build`
// bundles from this file and inlines: src/platform/browser.ts): its first message is its WorkerData, the
// rest are jobs, sent only once it has said 'ready' (src/pipeline/serve.ts does the work).
import { serveSlots, type WorkerData } from './serve.js'
import type { SlotJob } from './slot.js'

const scope = globalThis as unknown as { postMessage(m: unknown): void; addEventListener(type: 'message', fn: (e: { data: unknown }) => void): void }
let handle: ((job: SlotJob) => void) | undefined
scope.addEventListener('message', (e) => {
  if (handle) handle(e.data as SlotJob)
  else void serveSlots(e.data as WorkerData, (m) => scope.postMessage(m), (h) => { handle = h })
})
