// Hex digits as ASCII codes, two per byte, decoded into one flat string: joining 2-character
// strings instead builds a rope of one object per byte, and ids are made for every event.
const DIGITS = new TextEncoder().encode('0123456789abcdef')
const latin1 = new TextDecoder('latin1')
let scratch = new Uint8Array(64)

/** Lowercase hex of the bytes. */
export function toHex(bytes: Uint8Array): string {
  if (scratch.length < bytes.length * 2) scratch = new Uint8Array(bytes.length * 2)
  for (let i = 0; i < bytes.length; i++) {
    scratch[2 * i] = DIGITS[bytes[i] >> 4]
    scratch[2 * i + 1] = DIGITS[bytes[i] & 15]
  }
  return latin1.decode(bytes.length * 2 === scratch.length ? scratch : scratch.subarray(0, bytes.length * 2))
}

/** Parses lowercase or uppercase hex; throws TypeError on odd length or a non-hex digit. */
export function fromHex(hex: string): Uint8Array {
  if (typeof hex !== 'string' || hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new TypeError('expected a hex string')
  const out = new Uint8Array(hex.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16)
  return out
}

/** Accepts 32 bytes or their hex; anything else is a TypeError naming `what`. */
export function bytes32(value: Uint8Array | string, what: string): Uint8Array {
  const b = typeof value === 'string' ? fromHex(value) : value
  if (!(b instanceof Uint8Array) || b.length !== 32) throw new TypeError(`${what} must be 32 bytes or 64 hex digits`)
  return b
}
