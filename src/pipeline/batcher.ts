import { mapPacked } from '../arrays.js'

/**
 * Gathers single calls made close together into batch calls: `add` resolves with this item's
 * result once `run` has handled the batch it joined. Batches form on the next turn of the event
 * loop (setImmediate), so callers resumed by the same I/O event share them; a gathering larger
 * than `maxBatch` runs as several batches at once, each settling on its own, so the first
 * results move on down the pipeline while later ones are still being worked on.
 */
export class Batcher<T, R> {
  private items: Array<{ item: T; resolve: (r: R) => void; reject: (e: unknown) => void }> = []

  constructor(private readonly run: (items: T[]) => Promise<R[]>, private readonly maxBatch = Infinity) {}

  add(item: T): Promise<R> {
    return new Promise((resolve, reject) => {
      if (this.items.push({ item, resolve, reject }) === 1) nextTurn(() => this.flush())
    })
  }

  private flush(): void {
    const all = this.items
    this.items = []
    for (let start = 0; start < all.length; start += this.maxBatch) void this.runBatch(all.slice(start, start + this.maxBatch))
  }

  private async runBatch(batch: typeof this.items): Promise<void> {
    try {
      const results = await this.run(mapPacked(batch, (b) => b.item))
      batch.forEach((b, i) => b.resolve(results[i]))
    } catch (e) {
      for (const b of batch) b.reject(e)
    }
  }
}

// The next turn of the event loop: setImmediate in Node; browsers have only timers for it.
const nextTurn: (fn: () => void) => void = globalThis.setImmediate ?? ((fn) => setTimeout(fn, 0))
