// The signature rule of docs/FORMAT.md written out plainly, as the tests' reference: the
// decoding and every check are here in BigInt field arithmetic, independent of the pre-check in
// src/platform/signature-rule.ts and of any Ed25519 library; only the group operations (adding
// and multiplying points) are @noble/curves'. Slow and clear, for tests only.
import { createHash } from 'node:crypto'
import { ed25519 } from '@noble/curves/ed25519.js'

type Point = InstanceType<typeof ed25519.Point>
const { Point } = ed25519

export const P = 2n ** 255n - 19n
export const L = 2n ** 252n + 27742317777372353535851937790883648493n
const modP = (a: bigint) => ((a % P) + P) % P

function power(base: bigint, exponent: bigint): bigint {
  let result = 1n
  base = modP(base)
  for (; exponent > 0n; exponent >>= 1n, base = (base * base) % P) if (exponent & 1n) result = (result * base) % P
  return result
}

const D = modP(-121665n * power(121666n, P - 2n))
const SQRT_MINUS_1 = power(2n, (P - 1n) / 4n)

const littleEndian = (bytes: Uint8Array) => bytes.reduceRight((n, b) => (n << 8n) | BigInt(b), 0n)

/** The point a 32-byte string encodes under the rule's canonical decoding, or undefined. */
export function decodeStrict(bytes: Uint8Array): Point | undefined {
  const sign = bytes[31] >> 7
  const y = littleEndian(bytes) & (2n ** 255n - 1n)
  if (y >= P) return undefined // not canonical
  // x² = (y² − 1) / (d·y² + 1)
  // A square root of u/v in one exponentiation (RFC 8032, 5.1.3): x = u·v³·(u·v⁷)^((p − 5)/8),
  // then v·x² is u (x is a root), −u (x·√−1 is) or neither (no root).
  const u = modP(y * y - 1n), v = modP(D * y * y + 1n)
  const v3 = modP(v * v * v)
  let x = modP(u * v3 * power(u * v3 * v3 * v, (P - 5n) / 8n))
  const vx2 = modP(v * x * x)
  if (vx2 === modP(-u)) x = modP(x * SQRT_MINUS_1)
  else if (vx2 !== u) return undefined // no such point
  if (x === 0n && sign === 1) return undefined // negative zero: not canonical
  if (Number(x & 1n) !== sign) x = P - x
  return Point.fromAffine({ x, y })
}

/** The canonical encoding of a point. */
export function encode(point: Point): Uint8Array {
  const { x, y } = point.toAffine()
  const out = new Uint8Array(32)
  let v = y
  for (let i = 0; i < 32; i++, v >>= 8n) out[i] = Number(v & 0xffn)
  out[31] |= Number(x & 1n) << 7
  return out
}

/** Of order dividing 8: [8]Q is the neutral point. */
export function isSmallOrder(point: Point): boolean {
  return point.double().double().double().equals(Point.ZERO)
}

/** The rule: A and R canonical and not of small order, S < L, [S]B = R + [k]A with k = SHA-512(R ‖ A ‖ M) mod L. */
export function ruleVerdict(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false
  const A = decodeStrict(publicKey), R = decodeStrict(signature.subarray(0, 32))
  if (!A || !R || isSmallOrder(A) || isSmallOrder(R)) return false
  const S = littleEndian(signature.subarray(32))
  if (S >= L) return false
  const k = littleEndian(createHash('sha512').update(signature.subarray(0, 32)).update(publicKey).update(message).digest()) % L
  const left = S === 0n ? Point.ZERO : Point.BASE.multiplyUnsafe(S)
  const right = k === 0n ? R : R.add(A.multiplyUnsafe(k))
  return left.equals(right)
}
