import { readFileSync } from 'node:fs'
import * as crypto from 'node:crypto'
import { createRequire } from 'node:module'
import * as os from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { compileCore } from '../core/compile.js'
import { XaeroError } from '../errors.js'
import type { Durability, Wal } from '../store/wal.js'
import { PKCS8_PREFIX, SPKI_PREFIX } from './der.js'
import { type Verify, withSignatureRule } from './signature-rule.js'
import type { Ed25519, PipelineWorker } from './types.js'

/** The compiled core, read from the package's build/ folder (synchronously: src/core/default.ts). */
export function coreModule(): WebAssembly.Module {
  const file = new URL('../../../build/xaeroflux.wasm', import.meta.url)
  let bytes: Uint8Array<ArrayBuffer>
  try {
    bytes = new Uint8Array(readFileSync(file))
  } catch (cause) {
    throw new XaeroError('E_CORE_UNAVAILABLE', `cannot read the WebAssembly core at ${fileURLToPath(file)} (npm run build makes it): ${(cause as Error).message}`, { cause })
  }
  return compileCore(bytes)
}

function privateKeyObject(secretKey: Uint8Array): crypto.KeyObject {
  return crypto.createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, secretKey]), format: 'der', type: 'pkcs8' })
}

/** What the store uses of sodium-native (libsodium). */
interface Sodium {
  crypto_sign_seed_keypair(publicKey: Uint8Array, secretKey: Uint8Array, seed: Uint8Array): void
  crypto_sign_detached(signature: Uint8Array, message: Uint8Array, secretKey: Uint8Array): void
  crypto_sign_verify_detached(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean
}

// libsodium signs Ed25519 1.6x faster than node:crypto (OpenSSL) here, the same signatures (Ed25519 is
// deterministic): an append's signature is most of its CPU (docs/STORAGE.md). It is an optional
// dependency, prebuilt for the common platforms; without it, node:crypto signs.
const sodium: Sodium | undefined = (() => {
  try {
    return createRequire(import.meta.url)('sodium-native') as Sodium
  } catch {
    return undefined
  }
})()

/** The library that signs and verifies: 'libsodium' where sodium-native loads, else 'node:crypto'. */
export const signingLibrary = sodium ? 'libsodium' : 'node:crypto'

/** An Ed25519 signer by node:crypto (OpenSSL), one parsed KeyObject per signer. */
export function nodeCryptoSigner(secretKey: Uint8Array): (message: Uint8Array, signature: Uint8Array) => void {
  const key = privateKeyObject(secretKey)
  return (message, signature) => signature.set(crypto.sign(null, message, key))
}

/** An Ed25519 signer by libsodium, which signs straight into `signature`; undefined without sodium-native. */
export function sodiumSigner(secretKey: Uint8Array): ((message: Uint8Array, signature: Uint8Array) => void) | undefined {
  if (!sodium) return undefined
  const expanded = new Uint8Array(64) // libsodium's form: the seed, then the public key
  sodium.crypto_sign_seed_keypair(new Uint8Array(32), expanded, secretKey)
  return (message, signature) => sodium.crypto_sign_detached(signature, message, expanded)
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

/**
 * Ed25519 verification by node:crypto (OpenSSL) alone, without the rule's pre-check: OpenSSL
 * accepts small-order and non-canonical keys (docs/FORMAT.md, Signature rule). Use `ed25519.verify`.
 */
export const nodeCryptoVerify: Verify = (publicKey, message, signature) => {
  try {
    return crypto.verify(null, message, publicKeyObject(publicKey), signature)
  } catch {
    return false // a public key that is not a valid point
  }
}

/**
 * Ed25519 verification by libsodium alone, without the pre-check; undefined without sodium-native.
 * The store verifies with it where it loads: 40 µs a verification against node:crypto's 98 µs
 * (measured 2026-12-06, one thread, 5 000 calls over 64 keys, a quiet machine), the largest part
 * of an ingest's CPU and of a live push's path. Behind the pre-check both give the rule's verdict
 * (test/ed25519.test.ts holds each to the reference implementation).
 */
export const sodiumVerify: Verify | undefined = sodium &&
  ((publicKey, message, signature) => sodium.crypto_sign_verify_detached(unshared(signature), unshared(message), unshared(publicKey)) === true)

// sodium-native's verification reads ArrayBuffers only: given views of shared memory (the core's,
// where the pipeline verifies) it answers undefined. Such views are copied first (~0.1 µs each).
function unshared(view: Uint8Array): Uint8Array {
  return view.buffer instanceof SharedArrayBuffer ? view.slice() : view
}

export const ed25519: Ed25519 = {
  randomSecretKey: () => new Uint8Array(crypto.randomBytes(32)),
  publicKey(secretKey) {
    const spki = crypto.createPublicKey(privateKeyObject(secretKey)).export({ format: 'der', type: 'spki' })
    return new Uint8Array(spki.subarray(spki.length - 32))
  },
  signer: (secretKey) => sodiumSigner(secretKey) ?? nodeCryptoSigner(secretKey),
  verify: withSignatureRule(sodiumVerify ?? nodeCryptoVerify),
}

/** The logical cores the platform reports: the default number of pipeline workers follows from it (src/store/options.ts). */
export function cores(): number {
  return Math.max(1, os.availableParallelism?.() ?? os.cpus().length)
}

/** Why this thread cannot run pipeline workers, or undefined: Node always can. */
export function workersUnavailable(): string | undefined {
  return undefined
}

/** A value ready to store: classic-level copies the bytes a view covers, memory-level keeps the view; neither clones its buffer. */
export function storedValue(value: Uint8Array): Uint8Array {
  return value
}

/** Starts a pipeline worker (src/pipeline/worker.ts) with its workerData. */
export function startWorker(workerData: unknown): PipelineWorker {
  const worker = new Worker(new URL('../pipeline/worker.js', import.meta.url), { workerData })
  return {
    postMessage: (message) => worker.postMessage(message),
    on(event, listener) {
      worker.on(event, listener)
      if (event === 'error') worker.on('messageerror', listener) // a message that cannot be read is the worker failing too
    },
    terminate: () => worker.terminate(), // settles on 'exit': the thread has stopped
    knowsWhenStopped: true,
  }
}

/**
 * Holds the store at `path` for one open store, or rejects with E_LOCKED; `release` lets it go.
 * In Node, LevelDB's own LOCK file does this (across processes too), so there is nothing to add.
 */
export async function lockStore(_path: string): Promise<{ release(): void }> {
  return { release() {} }
}

/** The store's write-ahead log, in `<path>/wal/` (docs/STORAGE.md). */
export async function openWal(path: string, durability: Durability): Promise<Wal | undefined> {
  // Imported when first needed: the log uses the core, and the core imports this module.
  const { Wal } = await import('../store/wal.js')
  return Wal.open(join(path, 'wal'), durability)
}
