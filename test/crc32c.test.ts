import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { randomBytes } from 'node:crypto'
import { crc32c } from '../src/index.js'

// Bit-at-a-time CRC32C: the definition, to compare the sliced tables against.
function reference(bytes: Uint8Array): number {
  let c = 0xffffffff
  for (const b of bytes) {
    c ^= b
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0x82f63b78 & -(c & 1))
  }
  return (c ^ 0xffffffff) >>> 0
}

test('known values (RFC 3720 B.4 and the check value)', () => {
  assert.is(crc32c(new TextEncoder().encode('123456789')), 0xe3069283)
  assert.is(crc32c(new Uint8Array(32)), 0x8a9136aa)
  assert.is(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43)
  assert.is(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e)
  assert.is(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c)
  assert.is(crc32c(new Uint8Array(0)), 0)
})

test('equals the bitwise definition at every length and alignment up to 300', () => {
  const data = randomBytes(320)
  for (let start = 0; start < 9; start++) {
    for (let n = 0; n <= 300; n++) assert.is(crc32c(data.subarray(start, start + n)), reference(data.subarray(start, start + n)))
  }
})

test('continues across chunks', () => {
  const data = randomBytes(10_000)
  assert.is(crc32c(data.subarray(3000), crc32c(data.subarray(0, 3000))), crc32c(data))
})

test.run()
