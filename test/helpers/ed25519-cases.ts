// Ed25519 verification inputs for the agreement tests (test/ed25519.test.ts in Node,
// test/browser/ed25519-page.ts in Chromium): valid signatures, crafted edge cases (small-order
// and mixed-order keys and R, non-canonical encodings, S ≥ L, signatures that pass only the
// cofactored equation) and random mutations of them. Deterministic for a seed, and free of Node
// modules, so the page and the Node test build the very same cases.
import { ed25519 } from '@noble/curves/ed25519.js'
import { bytesToNumberLE, numberToBytesLE } from '@noble/curves/utils.js'
import { sha256, sha512 } from '@noble/hashes/sha2.js'
import { fromHex, toHex } from '../../src/hex.js'
import { SPECCHECK_VECTORS } from '../fixtures/ed25519-speccheck.js'

/** The seed of the agreement tests' cases: Chromium checks the first ones of the Node test's. */
export const AGREEMENT_SEED = 'xaeroflux ed25519 agreement v1'

export interface SignatureCase { label: string; publicKey: Uint8Array; message: Uint8Array; signature: Uint8Array }

type Point = InstanceType<typeof ed25519.Point>
const { Point } = ed25519
const L = Point.Fn.ORDER
const P = 2n ** 255n - 19n
const mod = (a: bigint) => ((a % L) + L) % L

/** A deterministic byte stream: SHA-512(seed ‖ counter) blocks. */
export class ByteStream {
  private buffer = new Uint8Array(0)
  private counter = 0
  constructor(private readonly seed: string) {}

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n)
    for (let at = 0; at < n;) {
      if (this.buffer.length === 0) this.buffer = sha512(new TextEncoder().encode(`${this.seed}/${this.counter++}`))
      const take = Math.min(n - at, this.buffer.length)
      out.set(this.buffer.subarray(0, take), at)
      this.buffer = this.buffer.subarray(take)
      at += take
    }
    return out
  }

  /** An integer in [0, n). */
  below(n: number): number {
    const b = this.bytes(4)
    return ((b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]) >>> 0) % n
  }

  scalar(): bigint { return mod(bytesToNumberLE(this.bytes(64))) }
  pick<T>(items: readonly T[]): T { return items[this.below(items.length)] }
}

/** k = SHA-512(R ‖ A ‖ message) mod L, over the bytes as given. */
export function challenge(r: Uint8Array, a: Uint8Array, message: Uint8Array): bigint {
  const input = new Uint8Array(64 + message.length)
  input.set(r); input.set(a, 32); input.set(message, 64)
  return mod(bytesToNumberLE(sha512(input)))
}

const scalarBytes = (s: bigint) => numberToBytesLE(s, 32)
const join = (r: Uint8Array, s: Uint8Array) => { const out = new Uint8Array(64); out.set(r); out.set(s, 32); return out }

/** [k]T for T of order dividing 8: k mod 8 is enough (and far cheaper than a full multiplication). */
const torsionTimes = (t: Point, k: bigint) => t.multiplyUnsafe(k % 8n)

/** The 8 points of order dividing 8: multiples of a point of order 8 (index = multiple). */
export const TORSION: readonly Point[] = (() => {
  const t8 = Point.fromBytes(fromHex('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a'))
  const points = [Point.ZERO]
  for (let i = 1; i < 8; i++) points.push(points[i - 1].add(t8))
  return points
})()
const TORSION_BYTES = TORSION.map((t) => t.toBytes())

/** Little-endian 32-byte encoding of y with the sign bit `sign`. */
function encodingOf(y: bigint, sign: number): Uint8Array {
  const e = numberToBytesLE(y, 32)
  e[31] |= sign << 7
  return e
}

/**
 * Encodings that are not canonical but that a lax decoder takes for a point: y + p for y < 19,
 * and the negative zeros (x = 0 with the sign bit set). With the point each one decodes to.
 */
export const NON_CANONICAL: readonly { encoding: Uint8Array; point: Point }[] = (() => {
  const out: { encoding: Uint8Array; point: Point }[] = []
  const candidates = [encodingOf(1n, 1), encodingOf(P - 1n, 1)]
  for (let y = 0n; y < 19n; y++) candidates.push(encodingOf(y + P, 0), encodingOf(y + P, 1))
  for (const encoding of candidates) {
    try { out.push({ encoding, point: Point.fromBytes(encoding, true) }) } catch { /* y has no x */ }
  }
  return out
})()

/** The non-canonical encodings of small-order points. */
export const SMALL_NON_CANONICAL = NON_CANONICAL.filter((n) => n.point.isSmallOrder())

/** Byte strings that are edge cases as a point encoding, decodable or not. */
const POINT_EDGES: readonly Uint8Array[] = [
  ...TORSION_BYTES,
  ...TORSION_BYTES.map((t) => { const e = t.slice(); e[31] ^= 0x80; return e }), // the other sign: some are negative zeros, some do not decode
  ...NON_CANONICAL.map((n) => n.encoding),
  encodingOf(P, 0), encodingOf(P, 1), encodingOf(2n ** 255n - 1n, 0), encodingOf(2n ** 255n - 1n, 1),
  encodingOf(P - 2n, 0), encodingOf(2n, 0), new Uint8Array(32).fill(0xff),
]

