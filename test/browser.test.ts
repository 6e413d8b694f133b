// The store in a real browser, Debian's Chromium on IndexedDB (test/helpers/chromium.ts bundles,
// serves and drives each page): the store's conformance suite (test/browser/conformance-page.ts),
// and what only a browser has (test/browser/page.ts).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { ConformanceReport } from './browser/conformance-page.js'
import { pageSuites } from './browser/conformance.js'
import { testNames } from './conformance/store-suite.js'
import { runInChromium } from './helpers/chromium.js'

// Events in the page's corpus (50k in Node): with 10k the page ran in ~24 s on the 2-core machine.
const EVENTS = 10_000

test('the conformance suite in Chromium on IndexedDB, inline and with two workers: every test runs and passes', async () => {
  const report = await runInChromium<ConformanceReport>('dist/test/browser/conformance-page.js', { query: `?events=${EVENTS}` })
  const failed = report.outcomes.filter((o) => !o.ok)
  assert.ok(failed.length === 0, `failed in the page:\n${failed.map((o) => `${o.name}\n  ${o.error?.replace(/\n/g, '\n  ')}`).join('\n')}`)
  // Every test the suite defines, in order: none skipped, none left out by a hook or an exception.
  assert.equal(report.outcomes.map((o) => o.name), testNames((suite) => pageSuites({ suite, events: EVENTS })))
})

test('in Chromium on IndexedDB, inline and with two workers: appends, ingests, queries, the Merkle root, a reopen', async () => {
  const report = await runInChromium<Record<string, unknown>>('dist/test/browser/page.js')
  const expected = {
    crossOriginIsolated: true,
    webCryptoEd25519: true,
    visibleOnResolve: true,
    ingestAgainIsNoop: true,
    tampered: 'E_BAD_SIGNATURE',
    count: 301,
    secondOpen: 'E_LOCKED',
    appendsVerify: true,
    byAuthor: true,
    byKindReverse: true,
    root: true,
    proof: true,
    storedValuesOwnTheirBytes: true,
    countAfterReopen: 301,
    rootAfterReopen: true,
    getAfterReopen: true,
  }
  // Three stores ask for two workers each: the store, the one that checks its appends (opened
  // while the first is open, it shares the page's one pool: no new worker), and the reopened one
  // (opened after both closed, which stopped the pool: it starts a new pool of two). 2 + 0 + 2.
  // Inline (workers: 0) starts none.
  assert.equal(report, { inline: { ...expected, workersStarted: 0 }, workers2: { ...expected, workersStarted: 4 } })
})

test.run()
