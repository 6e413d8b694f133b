// A pipeline worker thread in Node (src/pipeline/serve.ts does the work).
import { parentPort, workerData } from 'node:worker_threads'
import { serveSlots, type WorkerData } from './serve.js'

await serveSlots(workerData as WorkerData, (m) => parentPort!.postMessage(m), (handle) => parentPort!.on('message', handle))
