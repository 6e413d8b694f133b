import { ed25519 as noble } from '@noble/curves/ed25519.js'
import type { Ed25519 } from './types.js'

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

/** Cores beyond the calling thread's: the default number of worker threads. */
export function spareCores(): number {
  return Math.max(0, (globalThis.navigator?.hardwareConcurrency ?? 1) - 1)
}
