import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createHash } from 'node:crypto'
import { Identity, groupId, encodeEvent, decodeEvent, decodeEvents, XaeroError, type XaeroErrorCode } from '../src/index.js'
import { rng } from './helpers/keys.js'
import { copyPooled } from '../src/bytes.js'
import { ed25519 as noble } from '@noble/curves/ed25519.js'
import { nodeCryptoSigner, signingLibrary, sodiumSigner } from '../src/platform/node.js'

const me = Identity.generate()
const group = groupId('friends')
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

function rejects(bytes: Uint8Array, code: XaeroErrorCode, options = {}) {
  const before = hex(bytes)
  assert.throws(() => decodeEvent(bytes, options), (e: unknown) => e instanceof XaeroError && e.code === code, code)
  assert.is(hex(bytes), before, 'the input is left unchanged')
}

test('Identity: RFC 8032 test vector 1, and secret key round trip', () => {
  const id = Identity.fromSecretKey(Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex'))
  assert.is(id.id, 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a')
  assert.is(hex(id.sign(new Uint8Array(0))), 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b')
  assert.is(Identity.fromSecretKey(me.secretKey).id, me.id)
  assert.throws(() => Identity.fromSecretKey(new Uint8Array(31)), (e: unknown) => e instanceof TypeError)
})

test('libsodium signs as node:crypto and @noble/curves do, into any view (shared memory too)', () => {
  assert.is(signingLibrary, 'libsodium', 'sodium-native loads (prebuilt for this platform)')
  const random = rng(5)
  const shared = new Uint8Array(new SharedArrayBuffer(256))
  for (let i = 0; i < 200; i++) {
    const seed = Uint8Array.from({ length: 32 }, () => random() * 256)
    const message = Uint8Array.from({ length: i % 3 === 0 ? 0 : 32 }, () => random() * 256)
    const expected = hex(noble.sign(message, seed))
    const byNodeCrypto = new Uint8Array(64)
    nodeCryptoSigner(seed)(message, byNodeCrypto)
    shared.set(message, 16)
    sodiumSigner(seed)!(shared.subarray(16, 16 + message.length), shared.subarray(100, 164))
    assert.is(hex(byNodeCrypto), expected)
    assert.is(hex(shared.subarray(100, 164)), expected)
  }
})

test('groupId is SHA-256 of the domain and the name', () => {
  assert.is(groupId('friends'), createHash('sha256').update('xaeroflux/group/v1\nfriends').digest('hex'))
  assert.is.not(groupId('friends'), groupId('Friends'))
})

test('round trip: every field, the id, the key, the layout', () => {
  for (const payload of [new Uint8Array(0), 'hello', new Uint8Array(200).fill(7), new Uint8Array(70_000).fill(1)]) {
    const bytes = encodeEvent({ kind: 513, timestamp: 1_790_000_000_123, group, payload }, me)
    const p = typeof payload === 'string' ? new TextEncoder().encode(payload) : payload
    assert.is(bytes.length, 144 + p.length)
    const e = decodeEvent(bytes, { group, now: 1_790_000_000_000 })
    assert.is(e.kind, 513)
    assert.is(e.timestamp, 1_790_000_000_123)
    assert.is(e.group, group)
    assert.is(e.author, me.id)
    assert.equal(e.payload, p)
    assert.equal(e.bytes, bytes)
    assert.is(e.id, createHash('sha256').update(bytes.subarray(0, 80 + p.length)).digest('hex'))
    assert.is(hex(e.key), Buffer.from(bytes.subarray(4, 12)).toString('hex') + e.id)
  }
})

test('timestamp defaults to now; kind and timestamp bounds are checked', () => {
  const before = Date.now()
  const e = decodeEvent(encodeEvent({ kind: 0, group, payload: 'x' }, me))
  assert.ok(e.timestamp >= before && e.timestamp <= Date.now())
  assert.throws(() => encodeEvent({ kind: 65536, group, payload: '' }, me), (e: unknown) => e instanceof RangeError)
  assert.throws(() => encodeEvent({ kind: 1, timestamp: -1, group, payload: '' }, me), (e: unknown) => e instanceof RangeError)
  assert.throws(() => encodeEvent({ kind: 1, group: 'zz', payload: '' }, me), (e: unknown) => e instanceof TypeError)
  assert.throws(() => encodeEvent({ kind: 1, group, payload: new Uint8Array(11) }, me, { maxPayload: 10 }),
    (e: unknown) => e instanceof XaeroError && e.code === 'E_PAYLOAD_TOO_LARGE')
})

test('each rejection rule has its own code', () => {
  const now = Date.now()
  const good = encodeEvent({ kind: 1, timestamp: now, group, payload: 'hello world' }, me)
  const mutate = (f: (b: Uint8Array) => void, b = good.slice()) => (f(b), b)
  rejects(new Uint8Array(0), 'E_TRUNCATED')
  rejects(good.subarray(0, 79), 'E_TRUNCATED')
  rejects(good.subarray(0, good.length - 1), 'E_TRUNCATED')
  rejects(Buffer.concat([good, Buffer.from([0])]), 'E_TRAILING_BYTES')
  rejects(mutate((b) => (b[0] = 2)), 'E_BAD_VERSION')
  rejects(mutate((b) => (b[1] = 0x80)), 'E_BAD_FLAGS')
  rejects(good, 'E_PAYLOAD_TOO_LARGE', { maxPayload: 10 })
  rejects(mutate((b) => new DataView(b.buffer).setUint32(76, 0xffffffff)), 'E_PAYLOAD_TOO_LARGE')
  rejects(good, 'E_WRONG_GROUP', { group: groupId('strangers') })
  rejects(encodeEvent({ kind: 1, timestamp: now + 11 * 60_000, group, payload: '' }, me), 'E_FUTURE_TIMESTAMP')
  rejects(mutate((b) => (b[b.length - 1] ^= 1)), 'E_BAD_SIGNATURE')
  rejects(mutate((b) => (b[80] ^= 1)), 'E_BAD_SIGNATURE')
  rejects(mutate((b) => (b[44] ^= 1)), 'E_BAD_SIGNATURE') // another author
  // the timestamp bound moves with `now` and `maxSkew`
  const late = encodeEvent({ kind: 1, timestamp: now + 60_000, group, payload: '' }, me)
  decodeEvent(late)
  rejects(late, 'E_FUTURE_TIMESTAMP', { maxSkew: 1000 })
})

test('a batch decodes valid envelopes and rejects invalid ones, each in its place', () => {
  const valid = Array.from({ length: 9 }, (_, i) => encodeEvent({ kind: i, timestamp: 1000 + i, group, payload: 'x'.repeat(i * 37) }, me))
  const list = valid.flatMap((v, i) => [v, v.subarray(0, 100 + i)])
  const results = decodeEvents(list)
  results.forEach((r, i) => {
    if (i % 2 === 0) assert.ok(!(r instanceof XaeroError) && r.kind === i / 2 && hex(r.bytes) === hex(valid[i / 2]))
    else assert.ok(r instanceof XaeroError && r.code === 'E_TRUNCATED')
  })
})

test('fuzz: 6000 mutated envelopes never crash and are never accepted', () => {
  const random = rng(0x5eed)
  const originals = [0, 1, 55, 200, 1000].map((n) => encodeEvent({ kind: 7, group, payload: new Uint8Array(n).fill(n & 255) }, me))
  const mutants: Uint8Array[] = []
  for (let i = 0; i < 6000; i++) {
    const o = originals[i % originals.length]
    let b = o.slice()
    const op = Math.floor(random() * 5)
    if (op === 0) b[Math.floor(random() * b.length)] ^= 1 << Math.floor(random() * 8)
    else if (op === 1) b = b.subarray(0, Math.floor(random() * b.length))
    else if (op === 2) b = Buffer.concat([b, Buffer.alloc(1 + Math.floor(random() * 64), Math.floor(random() * 256))])
    else if (op === 3) new DataView(b.buffer).setUint32(76, Math.floor(random() * 2 ** 32))
    else for (let k = 0; k < 1 + Math.floor(random() * 8); k++) b[Math.floor(random() * b.length)] = Math.floor(random() * 256)
    mutants.push(b)
  }
  const isOriginal = (b: Uint8Array) => originals.some((o) => hex(o) === hex(b))
  let rejected = 0
  // one by one, and all at once through the batch path
  for (const b of mutants) {
    try {
      decodeEvent(b, { group })
      assert.ok(isOriginal(b), 'only an unchanged envelope is accepted')
    } catch (e) {
      if (!(e instanceof XaeroError)) throw e
      rejected++
    }
  }
  const batch = decodeEvents(mutants, { group })
  assert.is(batch.filter((r) => r instanceof XaeroError).length, rejected)
  assert.ok(rejected > 5900)
})

test('copyPooled: copies that neither follow their source nor overlap each other', () => {
  const sources = Array.from({ length: 100 }, (_, i) => new Uint8Array(300 + i).fill(i))
  const copies = sources.map(copyPooled)
  for (const s of sources) s.fill(255)
  copies.forEach((c, i) => {
    assert.is(c.length, 300 + i)
    assert.ok(c.every((b) => b === i), `copy ${i} kept its bytes`)
  })
  // How full the slab was before this test depends on the files run before it in the process.
  const slabs = new Set(copies.map((c) => c.buffer)).size
  assert.ok(slabs <= 6, `100 copies of 300–399 bytes share ${slabs} slabs of 8 KiB (at most 6)`)
  const large = new Uint8Array(5000).fill(3)
  const copy = copyPooled(large)
  large.fill(0)
  assert.ok(copy.every((b) => b === 3) && copy.byteOffset === 0 && copy.buffer.byteLength === 5000, 'a large copy is its own')
})

test.run()
