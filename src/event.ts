import { defaultRuntime } from './core/default.js'
import { readU64, writeU32 } from './bytes.js'
import { XaeroError } from './errors.js'
import { bytes32, toHex } from './hex.js'
import type { Identity } from './identity.js'
import { SLOT_BYTES, fillSlot, slotChunks, slotResult, validateSlot } from './pipeline/slot.js'

/** Bytes of an envelope before the payload, and of the signature after it (docs/FORMAT.md, v1). */
export const HEADER_SIZE = 80
export const SIGNATURE_SIZE = 64
export const VERSION = 1
export const DEFAULT_MAX_PAYLOAD = 1 << 20
export const DEFAULT_MAX_SKEW = 10 * 60 * 1000

/** A decoded, validated event. Hex fields are computed on first use. */
export class Event {
  private _id?: string

  /**
   * @param bytes the whole envelope
   * @param key timestamp ‖ id, 40 bytes
   *
   * The store's events may view 8 KiB slabs shared with others (src/bytes.ts): `postMessage` or
   * IndexedDB would clone a whole slab with such a view, so pass `bytes.slice()` there.
   */
  constructor(readonly bytes: Uint8Array, readonly key: Uint8Array) {}

  /** SHA-256 of the envelope without its signature, in hex. */
  get id(): string { return (this._id ??= toHex(this.key.subarray(8))) }
  /** Application-defined kind, 0..65535. */
  get kind(): number { return (this.bytes[2] << 8) | this.bytes[3] }
  /** Milliseconds since the Unix epoch. */
  get timestamp(): number { return readU64(this.key) }
  /** The group id, in hex. */
  get group(): string { return toHex(this.bytes.subarray(12, 44)) }
  /** The author's Ed25519 public key, in hex. */
  get author(): string { return toHex(this.bytes.subarray(44, 76)) }
  /** The opaque payload (a view into `bytes`). */
  get payload(): Uint8Array { return this.bytes.subarray(HEADER_SIZE, this.bytes.length - SIGNATURE_SIZE) }
  /** The author's Ed25519 signature over the id, 64 bytes (a view into `bytes`). */
  get signature(): Uint8Array { return this.bytes.subarray(this.bytes.length - SIGNATURE_SIZE) }

  /** The event as JSON: its fields, with the payload in hex. */
  toJSON() {
    return { id: this.id, kind: this.kind, timestamp: this.timestamp, group: this.group, author: this.author, payload: toHex(this.payload) }
  }
}

/** What `encodeEvent` signs: the fields of an event before it has an id and a signature. */
export interface EventFields {
  /** Application-defined kind, 0..65535. */
  kind: number
  /** Milliseconds since the Unix epoch. @default Date.now() */
  timestamp?: number
  /** The group id: 32 bytes or hex (see `groupId`). */
  group: Uint8Array | string
  /** Opaque bytes, or a string stored as UTF-8. */
  payload: Uint8Array | string
}

/** Signs and serializes an event (format v1); the inverse of `decodeEvent`. */
export function encodeEvent(fields: EventFields, identity: Identity, options: { maxPayload?: number } = {}): Uint8Array {
  return signEvent(fields, identity, options).bytes
}

/** `encodeEvent`, returning the decoded Event too (its id is computed while signing). */
export function signEvent(fields: EventFields, identity: Identity, options: { maxPayload?: number } = {}): Event {
  const event = unsignedEvent(fields, identity.publicKey, options)
  event.bytes.set(identity.sign(event.key.subarray(8)), event.bytes.length - SIGNATURE_SIZE)
  return event
}

/** An event's fields, checked and normalized by `checkFields`. */
export interface CheckedFields { kind: number; timestamp: number; group: Uint8Array; payload: Uint8Array }

/** Checks an event's fields: RangeError/TypeError for misuse, E_PAYLOAD_TOO_LARGE over the limit. */
export function checkFields(fields: EventFields, maxPayload = DEFAULT_MAX_PAYLOAD): CheckedFields {
  if (!fields || typeof fields !== 'object') throw new TypeError('event fields must be { kind, payload, timestamp?, group }')
  const { kind, timestamp = Date.now() } = fields
  if (!Number.isInteger(kind) || kind < 0 || kind > 0xffff) throw new RangeError('kind must be an integer in 0..65535')
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw new RangeError('timestamp must be a non-negative integer (ms)')
  const group = bytes32(fields.group, 'group')
  const payload = typeof fields.payload === 'string' ? new TextEncoder().encode(fields.payload) : fields.payload
  if (!(payload instanceof Uint8Array)) throw new TypeError('payload must be a Uint8Array or a string')
  if (payload.length > maxPayload) {
    throw new XaeroError('E_PAYLOAD_TOO_LARGE', `payload of ${payload.length} bytes is over the limit of ${maxPayload}`, { details: { length: payload.length, maxPayload } })
  }
  return { kind, timestamp, group, payload }
}

