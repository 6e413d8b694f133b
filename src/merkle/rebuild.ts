import type { Runtime } from '../core/core.js'
import { toHex } from '../hex.js'
import { EMPTY, LEAF, PAGE, PAGE_RECORD, Page, pageAddress } from './pages.js'
import { prefixPosition } from './keys.js'

/** What `rebuildIndex` found and did. */
export interface RebuildReport {
  /** Pages recomputed from the stored events and compared with the stored ones. */
  pagesChecked: number
  /** Pages that differed (or were missing or unreadable) and were rewritten, by address (hex). */
  pagesRepaired: string[]
  /** Whether the stored root slot differed. */
  rootRepaired: boolean
}

export interface RebuildSource {
  /** Every event key with this prefix, in order. */
  keysUnder(prefix: Uint8Array, limit?: number): Promise<Uint8Array[]>
  /** The stored page at this address, if any. */
  storedPage(address: Uint8Array): Promise<Uint8Array | undefined>
  /** Queues a repaired page for writing. */
  repair(address: Uint8Array, page: Uint8Array): void
}

type Slot = { kind: number; value?: Uint8Array }

/**
 * Recomputes the Merkle pages that cover keys in [lo, hi) from the stored events and repairs
 * those that differ. Subtrees wholly inside the range are rebuilt from their keys; the few
 * pages that straddle a bound are recomputed child by child, taking children wholly outside
 * the range from the stored page (they are not what was asked to check). Returns the root
 * slot it computed and the report.
 */
export async function rebuildRange(runtime: Runtime, lo: Uint8Array, hi: Uint8Array, source: RebuildSource, storedRoot: Slot): Promise<{ root: Slot; report: RebuildReport }> {
  const report: RebuildReport = { pagesChecked: 0, pagesRepaired: [], rootRepaired: false }

  const inside = (p: Uint8Array) => prefixPosition(p, lo, hi) === 'inside'
  const outside = (p: Uint8Array) => prefixPosition(p, lo, hi) === 'outside'

  // A page record in the core's memory for the duration of `fn`.
  async function withPage<T>(depth: number, prefix: Uint8Array, fn: (page: Page) => Promise<T>): Promise<T> {
    const page = new Page(runtime, depth, prefix, runtime.map.alloc(PAGE_RECORD))
    page.init()
    try {
      return await fn(page)
    } finally {
      runtime.map.release(page.ptr)
    }
  }

  async function check(page: Page): Promise<void> {
    page.rehash()
    report.pagesChecked++
    const expected = page.encode()
    const stored = await source.storedPage(page.address)
    if (!stored || toHex(stored) !== toHex(expected)) {
      report.pagesRepaired.push(toHex(page.address))
      source.repair(page.address, expected)
    }
  }

  // The page of `keys` (≥ 2, sorted, all the keys under `prefix`), checked with all pages below.
  async function build(depth: number, prefix: Uint8Array, keys: Uint8Array[]): Promise<Uint8Array> {
    return withPage(depth, prefix, async (page) => {
      for (let i = 0; i < keys.length;) {
        let j = i + 1
        while (j < keys.length && keys[j][depth] === keys[i][depth]) j++
        const b = keys[i][depth]
        if (j - i === 1) page.setLeaf(b, keys[i])
        else page.setChildPage(b, await build(depth + 1, keys[i].subarray(0, depth + 1), keys.slice(i, j)))
        i = j
      }
      await check(page)
      return page.slot(1).slice()
    })
  }

  // The slot for everything under `prefix`, checking and repairing the pages below it.
  async function slot(depth: number, prefix: Uint8Array): Promise<Slot> {
    const all = inside(prefix)
    const keys = await source.keysUnder(prefix, all ? undefined : 2)
    if (keys.length === 0) return { kind: EMPTY }
    if (keys.length === 1) return { kind: LEAF, value: keys[0] }
    if (all) return { kind: PAGE, value: await build(depth, prefix, keys) }
    return { kind: PAGE, value: await straddling(depth, prefix) }
  }

  // A page whose keys lie both inside and outside the range.
  async function straddling(depth: number, prefix: Uint8Array): Promise<Uint8Array> {
    let stored: Page | undefined
    const storedBytes = await source.storedPage(pageAddress(depth, prefix))
    return withPage(depth, prefix, async (page) => {
      if (storedBytes) {
        stored = new Page(runtime, depth, prefix, runtime.map.alloc(PAGE_RECORD))
        stored.init()
        try { stored.decode(storedBytes) } catch { runtime.map.release(stored.ptr); stored = undefined }
      }
      try {
        for (let b = 0; b < 256; b++) {
          const child = new Uint8Array(depth + 1)
          child.set(prefix.subarray(0, depth))
          child[depth] = b
          // Outside the range, the stored page is trusted; without one, everything is recomputed.
          const s: Slot = outside(child) && stored ? storedSlot(stored, b) : await slot(depth + 1, child)
          if (s.kind === LEAF) page.setLeaf(b, s.value!)
          else if (s.kind === PAGE) page.setChildPage(b, s.value!)
        }
        await check(page)
        return page.slot(1).slice()
      } finally {
        if (stored) runtime.map.release(stored.ptr)
      }
    })
  }

  const root = await slot(0, new Uint8Array(0))
  report.rootRepaired = root.kind !== storedRoot.kind || (root.value && storedRoot.value ? toHex(root.value) !== toHex(storedRoot.value) : root.value !== storedRoot.value)
  return { root, report }
}

function storedSlot(page: Page, b: number): Slot {
  const kind = page.kinds[b]
  if (kind === LEAF) return { kind, value: page.leafKey(b).slice() }
  if (kind === PAGE) return { kind, value: page.slot(256 + b).slice() }
  return { kind: EMPTY }
}
