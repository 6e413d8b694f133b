import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createHash, randomBytes } from 'node:crypto'
import { sha256, sha256Batch64 } from '../src/index.js'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const nodeSha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

test('FIPS 180 examples', () => {
  const enc = (s: string) => new TextEncoder().encode(s)
  assert.is(hex(sha256(enc('abc'))), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
  assert.is(hex(sha256(enc(''))), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
  assert.is(hex(sha256(enc('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'))), '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1')
  assert.is(hex(sha256(enc('a'.repeat(1_000_000)))), 'cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0')
})

test('equals node:crypto on every length 0..2048', () => {
  const data = randomBytes(2048)
  for (let n = 0; n <= 2048; n++) {
    const got = hex(sha256(data.subarray(0, n)))
    if (got !== nodeSha(data.subarray(0, n))) assert.unreachable(`length ${n}`)
  }
})

test('equals node:crypto on large random inputs', () => {
  for (const n of [65_537, 1 << 20, (3 << 20) + 7]) {
    const data = randomBytes(n)
    assert.is(hex(sha256(data)), nodeSha(data), `length ${n}`)
  }
})

test('batched 64-byte hashing equals node:crypto, for every batch size 0..17', () => {
  for (let n = 0; n <= 17; n++) {
    const msgs = randomBytes(n * 64)
    const out = sha256Batch64(msgs)
    assert.is(out.length, n * 32)
    for (let i = 0; i < n; i++) assert.is(hex(out.subarray(i * 32, i * 32 + 32)), nodeSha(msgs.subarray(i * 64, i * 64 + 64)))
  }
})

test('rejects what is not bytes', () => {
  assert.throws(() => sha256('abc' as unknown as Uint8Array), (e: unknown) => e instanceof TypeError)
  assert.throws(() => sha256Batch64(new Uint8Array(63)), (e: unknown) => e instanceof TypeError)
})

test.run()
