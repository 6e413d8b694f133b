import { ed25519 } from '#platform'
import type { SignatureCheck } from '../platform/types.js'
import { copyPooledRange } from '../bytes.js'
import type { Core } from '../core/core.js'
import { DECODE_STATUS, EVENT_DESCRIPTOR_SIZE, KEY_SIZE } from '../core/exports.js'
import type { XaeroErrorCode } from '../errors.js'

/**
 * A slot is one batch of envelopes in the shared memory, filled by the ingesting thread and
 * validated where it lies by a worker (or inline): no envelope is copied between threads.
 *   0 group id (32) | 64 table: { ptr u32, len u32 } × SLOT_EVENTS | descriptors × SLOT_EVENTS | data
 */
export const SLOT_EVENTS = 512
export const SLOT_TABLE = 64
export const SLOT_DESCRIPTORS = SLOT_TABLE + SLOT_EVENTS * 8
export const SLOT_DATA = SLOT_DESCRIPTORS + SLOT_EVENTS * EVENT_DESCRIPTOR_SIZE
export const SLOT_DATA_BYTES = 2 << 20
export const SLOT_BYTES = SLOT_DATA + SLOT_DATA_BYTES

export const STATUS_BAD_SIGNATURE = 8

/** Validate the slot's envelopes: decode in the core, then check signatures. */
export interface ValidateJob {
  op: 'validate'
  slot: number
  count: number
  hasGroup: boolean
  maxPayload: number
  maxTimestamp: number
  /** Check signatures too (structure, id and key are always checked). */
  verify: boolean
}

/**
 * Seal the slot's unsigned envelopes (signature bytes zero): compute ids and keys, then sign.
 * The key travels with the job, as every per-store setting does: the pool's workers serve every
 * store of the process, so none is started with one store's key (see `cachedSigner`).
 */
export interface SealJob {
  op: 'seal'
  slot: number
  count: number
  maxPayload: number
  /** The signing identity's public key in hex: the key of the signer cache. */
  author: string
  /** Its 32-byte secret key (seed). */
  secretKey: Uint8Array
}

export type SlotJob = ValidateJob | SealJob

/** Decodes the slot's envelopes in the core, then checks the signature of each one it accepted. */
export function validateSlot(core: Core, job: ValidateJob): void {
  decodeForChecks(core, job, (d, publicKey, message, signature) => {
    if (!ed25519.verify(publicKey, message, signature)) core.dv.setUint32(d + 12, STATUS_BAD_SIGNATURE, true)
  })
}

/**
 * `validateSlot` for the pipeline: where the platform checks many signatures at once faster
 * (WebCrypto in browsers), it does so, asynchronously.
 */
export async function validateSlotBatched(core: Core, job: ValidateJob): Promise<void> {
  if (!ed25519.many) return validateSlot(core, job)
  const checks: SignatureCheck[] = [], descriptors: number[] = []
  decodeForChecks(core, job, (d, publicKey, message, signature) => {
    descriptors.push(d)
    checks.push({ publicKey, message, signature })
  })
  const ok = await ed25519.many.verify(checks)
  ok.forEach((good, i) => { if (!good) core.dv.setUint32(descriptors[i] + 12, STATUS_BAD_SIGNATURE, true) })
}

