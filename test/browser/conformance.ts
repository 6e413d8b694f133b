// The conformance suites the page runs (test/browser/conformance-page.ts), defined here without
// running anything at import, so that test/browser.test.ts can list the tests the page must report.
import { Xaeroflux, type OpenOptions } from '../../src/index.js'
import { duplicatesSuite, storeSuite, type Backend, type Place, type SuiteOptions } from '../conformance/store-suite.js'

let stores = 0
const newPath = () => `xaeroflux-conformance-${Date.now()}-${stores++}`

// browser-level keeps the store at `path` in the IndexedDB database 'level-js-' + path.
function deleteDatabase(path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.deleteDatabase(`level-js-${path}`)
    request.onsuccess = request.onblocked = () => resolve() // blocked: a store left open by a failed test
    request.onerror = () => reject(request.error)
  })
}

// A page that is not cross-origin isolated runs every store inline: the variant with two workers
// would then test nothing of its own. Each store must run with the workers it asked for.
async function open(options: OpenOptions): Promise<Xaeroflux> {
  const db = await Xaeroflux.open(options)
  if (db.workers !== options.workers) {
    await db.close()
    throw new Error(`asked for ${options.workers} workers, the store runs with ${db.workers}`)
  }
  return db
}

function onIndexedDB(workers: number): Backend {
  const paths: string[] = []
  return {
    name: `browser-level, workers ${workers}`,
    open: (o) => {
      const path = newPath()
      paths.push(path)
      return open({ workers, ...o, path })
    },
    cleanup: async () => { await Promise.all(paths.splice(0).map(deleteDatabase)) },
  }
}

function place(): Place {
  const path = newPath()
  return { open: (o) => open({ ...o, path }), remove: () => deleteDatabase(path) }
}

/** Defines and queues the page's suites: the store suite inline and with two workers, and the reopen check. */
export function pageSuites(options: SuiteOptions): void {
  storeSuite(onIndexedDB(0), options)
  storeSuite(onIndexedDB(2), options)
  duplicatesSuite('browser-level', place, options)
}
