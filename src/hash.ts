import { defaultRuntime } from './core/default.js'
import { KEY_SIZE } from './core/exports.js'
import { toHex } from './hex.js'

/** SHA-256 of `bytes`, computed by the WebAssembly core. */
export function sha256(bytes: Uint8Array): Uint8Array {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('sha256 takes a Uint8Array')
  const runtime = defaultRuntime(), { core } = runtime
  return runtime.withRegion(bytes.length + 32, (ptr) => {
    core.u8.set(bytes, ptr)
    core.exports.sha256(ptr, bytes.length, ptr + bytes.length)
    return core.u8.slice(ptr + bytes.length, ptr + bytes.length + 32)
  })
}

/**
 * SHA-256 of each 64-byte message in `messages` (n × 64 bytes), four at a time in SIMD lanes;
 * returns n × 32 bytes of digests. The fast path of Merkle node hashing.
 */
export function sha256Batch64(messages: Uint8Array): Uint8Array {
  if (!(messages instanceof Uint8Array) || messages.length % 64 !== 0) throw new TypeError('messages must be n × 64 bytes')
  const n = messages.length / 64
  const runtime = defaultRuntime(), { core } = runtime
  return runtime.withRegion(messages.length + n * 32, (ptr) => {
    core.u8.set(messages, ptr)
    const out = ptr + messages.length
    core.exports.sha256Nodes(ptr, n, out)
    return core.u8.slice(out, out + n * 32)
  })
}

/**
 * The Merkle root (hex) of a set of 40-byte event keys, per docs/FORMAT.md: independent of their
 * order and of duplicates. `keys` is an iterable of keys or one buffer of n × 40 bytes.
 * The all-zero root is the empty set's. Inverse-free but checkable: `db.root()` equals it.
 */
export function merkleRoot(keys: Iterable<Uint8Array> | Uint8Array): string {
  return toHex(merkleRootBytes(keys))
}

export function merkleRootBytes(keys: Iterable<Uint8Array> | Uint8Array): Uint8Array {
  const flat = flattenKeys(keys)
  const n = flat.length / KEY_SIZE
  const runtime = defaultRuntime(), { core, map } = runtime
  const e = core.exports
  const keysPtr = map.alloc(flat.length)
  const pool = map.alloc(e.merklePoolSize() + 32)
  try {
    core.u8.set(flat, keysPtr)
    const out = pool + e.merklePoolSize()
    if (e.merkleRoot(keysPtr, n, pool, out) < 0) {
      core.u8.set(flat, keysPtr) // merkleRoot may have compacted duplicates before it found disorder
      runtime.withRegion(flat.length, (tmp) => e.sortKeys(keysPtr, n, tmp))
      e.merkleRoot(keysPtr, n, pool, out)
    }
    return core.u8.slice(out, out + 32)
  } finally {
    map.release(pool)
    map.release(keysPtr)
  }
}

function flattenKeys(keys: Iterable<Uint8Array> | Uint8Array): Uint8Array {
  if (keys instanceof Uint8Array) {
    if (keys.length % KEY_SIZE !== 0) throw new RangeError(`keys must be n × ${KEY_SIZE} bytes`)
    return keys
  }
  const list = Array.from(keys)
  const flat = new Uint8Array(list.length * KEY_SIZE)
  list.forEach((k, i) => {
    if (!(k instanceof Uint8Array) || k.length !== KEY_SIZE) throw new RangeError(`key ${i} is not ${KEY_SIZE} bytes`)
    flat.set(k, i * KEY_SIZE)
  })
  return flat
}