/** Byte strings that are edge cases as S. */
const SCALAR_EDGES: readonly Uint8Array[] = [
  scalarBytes(0n), scalarBytes(1n), scalarBytes(L - 1n), scalarBytes(L), scalarBytes(L + 1n),
  scalarBytes(2n ** 253n), numberToBytesLE(2n ** 256n - 1n, 32), scalarBytes(2n ** 255n - 19n),
]

interface Signer { secret: Uint8Array; publicKey: Uint8Array }

/** A signer whose key is a [a]B + T for a chosen torsion point T: its secret is the scalar a. */
function mixedKey(stream: ByteStream, torsion: number): { a: bigint; A: Point; encoding: Uint8Array } {
  const a = stream.scalar() || 1n
  const A = Point.BASE.multiply(a).add(TORSION[torsion])
  return { a, A, encoding: A.toBytes() }
}

/**
 * A key A = [a]B + T_A and R = [r]B + T_R (each encoding given), S = r + k·a: valid cofactored,
 * and cofactorless exactly when T_R + [k]T_A = 0. Tries messages until `wanted` (cofactorless
 * holds, or not) or gives up after 64 tries and returns what it has.
 */
function torsionSignature(stream: ByteStream, label: string, key: { a: bigint; A: Point; encoding: Uint8Array; torsion: Point },
  nonce: { r: bigint; encoding: Uint8Array; torsion: Point }, wanted: boolean): SignatureCase {
  let message = stream.bytes(32)
  for (let tries = 0; tries < 64; tries++) {
    const k = challenge(nonce.encoding, key.encoding, message)
    const cofactorless = nonce.torsion.add(torsionTimes(key.torsion, k)).is0()
    if (cofactorless === wanted) break
    message = stream.bytes(32)
  }
  const k = challenge(nonce.encoding, key.encoding, message)
  return { label, publicKey: key.encoding, message, signature: join(nonce.encoding, scalarBytes(mod(nonce.r + k * key.a))) }
}

// Crafted cases: each builds one signature that some Ed25519 library accepts and the rule may not.
const CRAFTED: Record<string, (stream: ByteStream) => SignatureCase> = {
  // The neutral point signs anything: [0]B = O + [k]O.
  'neutral A and R, S = 0': (stream) => ({
    label: 'neutral A and R, S = 0', publicKey: TORSION_BYTES[0], message: stream.bytes(32),
    signature: join(TORSION_BYTES[0], scalarBytes(0n)),
  }),
  // A and R of small order with R = −[k]A: cofactorless holds with S = 0.
  'small A, small R, S = 0': (stream) => {
    const a = stream.below(8), encoding = TORSION_BYTES[a]
    let message = stream.bytes(32)
    for (let tries = 0; tries < 64; tries++, message = stream.bytes(32)) {
      for (let r = 0; r < 8; r++) {
        if (TORSION[r].add(torsionTimes(TORSION[a], challenge(TORSION_BYTES[r], encoding, message))).is0()) {
          return { label: 'small A, small R, S = 0', publicKey: encoding, message, signature: join(TORSION_BYTES[r], scalarBytes(0n)) }
        }
      }
    }
    return { label: 'small A, small R, S = 0', publicKey: encoding, message, signature: join(TORSION_BYTES[0], scalarBytes(0n)) }
  },
  // A of small order, R = [r]B, S = r: holds when [k]A = 0.
  'small A, large R': (stream) => {
    const t = 1 + stream.below(7), r = stream.scalar() || 1n
    return torsionSignature(stream, 'small A, large R', { a: 0n, A: TORSION[t], encoding: TORSION_BYTES[t], torsion: TORSION[t] }, { r, encoding: Point.BASE.multiply(r).toBytes(), torsion: Point.ZERO }, true)
  },
  // A and R of mixed order: cofactorless holds (valid under the rule) or only cofactored does.
  'mixed A and R, cofactorless': (stream) => mixedCase(stream, 'mixed A and R, cofactorless', true, 1 + stream.below(7), stream.below(8)),
  'mixed A and R, cofactored only': (stream) => mixedCase(stream, 'mixed A and R, cofactored only', false, 1 + stream.below(7), 1 + stream.below(7)),
  'large A, mixed R (cofactored only)': (stream) => mixedCase(stream, 'large A, mixed R (cofactored only)', false, 0, 1 + stream.below(7)),
  // R of small order, A mixed, S = k·a: cofactorless holds when T_R + [k]T_A = 0.
  'mixed A, small R': (stream) => {
    const t = 1 + stream.below(7), key = mixedKey(stream, t), r = 1 + stream.below(7)
    return torsionSignature(stream, 'mixed A, small R', { ...key, torsion: TORSION[t] }, { r: 0n, encoding: TORSION_BYTES[r], torsion: TORSION[r] }, stream.below(4) !== 0)
  },
  // R a non-canonical encoding of a small-order point, hashed as given; A mixed.
  'non-canonical small R': (stream) => {
    const t = 1 + stream.below(7), key = mixedKey(stream, t), R = stream.pick(SMALL_NON_CANONICAL)
    return torsionSignature(stream, 'non-canonical small R', { ...key, torsion: TORSION[t] }, { r: 0n, encoding: R.encoding, torsion: R.point }, true)
  },
  // A a non-canonical encoding of a small-order point, hashed as given; R = [r]B.
  'non-canonical small A': (stream) => {
    const A = stream.pick(SMALL_NON_CANONICAL), r = stream.scalar() || 1n
    return torsionSignature(stream, 'non-canonical small A', { a: 0n, A: A.point, encoding: A.encoding, torsion: A.point }, { r, encoding: Point.BASE.multiply(r).toBytes(), torsion: Point.ZERO }, true)
  },
}

