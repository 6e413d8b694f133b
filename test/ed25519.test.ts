// One Ed25519 rule on every backend (docs/FORMAT.md, Signature rule): node:crypto (OpenSSL), libsodium
// and @noble/curves, each behind the shared pre-check, give the rule's verdict on the "Taming the
// many EdDSAs" vectors and on 13 500 valid, crafted and mutated signatures (10 000 mutations); envelopes that exploit the
// differences are refused by decodeEvent. test/ed25519-browser.test.ts does the same in Chromium.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ed25519 as noble } from '@noble/curves/ed25519.js'
import { decodeEvent } from '../src/event.js'
import { XaeroError } from '../src/errors.js'
import { toHex } from '../src/hex.js'
import { ed25519 as browserEd25519, nobleVerify } from '../src/platform/browser.js'
import { ed25519 as nodeEd25519, nodeCryptoVerify, sodiumVerify } from '../src/platform/node.js'
import { type Verify, meetsEncodingRule, withSignatureRule } from '../src/platform/signature-rule.js'
import { SPECCHECK_VECTORS } from './fixtures/ed25519-speccheck.js'
import { AGREEMENT_SEED, NON_CANONICAL, signatureCases, speccheckCases, type SignatureCase } from './helpers/ed25519-cases.js'
import { ENVELOPE_GROUP, neutralEnvelope, nonCanonicalREnvelope } from './helpers/ed25519-envelopes.js'
import { L, decodeStrict, encode, isSmallOrder, ruleVerdict } from './helpers/ed25519-reference.js'

/** Cases in the agreement test: about three in four are mutations, at least 10 000 of them. */
const CASES = 13_500

/** The backends available in Node, each through the project's verifier entry (pre-check + backend). */
const ENTRIES: Record<string, Verify> = {
  'the Node platform\'s ed25519.verify (libsodium where sodium-native loads)': nodeEd25519.verify,
  'node:crypto': withSignatureRule(nodeCryptoVerify),
  'noble (the browser platform\'s ed25519.verify)': browserEd25519.verify,
}
// sodium-native is an optional dependency: without it, libsodium is left out, loudly.
if (sodiumVerify) ENTRIES.libsodium = withSignatureRule(sodiumVerify)
else console.warn('  sodium-native does not load: libsodium is not in the agreement test')

const RAW_BACKENDS: Record<string, Verify> = { 'node:crypto': nodeCryptoVerify, noble: nobleVerify, ...(sodiumVerify && { libsodium: sodiumVerify }) }

function disagreements(cases: readonly SignatureCase[]): string[] {
  const out: string[] = []
  for (const c of cases) {
    const rule = ruleVerdict(c.publicKey, c.message, c.signature)
    for (const [name, verify] of Object.entries(ENTRIES)) {
      const verdict = verify(c.publicKey, c.message, c.signature)
      if (verdict !== rule) out.push(`${c.label}: ${name} says ${verdict}, the rule ${rule} (A ${toHex(c.publicKey)}, sig ${toHex(c.signature)})`)
    }
  }
  return out
}

test('the reference rule gives the fixture\'s verdict on each speccheck vector', () => {
  for (const [i, c] of speccheckCases().entries()) {
    assert.is(ruleVerdict(c.publicKey, c.message, c.signature), SPECCHECK_VECTORS[i].expected, `case ${i}: ${SPECCHECK_VECTORS[i].why}`)
  }
})

test('every backend behind the pre-check gives the rule\'s verdict on the 12 speccheck vectors', () => {
  assert.equal(disagreements(speccheckCases()), [])
})