const ZERO_SIGNATURE = new Uint8Array(SIGNATURE_SIZE)

/** Writes the envelope of `f` by `author` at `at` in `target`, its signature zero; returns its length. */
export function writeEnvelope(target: Uint8Array, at: number, f: CheckedFields, author: Uint8Array): number {
  const length = HEADER_SIZE + f.payload.length + SIGNATURE_SIZE
  target[at] = VERSION
  target[at + 1] = 0
  target[at + 2] = f.kind >> 8
  target[at + 3] = f.kind & 0xff
  writeU32(target, at + 4, Math.floor(f.timestamp / 2 ** 32))
  writeU32(target, at + 8, f.timestamp >>> 0)
  target.set(f.group, at + 12)
  target.set(author, at + 44)
  writeU32(target, at + 76, f.payload.length)
  target.set(f.payload, at + HEADER_SIZE)
  target.set(ZERO_SIGNATURE, at + length - SIGNATURE_SIZE) // not fill(): element by element on a shared memory
  return length
}

/** The envelope of an event by `author` with its id and key computed and its signature left zero. */
export function unsignedEvent(fields: EventFields, author: Uint8Array, options: { maxPayload?: number } = {}): Event {
  const f = checkFields(fields, options.maxPayload)
  const bytes = new Uint8Array(HEADER_SIZE + f.payload.length + SIGNATURE_SIZE)
  writeEnvelope(bytes, 0, f, author)
  const signed = HEADER_SIZE + f.payload.length
  const runtime = defaultRuntime(), { core } = runtime
  const id = runtime.withRegion(signed + 32, (ptr) => {
    core.u8.set(bytes.subarray(0, signed), ptr)
    core.exports.sha256(ptr, signed, ptr + signed)
    return core.u8.slice(ptr + signed, ptr + signed + 32)
  })
  const key = new Uint8Array(40)
  key.set(bytes.subarray(4, 12))
  key.set(id, 8)
  return new Event(bytes, key)
}

/** Checks `decodeEvent` applies beyond the format itself. */
export interface DecodeOptions {
  /** Reject events of any other group (id, 32 bytes or hex). */
  group?: Uint8Array | string
  /** @default 1 MiB; at most 2 MiB − 144 bytes (an envelope must fit one slot) */
  maxPayload?: number
  /** Latest acceptable timestamp is `now + maxSkew`. @default Date.now() */
  now?: number
  /** @default 10 minutes */
  maxSkew?: number
  /** Check the Ed25519 signature. @default true */
  verify?: boolean
}

/** Validates one envelope and returns the event, or throws XaeroError with the rule it breaks. */
export function decodeEvent(bytes: Uint8Array, options: DecodeOptions = {}): Event {
  const [result] = decodeEvents([bytes], options)
  if (result instanceof XaeroError) throw result
  return result
}

/**
 * Validates many envelopes: structure, id and key in the WebAssembly core (SIMD, four ids at
 * a time), then signatures, through the same slots as the ingest pipeline, on this thread.
 * Returns one Event or XaeroError per input, in order; inputs are copied, never kept.
 */
export function decodeEvents(envelopes: readonly Uint8Array[], options: DecodeOptions = {}): Array<Event | XaeroError> {
  envelopes.forEach((e, i) => { if (!(e instanceof Uint8Array)) throw new TypeError(`envelope ${i} is not a Uint8Array`) })
  const runtime = defaultRuntime(), { core } = runtime
  const group = options.group === undefined ? undefined : bytes32(options.group, 'group')
  const results: Array<Event | XaeroError> = []
  return runtime.withRegion(SLOT_BYTES, (slot) => {
    if (group) core.u8.set(group, slot)
    for (const { start, end, fits } of slotChunks(envelopes, (e) => e.length)) {
      if (!fits) {
        results.push(new XaeroError('E_PAYLOAD_TOO_LARGE', `an envelope of ${envelopes[start].length} bytes is over any payload limit`, { details: { index: start } }))
        continue
      }
      const chunk = envelopes.slice(start, end)
      fillSlot(core, slot, chunk)
      validateSlot(core, {
        op: 'validate', slot, count: chunk.length, hasGroup: group !== undefined, verify: options.verify !== false,
        maxPayload: options.maxPayload ?? DEFAULT_MAX_PAYLOAD, maxTimestamp: (options.now ?? Date.now()) + (options.maxSkew ?? DEFAULT_MAX_SKEW),
      })
      chunk.forEach((e, i) => {
        const result = slotResult(core, slot, i)
        results.push(typeof result === 'string' ? new XaeroError(result, undefined, { details: { index: start + i } }) : new Event(e.slice(), result))
      })
    }
    return results
  })
}
