/** 8 bytes, big-endian, of a whole number below 2^53: timestamps, counts, offsets. */
export function u64(n: number): Uint8Array {
  const b = new Uint8Array(8)
  const dv = new DataView(b.buffer)
  dv.setUint32(0, Math.floor(n / 2 ** 32))
  dv.setUint32(4, n >>> 0)
  return b
}

/** The inverse of `u64`, reading at `at`. */
export function readU64(b: Uint8Array, at = 0): number {
  const dv = new DataView(b.buffer, b.byteOffset + at, 8)
  return dv.getUint32(0) * 2 ** 32 + dv.getUint32(4)
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}
