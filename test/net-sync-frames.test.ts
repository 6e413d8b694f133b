// Framing and handshake pieces of the sync protocol, in process (src/net/frames.ts, handshake.ts):
// frames cut from any chunking, bounds checked from the header, the proof bound to everything it
// claims to bind, and HELLO checks.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { XaeroError } from '../src/index.js'
import { FrameReader, T, decodeEnvelopes, decodeIds, encodeEnvelopes, encodeFrame } from '../src/net/frames.js'
import { PROTOCOL_VERSION, checkHello, constantTimeEqual, encodeHello, helloOf, proof } from '../src/net/handshake.js'
import { DEFAULT_LIMITS, TokenBucket, resolveLimits } from '../src/net/limits.js'

const code = (fn: () => unknown): string | undefined => {
  try { fn() } catch (e) { return e instanceof XaeroError ? e.code : `not an XaeroError: ${e}` }
  return undefined
}

test('frames are cut the same from any chunking', () => {
  const frames = [encodeFrame(T.RECON, 7, new Uint8Array([1, 2, 3])), encodeFrame(T.ACK, 9, new Uint8Array([0, 0, 1, 0])), encodeFrame(T.WANT_END, 4)]
  const all = new Uint8Array(frames.reduce((n, f) => n + f.length, 0))
  let at = 0
  for (const f of frames) { all.set(f, at); at += f.length }
  for (const step of [1, 2, 5, 9, 13, all.length]) {
    const r = new FrameReader(1 << 20), got: Array<[number, number, number[]]> = []
    for (let i = 0; i < all.length; i += step) {
      r.push(all.subarray(i, i + step))
      for (let f; (f = r.next());) got.push([f.type, f.request, [...f.body]])
    }
    assert.equal(got, [[T.RECON, 7, [1, 2, 3]], [T.ACK, 9, [0, 0, 1, 0]], [T.WANT_END, 4, []]], `step ${step}`)
    assert.is(r.buffered, 0)
  }
})

test('a frame over the limit is refused from its header; an unknown type or a short length is E_PROTOCOL', () => {
  const r = new FrameReader(1024)
  r.push(new Uint8Array([0, 0, 4, 1, T.PUSH, 0, 0, 0, 1])) // announces 1029 bytes, sends 9
  assert.is(code(() => r.next()), 'E_PEER_LIMIT')
  const u = new FrameReader(1024)
  u.push(new Uint8Array([0, 0, 0, 5, 99, 0, 0, 0, 1]))
  assert.is(code(() => u.next()), 'E_PROTOCOL')
  const s = new FrameReader(1024)
  s.push(new Uint8Array([0, 0, 0, 2, T.ACK, 0, 0, 0, 1]))
  assert.is(code(() => s.next()), 'E_PROTOCOL')
})

test('envelope lists and want lists check every length', () => {
  const envs = [new Uint8Array([1, 2]), new Uint8Array(0), new Uint8Array([3])]
  const { body } = encodeEnvelopes(envs, 4)
  assert.equal(decodeEnvelopes(body, 4).map((e) => [...e]), [[1, 2], [], [3]])
  assert.is(code(() => decodeEnvelopes(body.subarray(0, body.length - 1), 4)), 'E_PROTOCOL')
  assert.is(code(() => decodeEnvelopes(new Uint8Array([...body, 0]), 4)), 'E_PROTOCOL')
  const huge = new Uint8Array([0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff])
  assert.is(code(() => decodeEnvelopes(huge, 4)), 'E_PROTOCOL')
  assert.is(decodeIds(new Uint8Array(64)).length, 2)
  assert.is(code(() => decodeIds(new Uint8Array(33))), 'E_PROTOCOL')
  assert.is(code(() => decodeIds(new Uint8Array(0))), 'E_PROTOCOL')
  assert.is(code(() => decodeIds(new Uint8Array(32 * 4097))), 'E_PROTOCOL')
})