test(`every backend behind the pre-check gives the rule's verdict on ${CASES} valid, crafted and mutated signatures`, () => {
  const cases = signatureCases(CASES, AGREEMENT_SEED)
  assert.ok(cases.filter((c) => c.label.includes(';')).length >= 10_000, 'at least 10 000 mutations')
  const problems = disagreements(cases)
  assert.equal(problems.slice(0, 10), [], `${problems.length} disagreements`)

  // The cases must reach what separates the libraries, or agreement would prove little: some
  // valid signatures, and signatures each library alone (or noble's own verify) accepts but the rule refuses.
  // (Counted on the first 2 000 cases: noble is slow.)
  const sample = cases.slice(0, 2000), rule = sample.map((c) => ruleVerdict(c.publicKey, c.message, c.signature))
  const acceptedOnlyBy = (verify: Verify) => sample.filter((c, i) => !rule[i] && verify(c.publicKey, c.message, c.signature)).length
  const valid = rule.filter(Boolean).length
  assert.ok(valid > sample.length / 10, `${valid} valid`)
  // OpenSSL's own checks depend on its version: the OpenSSL 3.0.19 of Node 20 accepts 141 of these
  // (small-order and non-canonical points), the 3.5.9 of Node 24 none. Either it is reached, or it
  // refuses all of them by itself.
  const openssl = acceptedOnlyBy(nodeCryptoVerify)
  assert.ok(openssl > 50 || openssl === 0, `node:crypto (OpenSSL ${process.versions.openssl}) alone accepts ${openssl} signatures the rule refuses`)
  if (openssl === 0) console.log(`    OpenSSL ${process.versions.openssl} refuses every signature the rule refuses, by itself`)
  assert.ok(acceptedOnlyBy(nobleVerify) > 50, 'the cofactorless noble check alone accepts signatures the rule refuses')
  assert.ok(acceptedOnlyBy((a, m, s) => noble.verify(s, m, a)) > 50, "noble's verify (ZIP-215) accepts signatures the rule refuses")
  // Among them, mixed-order signatures that only the cofactored equation, noble's even when strict, accepts.
  const cofactoredOnly = sample.filter((c, i) => !rule[i] && c.label.includes('cofactored only') && !c.label.includes(';'))
  assert.ok(cofactoredOnly.length > 50 && cofactoredOnly.every((c) => noble.verify(c.signature, c.message, c.publicKey, { zip215: false })))
  // And S ≥ L: S + L of valid signatures.
  const plusL = cases.filter((c) => c.label === 'valid; S + L')
  assert.ok(plusL.length > 10 && plusL.every((c) => !ruleVerdict(c.publicKey, c.message, c.signature)))
})

test('the Node verifier gives the same verdicts on views of shared memory, where the pipeline verifies', () => {
  const cases = signatureCases(500, AGREEMENT_SEED)
  const shared = new Uint8Array(new SharedArrayBuffer(4096))
  const inShared = (bytes: Uint8Array, at: number) => { shared.set(bytes, at); return shared.subarray(at, at + bytes.length) }
  const differ = cases.filter((c) => nodeEd25519.verify(c.publicKey, c.message, c.signature) !==
    nodeEd25519.verify(inShared(c.publicKey, 8), inShared(c.message, 64), inShared(c.signature, 1024)))
  assert.is(differ.length, 0, `${differ.length} of ${cases.length} differ`)
  assert.ok(cases.some((c) => nodeEd25519.verify(c.publicKey, c.message, c.signature)), 'some are valid')
})

