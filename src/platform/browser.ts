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

/** Cores beyond the calling thread's. */
export function spareCores(): number {
  return Math.max(0, (globalThis.navigator?.hardwareConcurrency ?? 1) - 1)
}

/** Browsers run the pipeline inline for now (docs/STORAGE.md, Browsers). */
export function defaultWorkers(): number {
  return 0
}

export function startWorker(_workerData: unknown): PipelineWorker {
  throw new TypeError('pipeline workers are not available in browsers yet: open with workers: 0')
}

/** No write-ahead log: each IndexedDB transaction that indexes a batch is its durable write. */
export async function openWal(_path: string, _durability: Durability): Promise<Wal | undefined> {
  return undefined
}
