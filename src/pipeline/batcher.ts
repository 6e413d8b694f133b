/**
 * Gathers single calls made close together into one batch call: `add` resolves with this
 * item's result once `run` has handled the batch it joined. The batch runs on the next turn of
 * the event loop (setImmediate), so callers resumed by the same I/O event share one batch.
 */
export class Batcher<T, R> {
  private items: Array<{ item: T; resolve: (r: R) => void; reject: (e: unknown) => void }> = []

  constructor(private readonly run: (items: T[]) => Promise<R[]>) {}

  add(item: T): Promise<R> {
    return new Promise((resolve, reject) => {
      if (this.items.push({ item, resolve, reject }) === 1) setImmediate(() => this.flush())
    })
  }

  private async flush(): Promise<void> {
    const batch = this.items
    this.items = []
    try {
      const results = await this.run(batch.map((b) => b.item))
      batch.forEach((b, i) => b.resolve(results[i]))
    } catch (e) {
      for (const b of batch) b.reject(e)
    }
  }
}
