// The signature rule in a real browser: test/browser/ed25519-page.ts runs the browser platform's
// verifiers (noble and WebCrypto, each behind the pre-check) in Debian's Chromium on the
// speccheck vectors and 2 700 valid, crafted and mutated signatures (2 000 mutations); their verdicts must be the rule's,
// computed here by the reference (test/helpers/ed25519-reference.ts).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { meetsEncodingRule } from '../src/platform/signature-rule.js'
import { SPECCHECK_VECTORS } from './fixtures/ed25519-speccheck.js'
import { runInChromium } from './helpers/chromium.js'
import { AGREEMENT_SEED, fingerprint, signatureCases, speccheckCases, type SignatureCase } from './helpers/ed25519-cases.js'
import { ruleVerdict } from './helpers/ed25519-reference.js'

interface Verdicts { fingerprint: string; noble: string; webCrypto: string; webCryptoAlone: string }
interface Report { webCryptoEd25519: boolean; speccheck: Verdicts; mutations: Verdicts; decodeEvent: Record<string, string> }

function compare(name: string, cases: readonly SignatureCase[], got: Verdicts) {
  assert.is(got.fingerprint, fingerprint(cases), `${name}: the page built other cases`)
  const rule = cases.map((c) => (ruleVerdict(c.publicKey, c.message, c.signature) ? '1' : '0')).join('')
  const differing = (verdicts: string) => cases.flatMap((c, i) => (verdicts[i] === rule[i] ? [] : [`${c.label}: ${verdicts[i]}, rule ${rule[i]}`]))
  assert.equal(differing(got.noble).slice(0, 10), [], `${name}: noble (ed25519.verify)`)
  assert.equal(differing(got.webCrypto).slice(0, 10), [], `${name}: WebCrypto (ed25519.many.verify)`)
  // Without the pre-check, WebCrypto differs from the rule only where the pre-check refuses.
  const alone = cases.filter((c, i) => got.webCryptoAlone[i] !== rule[i])
  assert.ok(alone.every((c) => !meetsEncodingRule(c.publicKey, c.signature)), `${name}: WebCrypto alone differs beyond encodings`)
  return { rule, webCryptoAloneDiffers: alone.length }
}

test('in Chromium, noble and WebCrypto behind the pre-check give the rule\'s verdicts; decodeEvent refuses the exploits', async () => {
  const report = await runInChromium<Report>('dist/test/browser/ed25519-page.js')
  assert.ok(report.webCryptoEd25519, 'Chromium has WebCrypto Ed25519: ed25519.many.verify uses it')
  const speccheck = compare('speccheck', speccheckCases(), report.speccheck)
  assert.is(speccheck.rule, SPECCHECK_VECTORS.map((v) => (v.expected ? '1' : '0')).join(''))
  const cases = signatureCases(report.mutations.noble.length, AGREEMENT_SEED)
  assert.ok(cases.filter((c) => c.label.includes(';')).length >= 2000, 'at least 2 000 mutations')
  const mutations = compare('mutations', cases, report.mutations)
  assert.ok(mutations.webCryptoAloneDiffers > 20, 'the cases reach what WebCrypto alone accepts and the rule refuses')
  assert.equal(report.decodeEvent, { neutral: 'E_BAD_SIGNATURE', nonCanonicalR: 'E_BAD_SIGNATURE' })
  console.log(`  WebCrypto alone on the speccheck vectors: ${report.speccheck.webCryptoAlone}; the rule: ${speccheck.rule}`)
})

test.run()
