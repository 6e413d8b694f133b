// `npm run bench`: the core's microbenchmarks next to their JS, WASM and native counterparts,
// all measured in this one run (the machine is noisy; only same-run figures compare), printed
// as one JSON object, then the end-to-end store figures (bench/store.ts, a few minutes), the
// store in Chromium (bench/browser.ts), a page as a peer of a Node peer (bench/browser-net.ts),
// the reconciliation grid against negentropy (bench/reconcile.ts, n up to 1M) and the network
// figures beside Hypercore's (bench/network.ts); `--quick` shortens these, `--core` skips them.
import { mkdtempSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { cpus, availableParallelism, tmpdir } from 'node:os'
import { inChild, target } from './util.js'

const progress = (what: string) => process.stderr.write(`bench: ${what}\n`)
const quick = process.argv.includes('--quick')

// Phases that run in a process of their own: `--<mode> [argument]` runs one and prints its JSON.
const childModes: Record<string, (argument: string) => Promise<unknown>> = {
  // The store figures: their peak RSS must not count the memory the microbenchmarks grew (a
  // WebAssembly.Memory never shrinks), and LevelDB's threads and the workers must not disturb them.
  '--store-only': async () => (await import('./store.js')).storeBench({ quick }),
  // One append or ingest run of the store bench, in a fresh process (bench/store.ts).
  '--store-run': async (run) => (await import('./store.js')).storeRun(JSON.parse(run)),
  '--reconcile-only': async () => (await import('./reconcile.js')).reconcileBench({ quick }),
  // The events of the peak-RSS figure are signed by one process into a file, which another
  // ingests: the peak RSS is the store's, not that of making the events.
  '--sign-only': async (file) => { await (await import('./store.js')).signToFile(quick ? 100_000 : 1_000_000, file); return {} },
  '--rss-only': async (file) => (await import('./store.js')).peakRss(file),
  // The network figures beside Hypercore's: its peers are processes of their own (bench/network.ts).
  '--network-only': async () => (await import('./network.js')).networkBench({ quick }),
  // A page in Chromium syncing from, and pushed to by, a Node peer, beside a Node peer doing the same.
  '--browser-peer-only': async () => (await import('./browser-net.js')).browserNetBench({ quick }),
}
const mode = Object.keys(childModes).find((m) => process.argv.includes(m))
if (mode) {
  console.log(JSON.stringify(await childModes[mode](process.argv[process.argv.indexOf(mode) + 1])))
  process.exit(0)
}

type StoreFigures = Awaited<ReturnType<typeof import('./store.js').storeBench>>
type RssFigures = Awaited<ReturnType<typeof import('./store.js').peakRss>>
type ReconcileFigures = Awaited<ReturnType<typeof import('./reconcile.js').reconcileBench>>
type NetworkFigures = Awaited<ReturnType<typeof import('./network.js').networkBench>>
type BrowserPeerFigures = Awaited<ReturnType<typeof import('./browser-net.js').browserNetBench>>

const child = <T>(...args: string[]) => inChild<T>(...args, ...(quick ? ['--quick'] : []))

// Imported only here: a child mode loads just its own phase (the peak RSS must not count
// playwright-core, esbuild and the other hash libraries, ~50 MB).
const { sha256Bench } = await import('./sha256.js')
const { merkleRootBench, pageBench } = await import('./merkle.js')
const { eventBench } = await import('./event.js')
const { browserBench } = await import('./browser.js')

progress('sha256')
const sha = sha256Bench()
progress('merkle pages')
const merklePage = pageBench()
progress('merkleRoot of 1M keys')
const root = merkleRootBench(sha.raw.coreBatchedRaw)
progress('event decoding')
const events = eventBench()
let store: StoreFigures | undefined, rss: RssFigures | undefined, reconcile: ReconcileFigures | undefined, network: NetworkFigures | undefined, browser: unknown,
  browserPeer: BrowserPeerFigures | undefined
if (!process.argv.includes('--core')) {
  progress('store (end to end, own process)')
  store = await child<StoreFigures>('--store-only')
  progress('peak RSS while ingesting (own process)')
  const events = join(mkdtempSync(join(tmpdir(), 'xaeroflux-events-')), 'events.bin')
  await child('--sign-only', events)
  rss = await child<RssFigures>('--rss-only', events)
  rmSync(dirname(events), { recursive: true, force: true })
  progress('the store in Chromium')
  browser = await browserBench()
  progress('a page as a peer of a Node peer (own process)')
  browserPeer = await child<BrowserPeerFigures>('--browser-peer-only')
  progress('reconciliation vs negentropy (own process)')
  reconcile = await child<ReconcileFigures>('--reconcile-only')
  progress('network, beside Hypercore (peers in processes of their own)')
  network = await child<NetworkFigures>('--network-only')
}

const results = {
  sha256: sha.results,
  merklePage,
  merkleRoot: root.results,
  decodeEvents: events.results,
  ...(store && { store: { ...store.results, ingestPeakRss: rss } }),
  ...(browser !== undefined && { browser }),
  ...(browserPeer && { browserPeer }),
  ...(reconcile && { reconcile: reconcile.results }),
  ...(network && { network: network.results }),
}
const targets = {
  sha256Batch64VsAsSha256Batched: target(sha.raw.coreBatchedRaw / sha.raw.asSha256HashInto, 1,
    'sha256.msg64HashesPerSec: coreBatchedRaw / asSha256HashInto'),
  // Judged against node's faster one-shot of the two, crypto.hash, the stricter comparison.
  sha256Batch64VsNodeCryptoOneShot: target(sha.raw.coreBatchedRaw / Math.max(sha.raw.nodeCryptoOneShot, sha.raw.nodeCryptoHashOneShot), 1.7,
    'sha256.msg64HashesPerSec: coreBatchedRaw / max(nodeCryptoOneShot, nodeCryptoHashOneShot)'),
  merkleRootHashesVsBatch64: target(root.rawHashesVsBatch64, 0.8,
    'merkleRoot.raw.hashesPerSec / sha256.msg64HashesPerSec.coreBatchedRaw'),
  decodeEventsPerSec: target(events.rawPerSec, 1e6,
    'decodeEvents.rawCoreNoVerifyPerSec (the core export the ingest pipeline calls)'),
  ...store?.targets,
  ...(rss && { peakRssMB: target(rss.peakRssMB, 300, `peak RSS (MB) while ingesting ${rss.events} events, below the threshold`, true) }),
  ...(reconcile && { reconcile: reconcile.targets }),
  ...(network && { network: network.targets }),
}

console.log(JSON.stringify({
  date: new Date().toISOString(),
  machine: { cpu: cpus()[0]?.model, cores: availableParallelism(), node: process.version },
  results,
  targets,
}, null, 2))
