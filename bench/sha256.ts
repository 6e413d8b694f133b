// SHA-256: 64-byte messages (the Merkle node size) in hashes/s, and 1 KiB / 1 MiB inputs in
// MB/s (10^6 bytes), for this core next to @noble/hashes, node:crypto and @chainsafe/as-sha256.
import { createHash, hash } from 'node:crypto'
import { sha256 as noble } from '@noble/hashes/sha2.js'
import * as asSha from '@chainsafe/as-sha256'
import { defaultRuntime } from '../src/core/default.js'
import { sha256, sha256Batch64 } from '../src/hash.js'
import { check, equalBytes, measure, randomBytes, randomMessages, round } from './util.js'

const runtime = defaultRuntime()

const { core, map } = runtime

const nodeHash = (m: Uint8Array) => createHash('sha256').update(m).digest()
/** crypto.hash (Node 20.12+) skips the Hash object: node's fastest one-shot. */
const nodeOneShot = (m: Uint8Array) => hash('sha256', m, 'buffer')

/** Enough messages per call that the JS → WASM call is noise next to the hashing. */
const BATCH = 4096

export function sha256Messages64() {
  const { flat, list } = randomMessages(BATCH, 64)
  const expected = nodeHash(list[0])
  const src = map.alloc(BATCH * 64), dst = map.alloc(BATCH * 32)
  try {
    core.u8.set(flat, src)
    const e = core.exports
    const batchedRaw = () => e.sha256Nodes(src, BATCH, dst)
    const oneShotRaw = () => { for (let i = 0; i < BATCH; i++) e.sha256(src + i * 64, 64, dst + i * 32) }
    const asOut = new Uint8Array(BATCH * 32)
    const asBatched = () => asSha.hashInto(flat, asOut)

    batchedRaw()
    check(equalBytes(core.u8.subarray(dst, dst + 32), expected), 'sha256Nodes')
    check(equalBytes(sha256Batch64(flat).subarray(0, 32), expected), 'sha256Batch64')
    check(equalBytes(nodeOneShot(list[0]), expected), 'crypto.hash')
    asBatched()
    check(equalBytes(asOut.subarray(0, 32), expected), 'as-sha256 hashInto')

    return {
      coreBatchedRaw: measure(batchedRaw, BATCH),
      coreBatchedPublic: measure(() => sha256Batch64(flat), BATCH),
      coreOneShotRaw: measure(oneShotRaw, BATCH),
      nobleOneShot: measure(() => { for (const m of list) noble(m) }, BATCH),
      nodeCryptoOneShot: measure(() => { for (const m of list) nodeHash(m) }, BATCH),
      nodeCryptoHashOneShot: measure(() => { for (const m of list) nodeOneShot(m) }, BATCH),
      asSha256HashInto: measure(asBatched, BATCH),
      asSha256Digest64: measure(() => { for (const m of list) asSha.digest64(m) }, BATCH),
    }
  } finally {
    map.release(dst)
    map.release(src)
  }
}

/** MB/s over one input of `size` bytes, hashed `repeat` times per timed call. */
function throughput(size: number, repeat: number) {
  const data = randomBytes(size)
  const expected = nodeHash(data)
  const ptr = map.alloc(size + 32), out = ptr + size
  try {
    core.u8.set(data, ptr)
    core.exports.sha256(ptr, size, out)
    check(equalBytes(core.u8.subarray(out, out + 32), expected), `core sha256 of ${size} bytes`)
    check(equalBytes(sha256(data), expected), `public sha256 of ${size} bytes`)
    check(equalBytes(asSha.digest(data), expected), `as-sha256 digest of ${size} bytes`)

    const mbps = (hash: (d: Uint8Array) => unknown) =>
      round(measure(() => { for (let i = 0; i < repeat; i++) hash(data) }, size * repeat) / 1e6)
    return {
      coreRaw: mbps(() => core.exports.sha256(ptr, size, out)),
      corePublic: mbps(sha256),
      noble: mbps(noble),
      nodeCrypto: mbps(nodeHash),
      nodeCryptoHash: mbps(nodeOneShot),
      asSha256Digest: mbps(asSha.digest),
    }
  } finally {
    map.release(ptr)
  }
}

export function sha256Bench() {
  const perSec = sha256Messages64()
  const rounded = Object.fromEntries(Object.entries(perSec).map(([k, v]) => [k, round(v)])) as typeof perSec
  return {
    raw: perSec,
    results: {
      msg64HashesPerSec: rounded,
      kib1MBPerSec: throughput(1024, 64),
      mib1MBPerSec: throughput(1 << 20, 1),
    },
  }
}
