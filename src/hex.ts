// Hex digits as ASCII codes, two per byte, decoded into one flat string: joining 2-character
// strings instead builds a rope of one object per byte, and ids are made for every event.
const DIGITS = new TextEncoder().encode('0123456789abcdef')
const latin1 = new TextDecoder('latin1')
let scratch = new Uint8Array(80)
/** `scratch.subarray(0, n)` for each length n used: `subarray` costs an allocation and V8's species lookup a call. */
let views: Uint8Array[] = []

/** Lowercase hex of the bytes. */
export function toHex(bytes: Uint8Array): string {
  return toHexPrefix(bytes, bytes.length)
}

/** Lowercase hex of the first `length` bytes (without the view `subarray` would make). */
export function toHexPrefix(bytes: Uint8Array, length: number): string {
  const n = length * 2
  if (scratch.length < n) { scratch = new Uint8Array(n); views = [] }
  for (let i = 0; i < length; i++) {
    scratch[2 * i] = DIGITS[bytes[i] >> 4]
    scratch[2 * i + 1] = DIGITS[bytes[i] & 15]
  }
  return latin1.decode(views[n] ??= scratch.subarray(0, n))
}

/** Parses lowercase or uppercase hex; throws TypeError on odd length or a non-hex digit. */
export function fromHex(hex: string): Uint8Array {
  if (typeof hex !== 'string' || hex.length % 2 !== 0) throw new TypeError('expected a hex string')
  const out = new Uint8Array(hex.length / 2)
  hexInto(hex, out, 0)
  return out
}

/**
 * Parses `hex` (even length, checked by the caller) into `out` from `at`; throws TypeError on a
 * non-hex digit. Char codes, not a regular expression and `parseInt` of each pair: a sync that
 * asked for 200 000 ids spent ~0.8 s of its main thread parsing them so (a CPU profile).
 */
export function hexInto(hex: string, out: Uint8Array, at: number): void {
  for (let i = 0, n = hex.length >> 1; i < n; i++) {
    const hi = nibble(hex.charCodeAt(2 * i)), lo = nibble(hex.charCodeAt(2 * i + 1))
    if ((hi | lo) < 0) throw new TypeError('expected a hex string')
    out[at + i] = (hi << 4) | lo
  }
}

function nibble(c: number): number {
  if (c >= 48 && c <= 57) return c - 48 // 0-9
  c |= 32 // A-F as a-f; no other code lands in a-f so
  return c >= 97 && c <= 102 ? c - 87 : -1
}

/** Accepts 32 bytes or their hex; anything else is a TypeError naming `what`. */
export function bytes32(value: Uint8Array | string, what: string): Uint8Array {
  const b = typeof value === 'string' ? fromHex(value) : value
  if (!(b instanceof Uint8Array) || b.length !== 32) throw new TypeError(`${what} must be 32 bytes or 64 hex digits`)
  return b
}
