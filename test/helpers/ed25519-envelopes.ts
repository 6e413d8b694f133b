// Hand-built envelopes whose signatures exploit how Ed25519 libraries differ (docs/FORMAT.md,
// Signature rule), for decodeEvent's tests in Node (test/ed25519.test.ts) and in Chromium
// (test/browser/ed25519-page.ts).
import { ed25519 as noble } from '@noble/curves/ed25519.js'
import { numberToBytesLE } from '@noble/curves/utils.js'
import { unsignedEvent } from '../../src/event.js'
import { groupId } from '../../src/group.js'
import { SMALL_NON_CANONICAL, TORSION, challenge } from './ed25519-cases.js'

export const ENVELOPE_GROUP = groupId('ed25519 test')
const L = noble.Point.Fn.ORDER

/** An event "signed" by the neutral point: R = neutral, S = 0, which holds for any message. */
export function neutralEnvelope(): Uint8Array {
  const neutral = TORSION[0].toBytes()
  const event = unsignedEvent({ kind: 1, group: ENVELOPE_GROUP, payload: 'anything at all', timestamp: 1_700_000_000_000 }, neutral)
  event.bytes.set(neutral, event.bytes.length - 64) // R; S stays 0
  return event.bytes
}

/**
 * An event by A = [a]B + T (T of order 8) whose R is a non-canonical encoding of a small-order
 * point T_R with T_R + [k]T = 0, and S = k·a: [S]B = R + [k]A holds for a decoder that reduces
 * R (noble's default, ZIP-215), never for one that compares R's bytes.
 */
export function nonCanonicalREnvelope(): Uint8Array {
  for (let a = 5n; ; a++) {
    const author = noble.Point.BASE.multiply(a).add(TORSION[1]).toBytes()
    const event = unsignedEvent({ kind: 1, group: ENVELOPE_GROUP, payload: 'non-canonical R', timestamp: 1_700_000_000_000 }, author)
    for (const R of SMALL_NON_CANONICAL) {
      const k = challenge(R.encoding, author, event.key.subarray(8))
      if (!R.point.add(TORSION[1].multiplyUnsafe(k % 8n)).is0()) continue // T has order 8
      event.bytes.set(R.encoding, event.bytes.length - 64)
      event.bytes.set(numberToBytesLE((k * a) % L, 32), event.bytes.length - 32)
      return event.bytes
    }
  }
}
