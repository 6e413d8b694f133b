import { randomBytes } from 'node:crypto'

/** A 40-byte event key: timestamp (8 bytes, big-endian) ‖ 32 id bytes. */
export function makeKey(timestamp: number, id: Uint8Array = randomBytes(32)): Buffer {
  const k = Buffer.alloc(40)
  k.writeBigUInt64BE(BigInt(timestamp), 0)
  Buffer.from(id).copy(k, 8)
  return k
}

/** A deterministic pseudo-random generator (xorshift32) so failures can be replayed by seed. */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1
  return () => {
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    return x / 2 ** 32
  }
}

export function shuffle<T>(items: T[], random: () => number): T[] {
  const a = items.slice()
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[a[i], a[j]] = [a[j], a[i]]
  }
  return a
}
