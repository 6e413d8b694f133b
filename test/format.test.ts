// docs/FORMAT.md, checked as written: the envelope's offsets, the id, key and group id, the
// order of the decoding rules, the Merkle root of tiny sets, and proofs parsed and folded from
// their documented bytes alone, on node:crypto (no code of the store's own).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createHash, createPublicKey, verify } from 'node:crypto'
import { Identity, Xaeroflux, XaeroError, decodeEvent, encodeEvent, groupId, merkleRoot, verifyAbsence, verifyProof } from '../src/index.js'

const sha = (...parts: Uint8Array[]) => { const h = createHash('sha256'); for (const p of parts) h.update(p); return new Uint8Array(h.digest()) }
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const EMPTY = new Uint8Array(32)
const isEmpty = (h: Uint8Array) => h.every((x) => x === 0)
const leaf = (k: Uint8Array) => sha(Uint8Array.of(0), k)
const node = (l: Uint8Array, r: Uint8Array) => (isEmpty(l) && isEmpty(r) ? EMPTY : sha(l, r))
const u32 = (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset).getUint32(at)
const u64 = (b: Uint8Array, at: number) => Number(new DataView(b.buffer, b.byteOffset).getBigUint64(at))

const me = Identity.generate()
const group = groupId('friends')

test('group id: SHA-256("xaeroflux/group/v1\\n" ‖ UTF-8 name)', () => {
  for (const name of ['friends', '', 'Ünïcode ✓']) {
    assert.is(groupId(name), hex(sha(new TextEncoder().encode('xaeroflux/group/v1\n' + name))))
  }
})

test('envelope v1: offsets, sizes, id and key', () => {
  const payload = new TextEncoder().encode('hello, format')
  const timestamp = 1_790_000_000_123
  const bytes = encodeEvent({ kind: 0x1234, timestamp, group, payload }, me)
  const L = payload.length
  assert.is(bytes.length, 144 + L)
  assert.is(bytes[0], 1)
  assert.is(bytes[1], 0)
  assert.is((bytes[2] << 8) | bytes[3], 0x1234)
  assert.is(u64(bytes, 4), timestamp)
  assert.is(hex(bytes.subarray(12, 44)), group)
  assert.is(hex(bytes.subarray(44, 76)), hex(me.publicKey))
  assert.is(u32(bytes, 76), L)
  assert.equal(bytes.subarray(80, 80 + L), payload)
  const id = sha(bytes.subarray(0, 80 + L))
  const event = decodeEvent(bytes, { group })
  assert.is(event.id, hex(id))
  assert.is(hex(event.key), hex(bytes.subarray(4, 12)) + hex(id))
  const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), me.publicKey])
  const publicKey = createPublicKey({ key: spki, format: 'der', type: 'spki' })
  assert.ok(verify(null, id, publicKey, bytes.subarray(80 + L)), 'the signature is over the 32-byte id')
})

function code(bytes: Uint8Array, options = {}): string {
  try { decodeEvent(bytes, { group, ...options }); return 'OK' } catch (e) { return e instanceof XaeroError ? e.code : String(e) }
}

