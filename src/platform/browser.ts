import { ed25519 as noble } from '@noble/curves/ed25519.js'
import type { Durability, Wal } from '../store/wal.js'
import type { Ed25519, PipelineWorker } from './types.js'

/** The compiled core, streamed from next to the bundle (bundlers copy the URL'd asset). */
export async function compileCoreModule(): Promise<WebAssembly.Module> {
  const url = new URL('../../../build/xaeroflux.wasm', import.meta.url)
  return WebAssembly.compileStreaming(fetch(url))
}

// Signing stays synchronous (encodeEvent returns the envelope), so it uses @noble/curves here.
export const ed25519: Ed25519 = {
  randomSecretKey: () => crypto.getRandomValues(new Uint8Array(32)),
  publicKey: (secretKey) => noble.getPublicKey(secretKey),
  signer: (secretKey) => (message) => noble.sign(message, secretKey),
  verify(publicKey, message, signature) {
    try {
      return noble.verify(signature, message, publicKey)
    } catch {
      return false
    }
  },
}

/** Cores beyond the calling thread's: the default number of pipeline workers (at most 2). */
export function spareCores(): number {
  return Math.max(0, (globalThis.navigator?.hardwareConcurrency ?? 1) - 1)
}

/**
 * Starts a pipeline worker as a module Web Worker (bundlers follow this `new URL` pattern) and
 * sends it its data first.
 */
export function startWorker(workerData: unknown): PipelineWorker {
  const worker = new Worker(new URL('../pipeline/worker-browser.js', import.meta.url), { type: 'module' })
  worker.postMessage(workerData)
  return {
    postMessage: (message) => worker.postMessage(message),
    on: (_event, listener) => worker.addEventListener('message', (e) => listener(e.data)),
    once: (event, listener) => worker.addEventListener(event, (e) => listener(event === 'message' ? (e as MessageEvent).data : e), { once: true }),
    terminate: async () => worker.terminate(),
  }
}

/** No write-ahead log: each IndexedDB transaction that indexes a batch is its durable write. */
export async function openWal(_path: string, _durability: Durability): Promise<Wal | undefined> {
  return undefined
}
