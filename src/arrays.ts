/**
 * `items.map(fn)`, always as a packed array. V8's `map` (and `new Array(n)`) may give a holey
 * array or a packed one depending on how far the caller is optimized, and `filter` and `slice`
 * pass that on. Code optimized for one kind is thrown away when the other arrives, and recompiling
 * the store's insert path costs tens of ms each time (measured over 200 000 appends: the Merkle
 * insert recompiled three times, 406 optimizing compiles in all, 176 with packed arrays). Hot
 * paths build their arrays with this.
 */
export function mapPacked<T, R>(items: readonly T[], fn: (item: T, i: number) => R): R[] {
  const out: R[] = []
  for (let i = 0; i < items.length; i++) out.push(fn(items[i], i))
  return out
}
