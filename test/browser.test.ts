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
  // Three stores are opened with two workers each: the store, the one that checks its appends, the reopened one.
  assert.equal(report, { inline: { ...expected, workersStarted: 0 }, workers2: { ...expected, workersStarted: 6 } })
})

test.run()
