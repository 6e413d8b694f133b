// The store in Chromium (bench/browser-page.ts): rates on IndexedDB, and Ed25519 by
// @noble/curves and by WebCrypto, measured in one page load. No targets: these are tracked.
import { CHROMIUM, runInChromium } from '../test/helpers/chromium.js'
import { existsSync } from 'node:fs'

export async function browserBench(): Promise<unknown> {
  if (!existsSync(CHROMIUM)) return { skipped: `no Chromium at ${CHROMIUM}` }
  return runInChromium('dist/bench/browser-page.js')
}
