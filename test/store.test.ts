// The store's conformance suite (test/conformance/store-suite.ts) in Node: on disk and in memory,
// inline and with workers, over 50k events. test/browser.test.ts runs the same suite in Chromium.
import { suite } from 'uvu'
import { duplicatesSuite, storeSuite } from './conformance/store-suite.js'
import { backends, place } from './helpers/store.js'

const options = { suite, events: 50_000 }
for (const backend of backends()) storeSuite(backend, options)
duplicatesSuite('classic-level', place, options)
