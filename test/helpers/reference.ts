// Plain TypeScript references of docs/FORMAT.md's definitions, on node:crypto, for the tests to
// compare the WebAssembly core against. Slow and obvious on purpose.
import { createHash } from 'node:crypto'

export const EMPTY = Buffer.alloc(32)

export function sha256(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha256')
  for (const p of parts) h.update(p)
  return h.digest()
}

export function leaf(key: Uint8Array): Buffer {
  return sha256(Buffer.from([0]), key)
}

export function node(l: Buffer, r: Buffer): Buffer {
  return l.equals(EMPTY) && r.equals(EMPTY) ? EMPTY : sha256(l, r)
}

/** Root of the complete binary tree of height 8 over 256 child hashes. */
export function pageHash(children: Buffer[]): Buffer {
  let level = children
  while (level.length > 1) {
    const next: Buffer[] = []
    for (let i = 0; i < level.length; i += 2) next.push(node(level[i], level[i + 1]))
    level = next
  }
  return level[0]
}

/** H(S, d) of docs/FORMAT.md, for keys sharing their first d bytes. */
function H(keys: Buffer[], d: number): Buffer {
  if (keys.length === 0) return EMPTY
  if (keys.length === 1) return leaf(keys[0])
  const groups: Buffer[][] = Array.from({ length: 256 }, () => [])
  for (const k of keys) groups[k[d]].push(k)
  return pageHash(groups.map((g) => H(g, d + 1)))
}

/** The Merkle root of a set of 40-byte keys, order and duplicates ignored. */
export function referenceRoot(keys: Uint8Array[]): string {
  const unique = new Map<string, Buffer>()
  for (const k of keys) unique.set(Buffer.from(k).toString('hex'), Buffer.from(k))
  return H([...unique.values()], 0).toString('hex')
}
