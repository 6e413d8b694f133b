// End-to-end figures of the store, each next to its ceiling measured in the same run:
// appends per durability mode vs raw classic-level batched writes and Ed25519 signing on all
// cores, and vs the bound of an append with no index at all (`minimalAppendRate`); ingest of events signed elsewhere with 0, 1 and 2 workers; and (in a process of its
// own, so that no other phase's memory counts) the peak RSS while ingesting 1M events.
//
// This machine's speed drifts by ±10% from one minute to the next (other tenants), so every
// append and ingest run is a fresh process (no run inherits another's heap, threads or LevelDB
// compactions), the configurations take turns in rounds, and each figure is the median of its
// rounds, given with every run. Appends (and their bound) are timed after a warm-up in the same
// store, since a fresh process spends its first second compiling and starting threads; the
// warm-up's own rate is reported too (`coldAppendEventsPerSec`).
import { Worker } from 'node:worker_threads'
import { mkdtempSync, rmSync } from 'node:fs'
import { open, readFile } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { ClassicLevel } from 'classic-level'
import { Xaeroflux, Identity, encodeEvent, groupId, type Durability } from '../src/index.js'
import { signingLibrary } from '../src/platform/node.js'
import { inChild, median, round, target } from './util.js'

const PAYLOAD = 200
const ENVELOPE = 144 + PAYLOAD

function tempDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'xaeroflux-bench-'))
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

/** Raw classic-level: one put per event (40-byte key, 344-byte value), batches of 1000. */
async function classicLevelCeiling(sync: boolean, events: number): Promise<number> {
  const { dir, remove } = tempDir()
  const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' })
  await db.open()
  const value = randomBytes(ENVELOPE)
  const t = performance.now()
  for (let done = 0; done < events; done += 1000) {
    const batch = db.batch()
    for (let i = 0; i < 1000; i++) batch.put(randomBytes(40), value)
    await batch.write({ sync } as never)
  }
  const rate = events / ((performance.now() - t) / 1000)
  await db.close()
  remove()
  return rate
}

// A bench worker's sign(message, signature), from the store's platform module: node:crypto's
// one-shot sign (the fallback signer), as the append target's ceiling is defined, or the signer the store uses.
const SIGN_FUNCTION = `
const { workerData } = require('node:worker_threads')
const signFunction = import(workerData.platform).then((platform) =>
  (workerData.signer === 'store' ? platform.ed25519.signer : platform.nodeCryptoSigner)(require('node:crypto').randomBytes(32)))`

const SIGNER = `${SIGN_FUNCTION}
signFunction.then((sign) => {
  const message = Buffer.alloc(32), signature = new Uint8Array(64)
  let n = 0
  const t = performance.now()
  while (performance.now() - t < workerData.ms) { message.writeUInt32BE(n); sign(message, signature); n++ }
  require('node:worker_threads').parentPort.postMessage(n / ((performance.now() - t) / 1000))
})`

/** The store's platform module: its signer (libsodium where sodium-native loads) and node:crypto's. */
const STORE_PLATFORM = new URL('../src/platform/node.js', import.meta.url).href

/**
 * Ed25519 signatures of 32-byte ids per second, one thread per core: by node:crypto (the append
 * target's ceiling), or by the store's own signer.
 */
async function signingAllCores(ms: number, signer: 'node:crypto' | 'store'): Promise<number> {
  const workerData = { ms, platform: STORE_PLATFORM, signer }
  const rates = await Promise.all(Array.from({ length: availableParallelism() }, () =>
    new Promise<number>((resolve, reject) => new Worker(SIGNER, { eval: true, workerData }).once('message', resolve).once('error', reject))))
  return rates.reduce((a, b) => a + b, 0)
}

const BATCH_SIGNER = `${SIGN_FUNCTION}
signFunction.then((sign) => require('node:worker_threads').parentPort.on('message', (ids) => {
  const signatures = new Uint8Array(ids.length * 2)
  for (let i = 0; i < ids.length; i += 32) sign(ids.subarray(i, i + 32), signatures.subarray(i * 2, i * 2 + 64))
  require('node:worker_threads').parentPort.postMessage(signatures, [signatures.buffer])
}))`

/**
 * The least work any signed, durable append does, as a bound for the store's appends: batches
 * of 1000 events, each signed on one of a worker per core (by the store's signer), written to a
 * log file with one fsync and to classic-level with one put per event. No index, no duplicate
 * check, no API.
 * Timed after `warmup` events, as the store's appends are.
 */
