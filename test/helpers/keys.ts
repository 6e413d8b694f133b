import { randomBytes } from 'node:crypto'

export { rng } from './rng.js'

/** A 40-byte event key: timestamp (8 bytes, big-endian) ‖ 32 id bytes. */
export function makeKey(timestamp: number, id: Uint8Array = randomBytes(32)): Buffer {
  const k = Buffer.alloc(40)
  k.writeBigUInt64BE(BigInt(timestamp), 0)
  Buffer.from(id).copy(k, 8)
  return k
}

export function shuffle<T>(items: T[], random: () => number): T[] {
  const a = items.slice()
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[a[i], a[j]] = [a[j], a[i]]
  }
  return a
}
