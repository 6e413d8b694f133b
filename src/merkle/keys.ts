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

/** Compares prefix ‖ fill… (40 bytes) with a 40-byte bound: the lowest (fill 0) or highest (fill 0xff) key under the prefix. */
function compareBound(prefix: Uint8Array, fill: number, bound: Uint8Array): number {
  for (let i = 0; i < KEY_SIZE; i++) {
    const x = i < prefix.length ? prefix[i] : fill
    if (x !== bound[i]) return x - bound[i]
  }
  return 0
}

/** Where the keys under `prefix` lie relative to the key range [lo, hi). */
export function prefixPosition(prefix: Uint8Array, lo: Uint8Array, hi: Uint8Array): 'inside' | 'outside' | 'straddles' {
  if (compareBound(prefix, 0xff, lo) < 0 || compareBound(prefix, 0x00, hi) >= 0) return 'outside'
  if (compareBound(prefix, 0x00, lo) >= 0 && compareBound(prefix, 0xff, hi) < 0) return 'inside'
  return 'straddles'
}
