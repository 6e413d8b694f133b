/**
 * `items.map(fn)`, always as a packed array. V8's `map` (and `new Array(n)`) may give a holey
 * array or a packed one depending on how far the caller is optimized, and `filter` and `slice`
 * pass that on. Code optimized for one kind is thrown away when the other arrives, and recompiling
 * the store's insert path costs tens of ms each time (measured: three rounds of recompiles per
 * 200 000 appends, most of the V8 helper threads' time). Hot paths build their arrays with this.
 */
export function mapPacked<T, R>(items: readonly T[], fn: (item: T, i: number) => R): R[] {
  const out: R[] = []
  for (let i = 0; i < items.length; i++) out.push(fn(items[i], i))
  return out
}