test('the pre-check refuses the 8 small-order points, derived here from the curve, and the negative zeros', () => {
  // The torsion component [L]Q of points Q: they generate the 8 points of order dividing 8.
  const small = new Map<string, Uint8Array>()
  for (let y = 2; small.size < 8 && y < 1000; y++) {
    const q = decodeStrict(Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? y & 0xff : i === 1 ? y >> 8 : 0)))
    if (!q) continue
    const t = q.multiplyUnsafe(L - 1n).add(q) // [L]Q
    for (let m = 1n, p = t; m <= 8n; m++, p = p.add(t)) small.set(toHex(encode(p)), encode(p))
  }
  assert.is(small.size, 8)
  const valid = noble.sign(new Uint8Array(32), new Uint8Array(32).fill(7))
  const key = noble.getPublicKey(new Uint8Array(32).fill(7))
  assert.ok(meetsEncodingRule(key, valid))
  for (const e of small.values()) {
    assert.ok(isSmallOrder(decodeStrict(e)!))
    assert.not.ok(meetsEncodingRule(e, valid), `A ${toHex(e)}`)
    assert.not.ok(meetsEncodingRule(key, Uint8Array.from([...e, ...valid.subarray(32)])), `R ${toHex(e)}`)
  }
  // Every encoding that is not canonical is refused, as A and as R.
  assert.ok(NON_CANONICAL.length >= 4)
  for (const { encoding } of NON_CANONICAL) {
    assert.is(decodeStrict(encoding), undefined)
    assert.not.ok(meetsEncodingRule(encoding, valid))
    assert.not.ok(meetsEncodingRule(key, Uint8Array.from([...encoding, ...valid.subarray(32)])))
  }
  // S: L − 1 passes, L does not.
  const withS = (s: bigint) => { const sig = valid.slice(); for (let i = 0; i < 32; i++) sig[32 + i] = Number((s >> BigInt(8 * i)) & 0xffn); return sig }
  assert.ok(meetsEncodingRule(key, withS(L - 1n)))
  assert.not.ok(meetsEncodingRule(key, withS(L)))
  assert.not.ok(meetsEncodingRule(key, withS(2n ** 256n - 1n)))
})

test('every backend refuses an A or an R that does not decompress', () => {
  const secret = new Uint8Array(32).fill(3), key = noble.getPublicKey(secret)
  let notPoints = 0
  for (let y = 2n; notPoints < 20; y++) {
    const e = new Uint8Array(32)
    for (let i = 0, v = y; i < 32; i++, v >>= 8n) e[i] = Number(v & 0xffn)
    if (decodeStrict(e)) continue
    notPoints++
    const message = e.slice(), signature = noble.sign(message, secret)
    for (const [name, verify] of Object.entries(RAW_BACKENDS)) {
      assert.not.ok(verify(e, message, signature), `${name}: A = ${y}`)
      assert.not.ok(verify(key, message, Uint8Array.from([...e, ...signature.subarray(32)])), `${name}: R = ${y}`)
    }
  }
})

function rejection(bytes: Uint8Array): string | undefined {
  try {
    decodeEvent(bytes, { group: ENVELOPE_GROUP })
    return undefined
  } catch (e) {
    if (e instanceof XaeroError) return e.code
    throw e
  }
}

function signedParts(bytes: Uint8Array) {
  const event = decodeEvent(bytes, { group: ENVELOPE_GROUP, verify: false }) // the envelope is otherwise valid
  return { author: bytes.slice(44, 76), id: event.key.slice(8), signature: bytes.slice(bytes.length - 64) }
}

test('decodeEvent refuses an event "signed" by the neutral point with R neutral and S = 0, which OpenSSL 3.0 accepts', () => {
  const bytes = neutralEnvelope(), { author, id, signature } = signedParts(bytes)
  // OpenSSL 3.0 (Node 20) accepts it alone; 3.5 (Node 24) refuses it by itself (see above).
  if (process.versions.openssl.startsWith('3.0.')) assert.ok(nodeCryptoVerify(author, id, signature), 'OpenSSL 3.0 alone accepts it')
  assert.ok(noble.verify(signature, id, author), "noble's verify accepts it")
  assert.is(rejection(bytes), 'E_BAD_SIGNATURE')
})

test('decodeEvent refuses an event whose R is a non-canonical encoding, which noble accepts', () => {
  const bytes = nonCanonicalREnvelope(), { author, id, signature } = signedParts(bytes)
  assert.ok(noble.verify(signature, id, author), "noble's verify accepts it")
  assert.is(rejection(bytes), 'E_BAD_SIGNATURE')
})

test.run()
