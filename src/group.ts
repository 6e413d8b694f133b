import { sha256 } from './hash.js'
import { toHex } from './hex.js'

const GROUP_DOMAIN = 'xaeroflux/group/v1\n'

/** The 32-byte id (hex) of the group named `name`: SHA-256("xaeroflux/group/v1\n" ‖ name). */
export function groupId(name: string): string {
  if (typeof name !== 'string') throw new TypeError('a group name is a string')
  return toHex(sha256(new TextEncoder().encode(GROUP_DOMAIN + name)))
}