// Decodes the slot in the core, then calls `check` with the descriptor and signature parts of
// each envelope it accepted (when the job verifies).
function decodeForChecks(core: Core, job: ValidateJob, check: (descriptor: number, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => void): void {
  const { slot, count } = job
  core.exports.decodeEvents(slot + SLOT_TABLE, count, slot + SLOT_DESCRIPTORS, job.hasGroup ? slot : 0, job.maxPayload, job.maxTimestamp)
  if (!job.verify) return
  const u8 = core.u8, dv = core.dv
  for (let i = 0; i < count; i++) {
    const d = slot + SLOT_DESCRIPTORS + i * EVENT_DESCRIPTOR_SIZE
    if (dv.getUint32(d + 12, true) !== 0) continue
    const ptr = dv.getUint32(slot + SLOT_TABLE + i * 8, true), len = dv.getUint32(slot + SLOT_TABLE + i * 8 + 4, true)
    check(d, u8.subarray(ptr + 44, ptr + 76), u8.subarray(d + 32, d + 64), u8.subarray(ptr + len - 64, ptr + len))
  }
}

/**
 * Signs a slot's messages: one at a time, straight into the slot, where signing is synchronous
 * (node:crypto, @noble/curves); all at once where the platform does it faster (WebCrypto).
 */
export type SlotSigner = { one: (message: Uint8Array, signature: Uint8Array) => void } | { many: (messages: Uint8Array[]) => Promise<Uint8Array[]> }

export function slotSigner(secretKey: Uint8Array): SlotSigner {
  return ed25519.many ? { many: ed25519.many.signer(secretKey) } : { one: ed25519.signer(secretKey) }
}

// Making a signer parses its key: measured in Node, ~15 µs with libsodium but ~320 µs with
// node:crypto (createPrivateKey), against ~14 µs per signature: a slot of 128 appends would pay
// ~18% more without the cache. A thread keeps the signers of the last few identities it signed for.
const signers = new Map<string, SlotSigner>()
const SIGNER_CACHE = 64

/** The signer of `author` (public key hex) whose secret key is `secretKey`, made once per thread. */
export function cachedSigner(author: string, secretKey: Uint8Array): SlotSigner {
  let signer = signers.get(author)
  if (!signer) {
    signer = slotSigner(secretKey)
    if (signers.size >= SIGNER_CACHE) signers.delete(signers.keys().next().value!)
    signers.set(author, signer)
  }
  return signer
}

/** Computes the ids of a SealJob's envelopes in the core, and signs each one in place. */
export async function sealSlot(core: Core, job: SealJob, signer: SlotSigner): Promise<void> {
  const { slot, count } = job
  core.exports.decodeEvents(slot + SLOT_TABLE, count, slot + SLOT_DESCRIPTORS, slot, job.maxPayload, Infinity)
  const u8 = core.u8, dv = core.dv
  const ends: number[] = [], messages: Uint8Array[] = []
  for (let i = 0; i < count; i++) {
    const d = slot + SLOT_DESCRIPTORS + i * EVENT_DESCRIPTOR_SIZE
    if (dv.getUint32(d + 12, true) !== 0) continue
    const end = dv.getUint32(slot + SLOT_TABLE + i * 8, true) + dv.getUint32(slot + SLOT_TABLE + i * 8 + 4, true)
    const message = u8.subarray(d + 32, d + 64)
    if ('one' in signer) signer.one(message, u8.subarray(end - 64, end)) // the signature ends the envelope
    else { ends.push(end); messages.push(message) }
  }
  if ('many' in signer) {
    const signatures = await signer.many(messages)
    for (let i = 0; i < signatures.length; i++) u8.set(signatures[i], ends[i] - 64)
  }
}

/** Copies envelopes into the slot's data area and lists them in its table. */
export function fillSlot(core: Core, slot: number, envelopes: readonly Uint8Array[]): void {
  const u8 = core.u8, dv = core.dv
  let at = slot + SLOT_DATA
  for (let i = 0; i < envelopes.length; i++) {
    const e = envelopes[i]
    u8.set(e, at)
    dv.setUint32(slot + SLOT_TABLE + i * 8, at, true)
    dv.setUint32(slot + SLOT_TABLE + i * 8 + 4, e.length, true)
    at += e.length
  }
}

/** The outcome for envelope `i` of a validated slot: its 40-byte key, or the code that rejected it. */
export function slotResult(core: Core, slot: number, i: number): Uint8Array | XaeroErrorCode {
  const d = slot + SLOT_DESCRIPTORS + i * EVENT_DESCRIPTOR_SIZE
  const status = core.dv.getUint32(d + 12, true)
  return status === 0 ? copyPooledRange(core.u8, d + 24, d + 24 + KEY_SIZE) : DECODE_STATUS[status] ?? 'E_TRUNCATED'
}

/**
 * Splits items into runs that fit one slot (count and bytes), of at most `most` items, as
 * [start, end) ranges; an item too large for any slot is a range of its own with `fits: false`.
 */
export function* slotChunks<T>(items: readonly T[], size: (item: T) => number, most = SLOT_EVENTS): Generator<{ start: number; end: number; fits: boolean }> {
  const count = Math.max(1, Math.min(most, SLOT_EVENTS))
  let start = 0
  while (start < items.length) {
    let end = start, bytes = 0
    while (end < items.length && end - start < count && bytes + size(items[end]) <= SLOT_DATA_BYTES) bytes += size(items[end++])
    if (end === start) yield { start, end: ++start, fits: false }
    else { yield { start, end, fits: true }; start = end }
  }
}
