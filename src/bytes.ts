/** 8 bytes, big-endian, of a whole number below 2^53: timestamps, counts, offsets. */
export function u64(n: number): Uint8Array {
  const b = new Uint8Array(8)
  writeU32(b, 0, Math.floor(n / 2 ** 32))
  writeU32(b, 4, n >>> 0)
  return b
}

/** Writes `n` (below 2^32) big-endian at `at` (without a DataView, which would be an object per call). */
export function writeU32(b: Uint8Array, at: number, n: number): void {
  b[at] = n >>> 24
  b[at + 1] = n >>> 16
  b[at + 2] = n >>> 8
  b[at + 3] = n
}

/** The inverse of `u64`, reading at `at` (without a DataView: it runs for every key read). */
export function readU64(b: Uint8Array, at = 0): number {
  if (at < 0 || at + 8 > b.length) throw new RangeError('readU64 past the end')
  const hi = ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0
  const lo = ((b[at + 4] << 24) | (b[at + 5] << 16) | (b[at + 6] << 8) | b[at + 7]) >>> 0
  return hi * 2 ** 32 + lo
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}

// Small arrays share 8 KiB slabs, as Node's Buffer pool does: one allocation per slab instead of
// one per event. The garbage collector tracks every ArrayBuffer, so per-event ones cost a few µs
// of its time each (measured on ingest); a slab lives while any view of it does. A small array
// made with `new Uint8Array(n)` or `slice()` is worse still once something needs its buffer
// (`subarray`, a native call such as a LevelDB put): V8 then moves it off its heap, ~0.2 µs each.
const SLAB = 8192
const POOLED_MAX = 1024
let slab = new Uint8Array(0)
let slabAt = 0

/** `length` bytes, not zeroed; small ones are views into a shared slab. */
export function pooled(length: number): Uint8Array {
  if (length > POOLED_MAX) return new Uint8Array(length)
  if (slabAt + length > slab.length) { slab = new Uint8Array(SLAB); slabAt = 0 }
  return slab.subarray(slabAt, slabAt += length)
}

/** A copy of `b`; small ones are views into a shared slab. */
export function copyPooled(b: Uint8Array): Uint8Array {
  const out = pooled(b.length)
  out.set(b)
  return out
}

/**
 * `prefix` ‖ `src[from, to)` in a shared slab, copied byte by byte: for a key, cheaper than the
 * view a `subarray` would make.
 */
export function prefixedPooled(prefix: Uint8Array, src: Uint8Array, from: number, to: number): Uint8Array {
  const out = pooled(prefix.length + to - from)
  out.set(prefix)
  for (let i = from, at = prefix.length; i < to; i++, at++) out[at] = src[i]
  return out
}

const NONE = new Uint8Array(0)

/** `src[from, to)` in a shared slab (see `prefixedPooled`). */
export function copyPooledRange(src: Uint8Array, from: number, to: number): Uint8Array {
  return prefixedPooled(NONE, src, from, to)
}

/** `concat` into a shared slab, for keys and values handed to LevelDB (which copies them). */
export function concatPooled(...parts: Uint8Array[]): Uint8Array {
  let length = 0
  for (const p of parts) length += p.length
  const out = pooled(length)
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}