test('decoding: the rules in the documented order, the first broken one reported', () => {
  const good = encodeEvent({ kind: 1, payload: 'x'.repeat(100), group }, me)
  const edit = (f: (b: Uint8Array) => void, b = good.slice()) => { f(b); return b }
  assert.is(code(new Uint8Array(0)), 'E_TRUNCATED')
  assert.is(code(edit((b) => { b[0] = 2 }, good.slice(0, 10))), 'E_BAD_VERSION')         // 2 before 3
  assert.is(code(edit((b) => { b[1] = 1 }, good.slice(0, 79))), 'E_TRUNCATED')           // 3 before 4
  assert.is(code(edit((b) => { b[1] = 1; b[79] = 0xff })), 'E_BAD_FLAGS')                 // 4 before 5
  assert.is(code(good, { maxPayload: 99 }), 'E_PAYLOAD_TOO_LARGE')
  assert.is(code(good.slice(0, good.length - 1), { group: groupId('other') }), 'E_TRUNCATED') // 6 before 7
  assert.is(code(Uint8Array.of(...good, 0)), 'E_TRAILING_BYTES')
  assert.is(code(good, { group: groupId('other'), now: 0, maxSkew: 0 }), 'E_WRONG_GROUP')     // 7 before 8
  assert.is(code(edit((b) => { b[b.length - 1] ^= 1 }), { now: 0, maxSkew: 0 }), 'E_FUTURE_TIMESTAMP') // 8 before 9
  assert.is(code(edit((b) => { b[b.length - 1] ^= 1 })), 'E_BAD_SIGNATURE')
  const late = encodeEvent({ kind: 1, payload: '', group, timestamp: 2 ** 53 - 1 }, me)
  assert.is(code(late), 'E_FUTURE_TIMESTAMP')
  assert.is(code(good), 'OK')
})

test('Merkle root: EMPTY for no key, leaf(k) for one', () => {
  const k = sha(Uint8Array.of(7)).slice(0, 32)
  const key = new Uint8Array(40); key.set(k, 8)
  assert.is(merkleRoot([]), hex(EMPTY))
  assert.is(merkleRoot([key]), hex(leaf(key)))
})

/** Parses a proof by the documented layout and folds it; undefined if malformed. */
function fold(proof: Uint8Array): { type: number; root: Uint8Array; D: number } | undefined {
  if (proof[0] !== 1) return undefined
  const type = proof[1], key = proof.subarray(2, 42), D = proof[42]
  if (proof.length !== 43 + 256 * D + (type === 3 ? 40 : 0)) return undefined
  let h = type === 1 ? leaf(key) : type === 2 ? EMPTY : leaf(proof.subarray(43 + 256 * D))
  for (let d = D - 1; d >= 0; d--) {
    for (let j = 0; j < 8; j++) {
      const s = (256 + key[d]) >> j
      const x = proof.subarray(43 + 256 * d + 32 * j, 43 + 256 * d + 32 * (j + 1))
      h = s & 1 ? node(x, h) : node(h, x)
    }
  }
  return { type, root: h, D }
}

test('proofs: the documented bytes fold to the root (present, EMPTY slot, another key\'s leaf)', async () => {
  const db = await Xaeroflux.open({ group: 'friends', identity: me, workers: 0 })
  try {
    const base = 1_790_000_000_000
    const events = []
    for (let i = 0; i < 300; i++) events.push(await db.append({ kind: 1, payload: `e${i}`, timestamp: base + (i % 40) * 1000 }))
    await db.flush()
    const root = await db.root()
    for (const e of events.slice(0, 50)) {
      const proof = await db.prove(e.id)
      const f = fold(proof)!
      assert.is(f.type, 1)
      assert.is(hex(f.root), root)
      assert.ok(verifyProof(proof, root))
      assert.ok(f.D >= 1, 'a key under pages')
    }
    // A key under a page child that is EMPTY: timestamps start with 0x00, so 0xff… is absent.
    const absent = new Uint8Array(40).fill(0xff)
    const p2 = await db.prove(absent)
    assert.is(fold(p2)!.type, 2)
    assert.is(hex(fold(p2)!.root), root)
    assert.ok(verifyAbsence(p2, root))
    // A key equal to a stored one but for its last byte lands in that key's slot.
    const near = events[0].key.slice(); near[39] ^= 1
    const p3 = await db.prove(near)
    const f3 = fold(p3)!
    assert.is(f3.type, 3)
    assert.is(hex(f3.root), root)
    const other = p3.subarray(p3.length - 40)
    assert.is(hex(other), hex(events[0].key))
    assert.ok(hex(other.subarray(0, f3.D)) === hex(near.subarray(0, f3.D)), 'k′ shares the first D bytes')
    assert.ok(verifyAbsence(p3, root))
  } finally {
    await db.close()
  }
})

test.run()
