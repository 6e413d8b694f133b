import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { MemoryMap } from '../src/core/memory.js'
import { XaeroError } from '../src/index.js'

const fresh = () => new MemoryMap(new WebAssembly.Memory({ initial: 1, maximum: 64, shared: true }), 1024)

test('regions are aligned, disjoint, and reused after release', () => {
  const map = fresh()
  const a = map.alloc(100), b = map.alloc(5000), c = map.alloc(1)
  for (const p of [a, b, c]) assert.is(p % 64, 0)
  assert.ok(a + 100 <= b && b + 5000 <= c)
  map.release(b)
  assert.is(map.alloc(4000), b, 'first fit reuses the hole')
  map.release(a); map.release(c)
  assert.throws(() => map.release(a), (e: unknown) => e instanceof RangeError)
})

test('neighbouring free regions merge, and the memory grows when nothing fits', () => {
  const map = fresh()
  const regions = Array.from({ length: 8 }, () => map.alloc(1000))
  for (const r of regions) map.release(r)
  assert.is(map.used, 0)
  assert.is(map.alloc(7000), regions[0], 'the merged hole holds a larger region')
  const big = map.alloc(300_000)
  assert.ok(map.memory.buffer.byteLength >= big + 300_000)
})

test('past the maximum, E_OUT_OF_MEMORY', () => {
  const map = fresh()
  assert.throws(() => map.alloc(64 * 65536), (e: unknown) => e instanceof XaeroError && e.code === 'E_OUT_OF_MEMORY')
})

test.run()
