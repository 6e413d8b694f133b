// A group's namespace on the network (docs/NETWORK.md): the `<ns>` of its protocol ids, and
// for a group with a secret, the key its peers prove they hold.
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { toHex } from '../hex.js'

/** A group's namespace `<ns>` and the protocol ids derived from it (docs/NETWORK.md). */
export interface GroupNamespace {
  /** `<ns>`: the group id in lowercase hex, or for a secret group a value derived from the secret. */
  readonly ns: string
  /** The group's own kad-dht: `/xaeroflux/<ns>/kad/1.0.0`. */
  readonly kad: string
  /** Handshake, reconciliation, event transfer and live push: `/xaeroflux/<ns>/sync/1.0.0`. */
  readonly sync: string
  /** Secret groups: the 32-byte key of the handshake's challenge-response (never sent). */
  readonly authKey?: Uint8Array
}

/** A secret shorter than this is refused: `<ns>` is public, and a short secret could be guessed from it offline. */
export const MIN_SECRET_BYTES = 16

/**
 * The namespace of the group `groupId` (32 bytes). Without a secret `<ns>` is the group id in
 * hex, which anyone who knows the group's name can compute. With one, both `<ns>` and the
 * handshake key come from HKDF-SHA256 (the secret as key material, the group id as salt), under
 * different labels: outsiders cannot compute `<ns>`, and `<ns>` tells nothing about the key.
 */
export function groupNamespace(groupId: Uint8Array, secret?: string | Uint8Array): GroupNamespace {
  if (!(groupId instanceof Uint8Array) || groupId.length !== 32) throw new TypeError('a group id is 32 bytes')
  if (secret === undefined) return withProtocols(toHex(groupId))
  const ikm = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret
  if (!(ikm instanceof Uint8Array)) throw new TypeError('secret is a string or bytes')
  if (ikm.length < MIN_SECRET_BYTES) throw new RangeError(`secret must be at least ${MIN_SECRET_BYTES} bytes (random ones: it is guessable from the namespace otherwise)`)
  const ns = toHex(hkdf(sha256, ikm, groupId, utf8('xaeroflux/ns/v1'), 32))
  return withProtocols(ns, hkdf(sha256, ikm, groupId, utf8('xaeroflux/auth/v1'), 32))
}

const utf8 = (s: string) => new TextEncoder().encode(s)

function withProtocols(ns: string, authKey?: Uint8Array): GroupNamespace {
  return { ns, kad: `/xaeroflux/${ns}/kad/1.0.0`, sync: `/xaeroflux/${ns}/sync/1.0.0`, authKey }
}