async function minimalAppendRate(events: number, warmup: number): Promise<number> {
  const { dir, remove } = tempDir()
  const db = new ClassicLevel<Uint8Array, Uint8Array>(join(dir, 'db'), { keyEncoding: 'view', valueEncoding: 'view' })
  await db.open()
  const log = await open(join(dir, 'log'), 'a')
  const workers = Array.from({ length: availableParallelism() }, () => new Worker(BATCH_SIGNER, { eval: true, workerData: { platform: STORE_PLATFORM, signer: 'store' } }))
  const total = warmup + events
  // Keys as the store's: timestamp (40 events per ms, as appends come) ‖ a random id.
  const envelopes = randomBytes(total * ENVELOPE), keys = randomBytes(total * 40)
  const keyView = new DataView(keys.buffer, keys.byteOffset)
  for (let i = 0, now = Date.now(); i < total; i++) keyView.setBigUint64(i * 40, BigInt(now + Math.floor(i / 40)))
  // One lane per worker, each taking every n-th batch: signing on all cores, writes in between.
  const appendRange = (from: number, to: number) => Promise.all(workers.map(async (worker, lane) => {
    for (let start = from + lane * 1000; start < to; start += workers.length * 1000) {
      const count = Math.min(1000, to - start)
      const ids = new Uint8Array(count * 32)
      for (let i = 0; i < count; i++) ids.set(keys.subarray((start + i) * 40 + 8, (start + i) * 40 + 40), i * 32)
      const signatures = await new Promise<Uint8Array>((resolve) => { worker.once('message', resolve); worker.postMessage(ids) })
      const chunk = envelopes.subarray(start * ENVELOPE, (start + count) * ENVELOPE)
      const batch = db.batch()
      for (let i = 0; i < count; i++) {
        chunk.set(signatures.subarray(i * 64, i * 64 + 64), (i + 1) * ENVELOPE - 64)
        batch.put(keys.subarray((start + i) * 40, (start + i + 1) * 40), chunk.subarray(i * ENVELOPE, (i + 1) * ENVELOPE))
      }
      await log.write(chunk)
      await log.datasync()
      await batch.write()
    }
  }))
  await appendRange(0, warmup)
  const t = performance.now()
  await appendRange(warmup, total)
  const rate = events / ((performance.now() - t) / 1000)
  await Promise.all(workers.map((w) => w.terminate()))
  await log.close()
  await db.close()
  remove()
  return rate
}

/**
 * Appends from `concurrency` callers at once, each awaiting its own append: `warmup` events
 * untimed (their rate is `coldRate`: a fresh process compiles its code and starts its threads
 * meanwhile), then `events` more, timed until indexed. With the Merkle index, also the page
 * bytes written per event and the latency of `root()` and of `prove()` at the end.
 */
async function appendRate(durability: Durability, events: number, warmup: number, options: { merkleIndex?: boolean; workers?: number } = {}, concurrency = 1024) {
  const { dir, remove } = tempDir()
  const db = await Xaeroflux.open({ path: dir, group: 'bench', identity: Identity.generate(), durability, ...options })
  const base = randomBytes(PAYLOAD)
  let next = 0
  const appendUpTo = async (last: number) => {
    const t = performance.now()
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < last) {
        // Distinct payloads (equal events would be deduplicated), made without a random-number call each.
        const payload = Buffer.from(base)
        payload.writeUInt32BE(++next)
        await db.append({ kind: next % 4, payload })
      }
    }))
    await db.flush()
    return (performance.now() - t) / 1000
  }
  const total = warmup + events
  const coldRate = warmup / await appendUpTo(warmup)
  const rate = events / await appendUpTo(total)
  // Equal events are stored once: a rate is only a rate of distinct events.
  if (await db.count() !== total) throw new Error(`the bench appended ${total} events but ${await db.count()} are stored`)
  const index = options.merkleIndex === false ? undefined : await indexFigures(db, total)
  await db.close()
  remove()
  return { rate, coldRate, index }
}

async function indexFigures(db: Xaeroflux, events: number) {
  // The tree's write counter is internal; a bench may look.
  const written = (db as unknown as { tree: { written: { pages: number; bytes: number } } }).tree.written
  const ids: string[] = []
  for await (const e of db.range({ limit: events })) if (ids.length < 1000 && Math.random() < 2000 / events) ids.push(e.id)
  let t = performance.now()
  for (let i = 0; i < 1000; i++) await db.root()
  const rootMicros = performance.now() - t // ms for 1000 calls = µs per call
  t = performance.now()
  for (const id of ids) await db.prove(id)
  const proveMicros = ((performance.now() - t) * 1000) / ids.length
  return { pagesPerEvent: written.pages / events, pageBytesPerEvent: written.bytes / events, rootMicros, proveMicros }
}