test('the proof binds the key, both peer ids, both nonces and the role', () => {
  const key = new Uint8Array(32).fill(1), n1 = new Uint8Array(32).fill(2), n2 = new Uint8Array(32).fill(3)
  const base = proof(key, 'dialer-id', 'listener-id', n1, n2, 'dialer')
  assert.ok(constantTimeEqual(base, proof(key, 'dialer-id', 'listener-id', n1, n2, 'dialer')))
  const variants = [
    proof(new Uint8Array(32).fill(9), 'dialer-id', 'listener-id', n1, n2, 'dialer'),
    proof(key, 'listener-id', 'dialer-id', n1, n2, 'dialer'),
    proof(key, 'dialer-i', 'dlistener-id', n1, n2, 'dialer'), // same bytes concatenated: the lengths tell them apart
    proof(key, 'dialer-id', 'listener-id', n2, n1, 'dialer'),
    proof(key, 'dialer-id', 'listener-id', n1, n2, 'listener'),
    proof(key, 'dialer-id', 'listener-id', n1, n2, 'full'),
  ]
  for (const v of variants) assert.not.ok(constantTimeEqual(base, v))
  // A full listener's refusal is a proof of its own: only a holder of the key tells it from the listener's.
  assert.not.ok(constantTimeEqual(proof(key, 'dialer-id', 'listener-id', n1, n2, 'listener'), proof(key, 'dialer-id', 'listener-id', n1, n2, 'full')))
  assert.not.ok(constantTimeEqual(base, base.subarray(0, 31)))
})

test('HELLO: version, namespace, auth mode and limits are checked', () => {
  const hello = helloOf(DEFAULT_LIMITS, 'abc', false, new Uint8Array(32))
  assert.is(checkHello(encodeHello(hello), 'abc', false).window, DEFAULT_LIMITS.window)
  assert.is(code(() => checkHello(encodeHello({ ...hello, version: PROTOCOL_VERSION + 1 }), 'abc', false)), 'E_PROTOCOL')
  assert.is(code(() => checkHello(encodeHello(hello), 'abd', false)), 'E_PROTOCOL')
  assert.is(code(() => checkHello(encodeHello(hello), 'abc', true)), 'E_PROTOCOL')
  assert.is(code(() => checkHello(encodeHello({ ...hello, maxFrame: 1024 }), 'abc', false)), 'E_PROTOCOL')
  assert.is(code(() => checkHello(encodeHello({ ...hello, syncRate: 0 }), 'abc', false)), 'E_PROTOCOL')
  assert.equal([checkHello(encodeHello(hello), 'abc', false).syncRate, checkHello(encodeHello(hello), 'abc', false).syncBurst], [DEFAULT_LIMITS.syncRate, DEFAULT_LIMITS.syncBurst])
  // The idle limit travels too: the peer sends PROGRESS within it while its step is slow.
  assert.is(checkHello(encodeHello(helloOf(resolveLimits({ idleMs: 4321 }), 'abc', false, new Uint8Array(32))), 'abc', false).idleMs, 4321)
  assert.is(code(() => checkHello(encodeHello({ ...hello, idleMs: 0 }), 'abc', false)), 'E_PROTOCOL')
  const bytes = encodeHello(hello)
  assert.is(code(() => checkHello(bytes.subarray(0, bytes.length - 1), 'abc', false)), 'E_PROTOCOL')
  // A full listener says so in an open group's HELLO; a secret group's carries no such flag.
  assert.is(checkHello(bytes, 'abc', false).full, false)
  assert.is(checkHello(encodeHello(helloOf(DEFAULT_LIMITS, 'abc', false, new Uint8Array(32), true)), 'abc', false).full, true)
  assert.is(code(() => checkHello(encodeHello(helloOf(DEFAULT_LIMITS, 'abc', true, new Uint8Array(32), true)), 'abc', true)), 'E_PROTOCOL')
  const unknownFlag = encodeHello(hello)
  unknownFlag[2] = 4
  assert.is(code(() => checkHello(unknownFlag, 'abc', false)), 'E_PROTOCOL')
})

test('limits: misuse is a RangeError/TypeError; the token bucket refuses over its burst', () => {
  assert.throws(() => resolveLimits({ window: -1 }), RangeError)
  assert.throws(() => resolveLimits({ maxFrame: 1024 }), RangeError)
  assert.throws(() => resolveLimits({ nope: 1 } as never), TypeError)
  assert.is(resolveLimits({ idleMs: 500 }).idleMs, 500)
  assert.throws(() => resolveLimits({ idleMs: 2 ** 32 }), RangeError) // announced in HELLO as a u32
  assert.is(resolveLimits({ busyMs: 5000 }).busyMs, 5000)
  const b = new TokenBucket(10, 20)
  assert.ok(b.take(20))
  assert.not.ok(b.take(5))
  assert.ok(b.waitFor(5) > 0 && b.waitFor(5) <= 500)
})

test.run()
