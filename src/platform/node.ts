import { readFile } from 'node:fs/promises'
import * as crypto from 'node:crypto'
import * as os from 'node:os'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import type { Durability, Wal } from '../store/wal.js'
import { PKCS8_PREFIX, SPKI_PREFIX } from './der.js'
import type { Ed25519, PipelineWorker } from './types.js'

/** The compiled core, read from the package's build/ folder. */
export async function compileCoreModule(): Promise<WebAssembly.Module> {
  return WebAssembly.compile(await readFile(new URL('../../../build/xaeroflux.wasm', import.meta.url)))
}

function privateKeyObject(secretKey: Uint8Array): crypto.KeyObject {
  return crypto.createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, secretKey]), format: 'der', type: 'pkcs8' })
}

// Parsing a public key costs about as much as a verification, so each author's KeyObject is kept.
const publicKeys = new Map<string, crypto.KeyObject>()
const PUBLIC_KEY_CACHE = 4096

function publicKeyObject(publicKey: Uint8Array): crypto.KeyObject {
  const id = Buffer.from(publicKey.buffer, publicKey.byteOffset, 32).toString('latin1')
  let key = publicKeys.get(id)
  if (!key) {
    key = crypto.createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' })
    if (publicKeys.size >= PUBLIC_KEY_CACHE) publicKeys.delete(publicKeys.keys().next().value!)
    publicKeys.set(id, key)
  }
  return key
}

export const ed25519: Ed25519 = {
  randomSecretKey: () => new Uint8Array(crypto.randomBytes(32)),
  publicKey(secretKey) {
    const spki = crypto.createPublicKey(privateKeyObject(secretKey)).export({ format: 'der', type: 'spki' })
    return new Uint8Array(spki.subarray(spki.length - 32))
  },
  signer(secretKey) {
    const key = privateKeyObject(secretKey)
    return (message) => crypto.sign(null, message, key) // a Buffer of its own: no copy
  },
  verify(publicKey, message, signature) {
    try {
      return crypto.verify(null, message, publicKeyObject(publicKey), signature)
    } catch {
      return false // a public key that is not a valid point
    }
  },
}

/** Cores beyond the calling thread's: the default number of pipeline workers (at most 2). */
export function spareCores(): number {
  return Math.max(0, (os.availableParallelism?.() ?? os.cpus().length) - 1)
}

/** A value ready to store: classic-level copies the bytes a view covers, memory-level keeps the view; neither clones its buffer. */
export function storedValue(value: Uint8Array): Uint8Array {
  return value
}

/** Starts a pipeline worker (src/pipeline/worker.ts) with its workerData. */
export function startWorker(workerData: unknown): PipelineWorker {
  return new Worker(new URL('../pipeline/worker.js', import.meta.url), { workerData })
}

/** The store's write-ahead log, in `<path>/wal/` (docs/STORAGE.md). */
export async function openWal(path: string, durability: Durability): Promise<Wal | undefined> {
  // Imported when first needed: the log uses the core, and the core imports this module.
  const { Wal } = await import('../store/wal.js')
  return Wal.open(join(path, 'wal'), durability)
}
