// Merkle figures: hashing one full 16 KiB page and one child-to-root path, and the root of
// 1M event keys through the public merkleRoot (sorted and unsorted input) and the raw export.
import { defaultRuntime } from '../src/core/default.js'
import { KEY_SIZE, PAGE_SIZE } from '../src/core/exports.js'
import { merkleRoot } from '../src/hash.js'
import { toHex } from '../src/hex.js'
import { check, measure, randomBytes, round } from './util.js'

const runtime = defaultRuntime()

const { core, map } = runtime

/** A full page: all 256 child slots (256..511, the upper half) random, so none is EMPTY. */
export function pageBench() {
  const page = map.alloc(PAGE_SIZE), list = map.alloc(4)
  try {
    core.u8.set(randomBytes(PAGE_SIZE / 2), page + PAGE_SIZE / 2)
    const e = core.exports
    check(e.hashPage(page) === 255, 'hashPage of a full page computes 255 node hashes')
    // Children stay untouched, so both calls can repeat on the same page. A path: the ancestors
    // of one changed child (`hashChanged` with one entry).
    const pagesPerSec = measure(() => e.hashPage(page), 1)
    const path = (b: number) => { core.dv.setUint32(list, b, true); return e.hashChanged(list, 1, 1, page, 0, 0, 0, 0, 0, 0, 0) }
    check(path(0) === 8, 'the path of one child of a full page is 8 node hashes')
    const pathsPerSec = measure(() => { for (let b = 0; b < 256; b++) path(b) }, 256)
    return {
      fullPagesPerSec: round(pagesPerSec),
      fullPageNodeHashesPerSec: round(pagesPerSec * 255),
      pathsPerSec: round(pathsPerSec),
      pathNodeHashesPerSec: round(pathsPerSec * 8),
    }
  } finally {
    map.release(page)
    map.release(list)
  }
}

const KEYS = 1_000_000
/** A fixed epoch (late 2026) so that every run builds trees of the same shape. */
const EPOCH = 1.79e12
const DAY_MS = 86_400_000

/** `n` keys: big-endian timestamp spread over one day ‖ 32 random bytes. */
function randomKeys(n: number): Uint8Array {
  const flat = randomBytes(n * KEY_SIZE)
  const dv = new DataView(flat.buffer)
  for (let i = 0; i < n; i++) {
    const t = EPOCH + Math.floor(Math.random() * DAY_MS)
    dv.setUint32(i * KEY_SIZE, Math.floor(t / 2 ** 32))
    dv.setUint32(i * KEY_SIZE + 4, t >>> 0)
  }
  return flat
}

/**
 * `batch64PerSec` is the core's batched 64-byte rate from the same run: the target is that a
 * whole root costs no more than the node hashes in it would cost at that rate (± 20%).
 */
export function merkleRootBench(batch64PerSec: number) {
  const unsorted = randomKeys(KEYS)
  const e = core.exports
  const bytes = KEYS * KEY_SIZE
  const keys = map.alloc(bytes)
  const pool = map.alloc(e.merklePoolSize() + 32)
  const out = pool + e.merklePoolSize()
  try {
    core.u8.set(unsorted, keys)
    runtime.withRegion(bytes, (tmp) => e.sortKeys(keys, KEYS, tmp))
    const sorted = core.u8.slice(keys, keys + bytes)

    // Sorted and random keys are unique (a repeat of 32 random bytes is out of reach), so
    // the in-place dedupe moves nothing and the raw call can repeat on the same keys.
    const hashes = e.merkleRoot(keys, KEYS, pool, out)
    check(hashes > 0, 'raw merkleRoot accepts sorted keys')
    const root = toHex(core.u8.subarray(out, out + 32))
    check(merkleRoot(sorted) === root && merkleRoot(unsorted) === root, 'equal roots for sorted, unsorted and raw')

    const once = { warmupMs: 0, roundMs: 500 }
    const figures = (keysPerSec: number) => ({
      seconds: round(KEYS / keysPerSec),
      keysPerSec: round(keysPerSec),
      hashes,
      hashesPerSec: round((keysPerSec / KEYS) * hashes),
    })
    const publicSorted = figures(measure(() => merkleRoot(sorted), KEYS, once))
    const publicUnsorted = figures(measure(() => merkleRoot(unsorted), KEYS, once))
    const rawKeysPerSec = measure(() => e.merkleRoot(keys, KEYS, pool, out), KEYS, once)
    return {
      results: { keys: KEYS, root, publicSorted, publicUnsorted, raw: figures(rawKeysPerSec) },
      rawHashesVsBatch64: ((rawKeysPerSec / KEYS) * hashes) / batch64PerSec,
    }
  } finally {
    map.release(pool)
    map.release(keys)
  }
}