/** ingestMany of the events of a `signToFile` file, in chunks of 1000, four chunks in flight. */
async function ingestRate(file: string, workers: number): Promise<number> {
  const all = await readFile(file)
  const envelopes = Array.from({ length: all.length / ENVELOPE }, (_, i) => all.subarray(i * ENVELOPE, (i + 1) * ENVELOPE))
  const { dir, remove } = tempDir()
  const db = await Xaeroflux.open({ path: dir, group: 'bench', durability: 'batch', workers })
  let next = 0
  const t = performance.now()
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (next < envelopes.length) {
      const start = next
      next += 1000
      await db.ingestMany(envelopes.slice(start, start + 1000))
    }
  }))
  await db.flush()
  const rate = envelopes.length / ((performance.now() - t) / 1000)
  if (await db.count() !== envelopes.length) throw new Error(`the bench ingested ${envelopes.length} events but ${await db.count()} are stored`)
  await db.close()
  remove()
  return rate
}

export type StoreRun =
  | { phase: 'append'; durability: Durability; events: number; warmup: number; merkleIndex?: boolean; workers?: number }
  | { phase: 'ingest'; workers: number; file: string }
  | { phase: 'minimalAppend'; events: number; warmup: number }

/** One run, in the process `inChild('--store-run', …)` started for it. */
export async function storeRun(run: StoreRun) {
  if (run.phase === 'ingest') return { rate: await ingestRate(run.file, run.workers) }
  if (run.phase === 'minimalAppend') return { rate: await minimalAppendRate(run.events, run.warmup) }
  return appendRate(run.durability, run.events, run.warmup, { merkleIndex: run.merkleIndex, workers: run.workers })
}

/**
 * Signs `events` events (200-byte payloads, 50 authors, one ms apart) into `file`, each
 * envelope ENVELOPE bytes: `peakRss` reads them back, so the signing's memory is not counted.
 */
export async function signToFile(events: number, file: string): Promise<void> {
  const authors = Array.from({ length: 50 }, () => Identity.generate())
  const group = groupId('bench')
  const out = await open(file, 'w')
  try {
    for (let start = 0; start < events; start += 1000) {
      const chunk = Array.from({ length: Math.min(1000, events - start) }, (_, i) =>
        encodeEvent({ kind: i % 4, timestamp: Date.now() - events + start + i, group, payload: randomBytes(PAYLOAD) }, authors[i % authors.length]))
      await out.write(Buffer.concat(chunk))
    }
  } finally {
    await out.close()
  }
}

/** Ingests the events of a `signToFile` file, 1000 at a time read from disk, and samples the RSS. */
export async function peakRss(file: string): Promise<{ events: number; seconds: number; peakRssMB: number }> {
  const { dir, remove } = tempDir()
  const input = await open(file, 'r')
  const db = await Xaeroflux.open({ path: dir, group: 'bench', durability: 'batch' })
  let peak = 0
  const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss) }, 20)
  const t = performance.now()
  let previous: Promise<unknown> | undefined
  for (;;) {
    const buffer = Buffer.alloc(1000 * ENVELOPE)
    const { bytesRead } = await input.read(buffer, 0, buffer.length)
    if (bytesRead === 0) break
    const chunk = Array.from({ length: bytesRead / ENVELOPE }, (_, i) => buffer.subarray(i * ENVELOPE, (i + 1) * ENVELOPE))
    await previous
    previous = db.ingestMany(chunk)
  }
  await previous
  await db.flush()
  clearInterval(sampler)
  const stored = await db.count()
  const seconds = (performance.now() - t) / 1000
  await input.close()
  await db.close()
  remove()
  return { events: stored, seconds, peakRssMB: Math.round(peak / 2 ** 20) }
}