function mixedCase(stream: ByteStream, label: string, cofactorless: boolean, keyTorsion: number, nonceTorsion: number): SignatureCase {
  const key = mixedKey(stream, keyTorsion), r = stream.scalar() || 1n
  const R = Point.BASE.multiply(r).add(TORSION[nonceTorsion])
  return torsionSignature(stream, label, { ...key, torsion: TORSION[keyTorsion] }, { r, encoding: R.toBytes(), torsion: TORSION[nonceTorsion] }, cofactorless)
}

function flipBit(bytes: Uint8Array, stream: ByteStream): Uint8Array {
  const out = bytes.slice(), bit = stream.below(bytes.length * 8)
  out[bit >> 3] ^= 1 << (bit & 7)
  return out
}

/** Mutations of a case: one change to R, S, A or the message. */
const MUTATIONS: Record<string, (c: SignatureCase, stream: ByteStream) => Partial<SignatureCase>> = {
  'flip a bit of R': (c, s) => ({ signature: join(flipBit(c.signature.subarray(0, 32), s), c.signature.subarray(32)) }),
  'flip a bit of S': (c, s) => ({ signature: join(c.signature.subarray(0, 32), flipBit(c.signature.subarray(32), s)) }),
  'flip a bit of A': (c, s) => ({ publicKey: flipBit(c.publicKey, s) }),
  'flip a bit of the message': (c, s) => ({ message: flipBit(c.message, s) }),
  'R an edge encoding': (c, s) => ({ signature: join(s.pick(POINT_EDGES), c.signature.subarray(32)) }),
  'A an edge encoding': (_c, s) => ({ publicKey: s.pick(POINT_EDGES) }),
  'R random bytes': (c, s) => ({ signature: join(s.bytes(32), c.signature.subarray(32)) }),
  'A random bytes': (_c, s) => ({ publicKey: s.bytes(32) }),
  'S an edge scalar': (c, s) => ({ signature: join(c.signature.subarray(0, 32), s.pick(SCALAR_EDGES)) }),
  'S + L': (c) => ({ signature: join(c.signature.subarray(0, 32), scalarBytes(bytesToNumberLE(c.signature.subarray(32)) + L)) }),
  'S + 8L': (c) => ({ signature: join(c.signature.subarray(0, 32), scalarBytes(bytesToNumberLE(c.signature.subarray(32)) + 8n * L)) }),
}

/**
 * `count` cases for `seed`: valid signatures by ordinary keys or crafted edge cases (half each),
 * three in four of them then changed by one random mutation; a mutated case's label has a ';'.
 * The cases of a seed come in the same order for any count: the first n are the same.
 */
export function signatureCases(count: number, seed: string): SignatureCase[] {
  const stream = new ByteStream(seed)
  const signers: Signer[] = Array.from({ length: 8 }, () => {
    const secret = stream.bytes(32)
    return { secret, publicKey: ed25519.getPublicKey(secret) }
  })
  const crafted = Object.entries(CRAFTED), mutations = Object.entries(MUTATIONS)
  const cases: SignatureCase[] = []
  for (let i = 0; i < count; i++) {
    let c: SignatureCase
    if (stream.below(2) === 0) {
      const signer = stream.pick(signers), message = stream.bytes(32)
      c = { label: 'valid', publicKey: signer.publicKey, message, signature: ed25519.sign(message, signer.secret) }
    } else {
      c = stream.pick(crafted)[1](stream)
    }
    if (stream.below(4) !== 0) {
      const [name, mutate] = stream.pick(mutations)
      c = { ...c, ...mutate(c, stream), label: `${c.label}; ${name}` }
    }
    cases.push(c)
  }
  return cases
}

/** The speccheck vectors as cases. */
export function speccheckCases(): SignatureCase[] {
  return SPECCHECK_VECTORS.map((v) => ({
    label: `speccheck ${v.case}`, publicKey: fromHex(v.publicKey), message: fromHex(v.message), signature: fromHex(v.signature),
  }))
}

/** A digest of the cases' bytes: the page and the Node test check they built the same ones. */
export function fingerprint(cases: readonly SignatureCase[]): string {
  const parts = cases.flatMap((c) => [c.publicKey, c.message, c.signature])
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) { all.set(p, at); at += p.length }
  return toHex(sha256(all))
}
