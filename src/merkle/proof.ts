import { KEY_SIZE } from '../core/exports.js'
import { sha256 } from '../hash.js'
import { bytes32, fromHex } from '../hex.js'

// A proof, version 1:
//   version u8 = 1 | type u8 | key (40) | pages u8 = D | D × 8 sibling hashes (root page first,
//   each page's lowest sibling first) | the other key (40) when type is PROOF_ABSENT_LEAF
// Folding leaf(key) (or EMPTY, or leaf(other)) up through the pages, with the key's bytes as
// directions, must give the root.
export const PROOF_PRESENT = 1
/** The key's slot is EMPTY. */
export const PROOF_ABSENT_EMPTY = 2
/** The key's slot holds the leaf of another key with the same prefix. */
export const PROOF_ABSENT_LEAF = 3

const GROUP = 8 * 32
const MAX_PAGES = KEY_SIZE

export function encodeProof(type: number, key: Uint8Array, groups: Uint8Array[], other?: Uint8Array): Uint8Array {
  const out = new Uint8Array(3 + KEY_SIZE + groups.length * GROUP + (other ? KEY_SIZE : 0))
  out[0] = 1
  out[1] = type
  out.set(key, 2)
  out[2 + KEY_SIZE] = groups.length
  groups.forEach((g, i) => out.set(g, 3 + KEY_SIZE + i * GROUP))
  if (other) out.set(other, 3 + KEY_SIZE + groups.length * GROUP)
  return out
}

export interface ParsedProof { type: number; key: Uint8Array; groups: Uint8Array[]; other?: Uint8Array }

/** Parses a proof; undefined if it is not a well-formed version 1 proof. */
export function parseProof(proof: Uint8Array): ParsedProof | undefined {
  if (!(proof instanceof Uint8Array) || proof.length < 3 + KEY_SIZE || proof[0] !== 1) return undefined
  const type = proof[1], pages = proof[2 + KEY_SIZE]
  if (type < PROOF_PRESENT || type > PROOF_ABSENT_LEAF || pages > MAX_PAGES) return undefined
  const size = 3 + KEY_SIZE + pages * GROUP + (type === PROOF_ABSENT_LEAF ? KEY_SIZE : 0)
  if (proof.length !== size) return undefined
  const key = proof.slice(2, 2 + KEY_SIZE)
  const groups = Array.from({ length: pages }, (_, i) => proof.subarray(3 + KEY_SIZE + i * GROUP, 3 + KEY_SIZE + (i + 1) * GROUP))
  const other = type === PROOF_ABSENT_LEAF ? proof.slice(size - KEY_SIZE) : undefined
  return { type, key, groups, other }
}

const EMPTY = new Uint8Array(32)
const isEmpty = (h: Uint8Array) => h.every((x) => x === 0)

function leaf(key: Uint8Array): Uint8Array {
  const m = new Uint8Array(1 + KEY_SIZE)
  m.set(key, 1)
  return sha256(m)
}

function node(l: Uint8Array, r: Uint8Array): Uint8Array {
  if (isEmpty(l) && isEmpty(r)) return EMPTY
  const m = new Uint8Array(64)
  m.set(l)
  m.set(r, 32)
  return sha256(m)
}

/** The root a parsed proof folds to. */
function fold(p: ParsedProof): Uint8Array {
  let h = p.type === PROOF_PRESENT ? leaf(p.key) : p.type === PROOF_ABSENT_LEAF ? leaf(p.other!) : EMPTY
  for (let d = p.groups.length - 1; d >= 0; d--) {
    const group = p.groups[d]
    for (let s = 256 + p.key[d], level = 0; s > 1; s >>= 1, level++) {
      const sibling = group.subarray(level * 32, level * 32 + 32)
      h = s & 1 ? node(sibling, h) : node(h, sibling)
    }
  }
  return h
}

function sameRoot(a: Uint8Array, root: Uint8Array | string): boolean {
  const r = typeof root === 'string' ? fromHex(root) : root
  return a.length === r.length && a.every((x, i) => x === r[i])
}

/** Whether `proof` shows that its key is in the set whose root is `root` (hex or 32 bytes). */
export function verifyProof(proof: Uint8Array, root: Uint8Array | string): boolean {
  bytes32(root, 'root')
  const p = parseProof(proof)
  return p !== undefined && p.type === PROOF_PRESENT && sameRoot(fold(p), root)
}

/**
 * Whether `proof` shows that its key is NOT in the set whose root is `root`: the key's slot is
 * EMPTY, or holds the leaf of another key that shares the key's prefix down to that slot.
 */
export function verifyAbsence(proof: Uint8Array, root: Uint8Array | string): boolean {
  bytes32(root, 'root')
  const p = parseProof(proof)
  if (!p || p.type === PROOF_PRESENT) return false
  if (p.other) {
    const depth = p.groups.length
    if (p.other.every((x, i) => x === p.key[i])) return false
    for (let i = 0; i < depth; i++) if (p.other[i] !== p.key[i]) return false
  }
  return sameRoot(fold(p), root)
}

/** The key a proof is about. */
export function proofKey(proof: Uint8Array): Uint8Array | undefined {
  return parseProof(proof)?.key
}
