// Runs in Chromium: test/ed25519-browser.test.ts bundles this file for the browser and reads the
// report it leaves on `globalThis.xaerofluxReport`. The browser platform's two verifiers, each
// the shared pre-check before its backend (docs/FORMAT.md, Signature rule), give their verdicts
// on the speccheck vectors and on the first 2 700 of the Node test's valid, crafted and mutated signatures:
// `ed25519.verify` (@noble/curves) and `ed25519.many.verify` (WebCrypto, BoringSSL in Chromium).
// The Node test compares the verdicts with the rule's.
import { XaeroError, decodeEvent } from '../../src/index.js'
import { ed25519, webCryptoVerify } from '../../src/platform/browser.js'
import { ENVELOPE_GROUP, neutralEnvelope, nonCanonicalREnvelope } from '../helpers/ed25519-envelopes.js'
import { AGREEMENT_SEED, fingerprint, signatureCases, speccheckCases, type SignatureCase } from '../helpers/ed25519-cases.js'

/** How many of the Node test's cases the page checks, about 2 000 of them mutations (noble is slow in a page). */
const CASES = 2700

/** Verdicts as a string of 0s and 1s, one per case. */
const verdicts = (ok: readonly boolean[]) => ok.map((v) => (v ? '1' : '0')).join('')

async function verdictsOf(cases: readonly SignatureCase[]) {
  return {
    fingerprint: fingerprint(cases),
    noble: verdicts(cases.map((c) => ed25519.verify(c.publicKey, c.message, c.signature))),
    webCrypto: verdicts(await ed25519.many!.verify(cases)),
    // WebCrypto without the pre-check, to show what the pre-check changes.
    webCryptoAlone: verdicts(await Promise.all(cases.map((c) => webCryptoVerify(c.publicKey, c.message, c.signature)))),
  }
}

function rejection(bytes: Uint8Array): string {
  try {
    decodeEvent(bytes, { group: ENVELOPE_GROUP })
    return 'accepted'
  } catch (e) {
    return e instanceof XaeroError ? e.code : String(e)
  }
}

async function run(): Promise<Record<string, unknown>> {
  return {
    webCryptoEd25519: await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign']).then(() => true, () => false),
    speccheck: await verdictsOf(speccheckCases()),
    mutations: await verdictsOf(signatureCases(CASES, AGREEMENT_SEED)),
    decodeEvent: { neutral: rejection(neutralEnvelope()), nonCanonicalR: rejection(nonCanonicalREnvelope()) },
  }
}

;(globalThis as { xaerofluxReport?: Promise<unknown> }).xaerofluxReport = run().catch((e) => ({ error: String(e?.stack ?? e) }))
