import { ed25519 as noble } from '@noble/curves/ed25519.js'
import { bytesToNumberLE } from '@noble/curves/utils.js'
import { sha512 } from '@noble/hashes/sha2.js'
import type { Durability, Wal } from '../store/wal.js'
import { compileCore } from '../core/compile.js'
import { XaeroError } from '../errors.js'
import { toHex } from '../hex.js'
import { CORE_WASM_BASE64, WORKER_SCRIPT } from './browser-assets.js'
import { PKCS8_PREFIX } from './der.js'
import { type Verify, meetsEncodingRule, withSignatureRule } from './signature-rule.js'
import type { Ed25519, PipelineWorker, SignatureCheck } from './types.js'

/**
 * The compiled core. Its 13 KB are inlined in the package (base64 in browser-assets.js, made by
 * `npm run build`), so that a bundler has no file to find or copy, and it compiles synchronously
 * (src/core/default.ts; Chromium now allows that on the page's thread, docs/BROWSER.md).
 */
export function coreModule(): WebAssembly.Module {
  const text = atob(CORE_WASM_BASE64)
  const bytes = new Uint8Array(text.length)
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i)
  return compileCore(bytes)
}

// One call at a time (encodeEvent returns the envelope at once) uses @noble/curves. The pipeline
// signs and checks a slot at a time with WebCrypto's Ed25519 where the browser has it: much
// faster (in Chromium ~22 000 checks/s, 300 at once, against ~3 000), but asynchronous.
const ALGORITHM = { name: 'Ed25519' }
let webCrypto: Promise<boolean> | undefined
const hasWebCrypto = () => (webCrypto ??= crypto.subtle.generateKey(ALGORITHM, false, ['sign']).then(() => true, () => false))

// Importing a public key costs about a check: each author's CryptoKey is kept.
const publicKeys = new Map<string, Promise<CryptoKey | undefined>>()
const PUBLIC_KEY_CACHE = 4096

function publicCryptoKey(publicKey: Uint8Array): Promise<CryptoKey | undefined> {
  const id = toHex(publicKey)
  let key = publicKeys.get(id)
  if (!key) {
    // WebCrypto takes no views of shared memory: slice() copies out of it.
    key = crypto.subtle.importKey('raw', publicKey.slice(), ALGORITHM, false, ['verify']).catch(() => undefined)
    if (publicKeys.size >= PUBLIC_KEY_CACHE) publicKeys.delete(publicKeys.keys().next().value!)
    publicKeys.set(id, key)
  }
  return key
}

const { Point } = noble

/**
 * Ed25519 verification with @noble/curves' point arithmetic, without the rule's pre-check.
 * Not `noble.verify`: it checks the cofactored equation [8]([S]B − R − [k]A) = 0 (with
 * `zip215: false` too), which accepts signatures whose R and A carry torsion that the
 * cofactorless libraries (OpenSSL, BoringSSL, libsodium) reject. This computes R' = [S]B − [k]A
 * and compares its encoding with R's bytes, as those libraries do: cofactorless, and an R that
 * is not canonical or does not decompress never matches. S ≥ L is refused.
 */
export const nobleVerify: Verify = (publicKey, message, signature) => {
  try {
    const A = Point.fromBytes(publicKey, false) // strict: y < p, no negative zero; throws if A does not decompress
    const k = Point.Fn.create(bytesToNumberLE(sha512(concat(signature.subarray(0, 32), publicKey, message))))
    const SB = Point.BASE.multiplyUnsafe(bytesToNumberLE(signature.subarray(32, 64))) // throws for S ≥ L
    const R = SB.subtract(A.multiplyUnsafe(k)).toBytes()
    for (let i = 0; i < 32; i++) if (R[i] !== signature[i]) return false
    return true
  } catch {
    return false // A is not a point, or S ≥ L
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}

const verifyWithNoble = withSignatureRule(nobleVerify)

/**
 * Ed25519 verification by the browser's WebCrypto alone, without the pre-check (false where the
 * key does not import: not a point). Chromium's is BoringSSL's, cofactorless.
 */
export async function webCryptoVerify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  const key = await publicCryptoKey(publicKey)
  // WebCrypto takes no views of shared memory: slice() copies out of it.
  return key !== undefined && crypto.subtle.verify(ALGORITHM, key, signature.slice(), message.slice()).catch(() => false)
}