export async function storeBench(options: { quick?: boolean } = {}) {
  const n = options.quick ? 10_000 : 40_000
  // Appends are timed after this many, in the same store: the throughput of a store that has
  // been running, not of its first second (docs/dev/benchmarks-journal.md, session 5).
  const warmup = options.quick ? 5_000 : 20_000
  const rounds = options.quick ? 1 : 3
  // A longer run besides: a growing store compacts more, and appends slow down (docs/dev/benchmarks-journal.md, session 7).
  const sustained = options.quick ? 40_000 : 200_000
  const { dir, remove } = tempDir()
  const file = join(dir, 'events.bin')
  await signToFile(n, file)
  const runs: Record<string, number[]> = {}
  const add = (name: string, rate: number) => (runs[name] ??= []).push(rate)
  let merkleIndex
  try {
    for (let round = 0; round < rounds; round++) {
      add('ceiling.classicLevelBatched', await classicLevelCeiling(false, 200_000))
      add('ceiling.classicLevelSyncPerBatch', await classicLevelCeiling(true, 100_000))
      add('ceiling.ed25519SignAllCores', await signingAllCores(1500, 'node:crypto'))
      add('ceiling.storeSignerAllCores', await signingAllCores(1500, 'store'))
      add('bound.minimalAppend', (await inChild<{ rate: number }>('--store-run', JSON.stringify({ phase: 'minimalAppend', events: n, warmup }))).rate)
      const append = async (name: string, run: Omit<Extract<StoreRun, { phase: 'append' }>, 'phase' | 'events' | 'warmup'>, events = n) => {
        const result = await inChild<Awaited<ReturnType<typeof appendRate>>>('--store-run', JSON.stringify({ phase: 'append', events, warmup, ...run }))
        add(`append.${name}`, result.rate)
        add(`coldAppend.${name}`, result.coldRate)
        return result
      }
      for (const durability of ['sync', 'batch', 'none'] as const) {
        const { index } = await append(durability, { durability })
        if (durability === 'batch') merkleIndex = index
      }
      // The default is one worker per spare core (one here); with two, signing uses every core, as the ceiling's does.
      await append('batchWorkers2', { durability: 'batch', workers: 2 })
      await append('batchWorkers2Sustained', { durability: 'batch', workers: 2 }, sustained)
      await append('batchWithoutMerkleIndex', { durability: 'batch', merkleIndex: false })
      for (const workers of [0, 1, 2]) add(`ingest.workers${workers}`, (await inChild<{ rate: number }>('--store-run', JSON.stringify({ phase: 'ingest', workers, file }))).rate)
    }
  } finally {
    remove()
  }
  const figure = (name: string) => ({ median: Math.round(median(runs[name])), runs: runs[name].map(Math.round) })
  const group = (prefix: string) => Object.fromEntries(Object.keys(runs).filter((k) => k.startsWith(prefix)).map((k) => [k.slice(prefix.length), figure(k)]))
  const ceiling = group('ceiling.'), bound = group('bound.'), append = group('append.'), coldAppend = group('coldAppend.'), ingest = group('ingest.')
  const appendCeiling = Math.min(ceiling.classicLevelBatched.median, ceiling.ed25519SignAllCores.median)
  // The store signs with libsodium where it can, faster than node:crypto: beside the target's
  // ceiling, the same figures against the store's own signer.
  const ownCeiling = Math.min(ceiling.classicLevelBatched.median, ceiling.storeSignerAllCores.median)
  const bestBatch = Math.max(append.batch.median, append.batchWorkers2.median)
  const appendRatio = bestBatch / appendCeiling, ingestRatio = ingest.workers2.median / ingest.workers0.median
  return {
    // Not a target: how close to the ceiling an append with no index at all gets.
    results: {
      events: n, warmup, rounds, sustainedEvents: sustained, ceiling,
      signingLibrary,
      bound: { ...bound, minimalAppendVsCeiling: round(bound.minimalAppend.median / appendCeiling), minimalAppendVsStoreSignerCeiling: round(bound.minimalAppend.median / ownCeiling) },
      // Not a target: the target's figure against signing as the store does it.
      batchAppendVsStoreSignerCeiling: round(bestBatch / ownCeiling),
      appendEventsPerSec: append,
      // Not a target either: the target's figure, over a store five times larger.
      sustainedAppendVsCeiling: round(append.batchWorkers2Sustained.median / appendCeiling),
      coldAppendEventsPerSec: coldAppend, merkleIndex, ingestEventsPerSec: ingest,
    },
    targets: {
      batchAppendVsCeiling: target(appendRatio, 0.6, "max(median 'batch' appends with the default workers, with workers: 2) / min(median ceilings)"),
      ingestWorkers2VsWorkers0: target(ingestRatio, 1.6, 'median ingest workers 2 / median workers 0'),
    },
  }
}
