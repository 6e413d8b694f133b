// The store in a real browser: test/browser/page.ts runs in Debian's Chromium on IndexedDB
// (test/helpers/chromium.ts bundles, serves and drives it).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { runInChromium } from './helpers/chromium.js'

test('in Chromium on IndexedDB, inline and with two workers: appends, ingests, queries, the Merkle root, a reopen', async () => {
  const report = await runInChromium<Record<string, unknown>>('dist/test/browser/page.js')
  const expected = {
    crossOriginIsolated: true,
    webCryptoEd25519: true,
    visibleOnResolve: true,
    ingestAgainIsNoop: true,
    tampered: 'E_BAD_SIGNATURE',
    count: 301,
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