export const ed25519: Ed25519 = {
  randomSecretKey: () => crypto.getRandomValues(new Uint8Array(32)),
  publicKey: (secretKey) => noble.getPublicKey(secretKey),
  signer: (secretKey) => (message, signature) => signature.set(noble.sign(message, secretKey)),
  verify: verifyWithNoble,
  many: {
    signer(secretKey) {
      const pkcs8 = new Uint8Array([...PKCS8_PREFIX, ...secretKey])
      const key = hasWebCrypto().then((yes) => (yes ? crypto.subtle.importKey('pkcs8', pkcs8, ALGORITHM, false, ['sign']) : undefined))
      return async (messages) => {
        const k = await key
        if (!k) return messages.map((m) => noble.sign(m, secretKey))
        return Promise.all(messages.map(async (m) => new Uint8Array(await crypto.subtle.sign(ALGORITHM, k, m.slice()))))
      }
    },
    async verify(checks: readonly SignatureCheck[]) {
      if (!(await hasWebCrypto())) return checks.map((c) => verifyWithNoble(c.publicKey, c.message, c.signature))
      return Promise.all(checks.map(async (c) =>
        meetsEncodingRule(c.publicKey, c.signature) && webCryptoVerify(c.publicKey, c.message, c.signature)))
    },
  },
}

/** The logical cores the platform reports: the default number of pipeline workers follows from it (src/store/options.ts). */
export function cores(): number {
  return Math.max(1, globalThis.navigator?.hardwareConcurrency ?? 1)
}

/**
 * A value ready for IndexedDB, which stores a view with its whole buffer: an envelope viewing an
 * 8 KiB slab (src/bytes.ts) would take 8 KiB on disk. Such views are copied.
 */
export function storedValue(value: Uint8Array): Uint8Array {
  return value.byteOffset === 0 && value.byteLength === value.buffer.byteLength ? value : value.slice()
}

/**
 * Why this page cannot run pipeline workers, or undefined. The core's memory is a
 * SharedArrayBuffer, which reaches a Web Worker only from a cross-origin isolated page.
 */
export function workersUnavailable(): string | undefined {
  if (typeof Worker === 'undefined') return 'this context has no Web Workers'
  if (!globalThis.crossOriginIsolated) {
    return 'the page is not cross-origin isolated, so the shared memory of the WebAssembly core cannot reach Web Workers ' +
      '(serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)'
  }
  return undefined
}

// One Blob URL for every worker of the page, kept for its life (40 KB of script).
let workerUrl: string | undefined

/**
 * Starts a pipeline worker and sends it its data first. The worker's script is inlined in the
 * package (src/pipeline/worker-browser.ts bundled by `npm run build` into browser-assets.js) and
 * started from a Blob URL: a bundler has nothing to follow, and the page serves nothing. A Web
 * Worker tells nothing when it ends: no 'exit', and `terminate` aborts its script in parallel,
 * so the pool never reuses memory it may still be writing.
 */
export function startWorker(workerData: unknown): PipelineWorker {
  workerUrl ??= URL.createObjectURL(new Blob([WORKER_SCRIPT], { type: 'text/javascript' }))
  const worker = new Worker(workerUrl, { name: 'xaeroflux pipeline' })
  worker.postMessage(workerData)
  return {
    postMessage: (message) => worker.postMessage(message),
    on(event, listener) {
      if (event === 'message') worker.addEventListener('message', (e) => listener(e.data))
      else if (event === 'error') {
        // An ErrorEvent is not an Error: the pool wants one for `cause`. A script that does not
        // load (a Content-Security-Policy without blob: in worker-src) gives one with no message.
        const fail = (e: Event) => listener(new Error(`a pipeline Web Worker failed: ${(e as ErrorEvent).message ||
          (e.type === 'error' ? 'its script did not load (a Content-Security-Policy must allow blob: in worker-src)' : e.type)}`))
        worker.addEventListener('error', fail)
        worker.addEventListener('messageerror', fail)
      }
    },
    terminate: async () => worker.terminate(),
    knowsWhenStopped: false,
  }
}

/**
 * Holds the store at `path` for one open store, in every tab of the origin, or rejects with
 * E_LOCKED; `release` lets it go. IndexedDB lets any number of connections write one database:
 * two stores indexing into it would each keep their own Merkle pages and counters in memory and
 * overwrite the other's. A Web Lock (held until `release`, or until the tab goes) is what LevelDB's
 * LOCK file is in Node. Pages that are not a secure context have no `navigator.locks`: there the
 * store opens unlocked, and says so once (docs/BROWSER.md).
 */
export async function lockStore(path: string): Promise<{ release(): void }> {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks
  if (!locks) {
    if (!warnedUnlocked) console.warn('xaeroflux: no Web Locks here (not a secure context): nothing keeps two tabs from opening the same store')
    warnedUnlocked = true
    return { release() {} }
  }
  let release!: () => void
  const held = new Promise<void>((resolve) => { release = resolve })
  const granted = await new Promise<boolean>((resolve, reject) => {
    locks.request(`xaeroflux:${path}`, { ifAvailable: true }, (lock) => {
      resolve(lock !== null)
      return lock ? held : undefined
    }).catch(reject)
  })
  if (!granted) throw new XaeroError('E_LOCKED', `cannot open the store at ${path}: another store (in this tab or another) has it open`)
  return { release }
}
let warnedUnlocked = false

/** No write-ahead log: each IndexedDB transaction that indexes a batch is its durable write. */
export async function openWal(_path: string, _durability: Durability): Promise<Wal | undefined> {
  return undefined
}
