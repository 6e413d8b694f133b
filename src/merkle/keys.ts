import { KEY_SIZE } from '../core/exports.js'
import { u64 } from '../bytes.js'

/** Byte-wise order of keys (and prefixes: a prefix sorts before its extensions). */
export function compareKeys(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length && i < b.length; i++) if (a[i] !== b[i]) return a[i] - b[i]
  return a.length - b.length
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && compareKeys(a, b) === 0
}

export function startsWith(key: Uint8Array, prefix: Uint8Array): boolean {
  for (let i = 0; i < prefix.length; i++) if (key[i] !== prefix[i]) return false
  return true
}

/** The smallest key with this timestamp (ms): the bound of a time range in key order. */
export function timeBound(ms: number): Uint8Array {
  const out = new Uint8Array(KEY_SIZE)
  out.set(u64(ms))
  return out
}

/**
 * Compares the lowest (fill 0) or highest (fill 1) key under the first `bits` bits of `prefix`
 * with a 40-byte bound.
 */
function compareBound(prefix: Uint8Array, bits: number, fill: 0 | 1, bound: Uint8Array): number {
  const whole = bits >> 3, rest = bits & 7
  for (let i = 0; i < KEY_SIZE; i++) {
    const x = i < whole ? prefix[i]
      : i === whole && rest ? (fill ? prefix[i] | (0xff >> rest) : prefix[i] & (0xff << (8 - rest)) & 0xff)
      : fill ? 0xff : 0
    if (x !== bound[i]) return x - bound[i]
  }
  return 0
}

/** Where the keys under the first `bits` bits of `prefix` lie relative to the key range [lo, hi). */
export function prefixPosition(prefix: Uint8Array, lo: Uint8Array, hi: Uint8Array, bits = prefix.length * 8): 'inside' | 'outside' | 'straddles' {
  if (compareBound(prefix, bits, 1, lo) < 0 || compareBound(prefix, bits, 0, hi) >= 0) return 'outside'
  if (compareBound(prefix, bits, 0, lo) >= 0 && compareBound(prefix, bits, 1, hi) < 0) return 'inside'
  return 'straddles'
}
