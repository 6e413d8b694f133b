// The process's one pipeline pool (src/pipeline/pool.ts): shared by every store, sized by what
// they ask for, stopped with the last store, and a worker that dies fails its jobs and is replaced.
// Worker threads are counted where they are made: node:worker_threads' Worker, wrapped below
// (syncBuiltinESMExports carries the wrapper to the platform's `import { Worker }`), and the
// kernel's count of the process's threads.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createRequire, syncBuiltinESMExports } from 'node:module'
import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { Xaeroflux, Identity, XaeroError, encodeEvent, groupId, type Event } from '../src/index.js'
import { defaultRuntime } from '../src/core/default.js'
import { WorkerPool, MAX_POOL_WORKERS } from '../src/pipeline/pool.js'
import { MIN_JOB } from '../src/pipeline/pipeline.js'
import { SLOT_EVENTS, SLOT_TABLE } from '../src/pipeline/slot.js'
import { tempDir } from './helpers/store.js'

const runtime = defaultRuntime()

const workerThreads = createRequire(import.meta.url)('node:worker_threads') as typeof import('node:worker_threads')
let workersMade = 0
/** How many of the next workers made start a thread that throws at once instead (a start that fails). */
let failingStarts = 0
/** Each job posted to a worker: which worker (its threadId) and how many envelopes. */
const jobsPosted: Array<{ thread: number; count: number }> = []
const NodeWorker = workerThreads.Worker
workerThreads.Worker = class extends NodeWorker {
  constructor(...args: ConstructorParameters<typeof NodeWorker>) {
    if (failingStarts > 0 && failingStarts--) super('throw new Error("boom at start")', { eval: true })
    else super(...args)
    workersMade++
  }
  override postMessage(message: unknown, transfer?: readonly import('node:worker_threads').TransferListItem[]) {
    const job = message as { op?: string; count?: number }
    if (job?.op) jobsPosted.push({ thread: this.threadId, count: job.count! })
    super.postMessage(message, transfer)
  }
}
syncBuiltinESMExports()

/** The process's threads as Linux counts them (undefined elsewhere). */
function osThreads(): number | undefined {
  try {
    return Number(/^Threads:\s+(\d+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1])
  } catch {
    return undefined
  }
}

/** Rejects if `promise` is still pending after `ms`: nothing in the pool may wait forever. */
function watchdog<T>(promise: Promise<T>, ms = 10_000, what = 'a promise'): Promise<T> {
  let timer: NodeJS.Timeout
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} still pending after ${ms} ms`)), ms) }),
  ])
}

const pool = () => WorkerPool.of(runtime)
const MB = 1 << 20

async function untilTrue(check: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 10_000
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

// 100 stores of 100 groups open at once, each appending and ingesting; `path` gives each a folder.
async function manyStores(where: 'memory' | 'disk'): Promise<void> {
  assert.is(pool(), undefined, 'no pool before the first store')
  const dir = where === 'disk' ? tempDir() : undefined
  const me = Identity.generate(), peer = Identity.generate()
  const made0 = workersMade, threads0 = osThreads(), rss0 = process.memoryUsage().rss
  const t0 = performance.now()
  const stores = await Promise.all(Array.from({ length: 100 }, (_, i) =>
    Xaeroflux.open({ group: `group ${i}`, identity: me, workers: 2, durability: 'none', path: dir && join(dir.dir, `s${i}`) })))
  const openMs = performance.now() - t0
  try {
    const threadsOpen = osThreads(), made = workersMade - made0
    assert.is(made, 2, 'the pool\'s two workers, not two per store')
    assert.is(pool()!.inspect().size, 2)
    assert.is(pool()!.inspect().refs, 100)
    await Promise.all(stores.map(async (db, i) => {
      const group = groupId(`group ${i}`)
      const appended = await Promise.all([0, 1, 2].map((k) => db.append({ kind: k, payload: `store ${i} event ${k}` })))
      const fromPeer = [0, 1].map((k) => encodeEvent({ kind: 7, group, payload: `peer ${i}/${k}` }, peer))
      const ingested = await Promise.all(fromPeer.map((e) => db.ingest(e)))
      // Each job carries its store's group: another store's event is refused here.
      const other = encodeEvent({ kind: 7, group: groupId(`group ${(i + 1) % 100}`), payload: 'elsewhere' }, peer)
      const wrong = await db.ingest(other).then(() => 'accepted', (e) => (e instanceof XaeroError ? e.code : String(e)))
      assert.is(wrong, 'E_WRONG_GROUP', `store ${i}`)
      await db.flush()
      assert.is(await db.count(), 5, `store ${i}`)
      for (const e of [...appended, ...ingested] as Event[]) {
        assert.is(e.group, group)
        assert.is((await db.get(e.id))?.id, e.id)
      }
      assert.ok(appended.every((e) => e.author === me.id))
    }))
    const rss = process.memoryUsage().rss
    console.log(`  100 stores ${where === 'disk' ? 'on disk' : 'in memory'}: opened in ${openMs.toFixed(0)} ms; ${made} workers started; ` +
      `threads ${threads0} → ${threadsOpen}; RSS ${(rss0 / MB).toFixed(0)} → ${(rss / MB).toFixed(0)} MiB after 500 events; shared memory ${(runtime.shared.memory.buffer.byteLength / MB).toFixed(0)} MiB`)
    if (threads0 !== undefined && where === 'memory') assert.ok(threadsOpen! - threads0 <= 2 + 2, `threads ${threads0} → ${threadsOpen}`)
    // Before the pool, each store held 2 workers (~10 MiB each) and 8 slots: 100 stores did not even open.
    assert.ok(rss - rss0 < 400 * MB, `RSS grew by ${((rss - rss0) / MB).toFixed(0)} MiB`)
  } finally {
    await Promise.all(stores.map((db) => db.close()))
    dir?.remove()
  }
  assert.is(pool(), undefined, 'the pool stopped with the last store')
  if (threads0 !== undefined) assert.ok(osThreads()! <= threads0 + (where === 'disk' ? 4 : 0), `threads after closing: ${osThreads()} (before: ${threads0})`)
}

test('100 stores of 100 groups in memory share one pool of two workers', () => manyStores('memory'))
test('100 stores of 100 groups on disk share one pool of two workers', () => manyStores('disk'))

/**
 * Runs `body` with an `open` whose stores are all closed at the end, also when an assertion
 * fails: an open store keeps the pool's threads, and the test's process, alive.
 */
async function closingAll(body: (open: typeof Xaeroflux.open) => Promise<void>): Promise<void> {
  const opened: Xaeroflux[] = []
  try {
    await body(async (options) => { const db = await Xaeroflux.open(options); opened.push(db); return db })
  } finally {
    await Promise.all(opened.map((db) => db.close()))
  }
}

test('the pool grows to the largest `workers` asked for, workers: 0 starts none, and it stops with the last store', () => closingAll(async (open) => {
  const byDefault = await open({ group: 'sizes' })
  assert.is(byDefault.workers, availableParallelism() >= 2 ? 2 : 0, 'two workers by default on 2 cores or more, none on one')
  await byDefault.close()
  const made0 = workersMade
  const inline = await open({ group: 'sizes', workers: 0 })
  assert.is(workersMade - made0, 0, 'workers: 0 starts no thread')
  assert.is(pool()!.inspect().size, 0)
  const one = await open({ group: 'sizes', workers: 1 })
  assert.is(workersMade - made0, 1)
  const three = await open({ group: 'sizes', workers: 3 })
  assert.is(workersMade - made0, 3, 'grown to three')
  const two = await open({ group: 'sizes', workers: 2 })
  assert.is(workersMade - made0, 3, 'a smaller ask is served by the pool as it is')
  assert.is(pool()!.inspect().size, 3)
  const tooMany = await open({ group: 'sizes', workers: MAX_POOL_WORKERS + 1 }).then(() => undefined, (e) => e)
  assert.instance(tooMany, RangeError, 'more workers than the pool can have is misuse')
  const big = await open({ group: 'sizes', workers: MAX_POOL_WORKERS })
  assert.is(pool()!.inspect().size, MAX_POOL_WORKERS, 'at the cap')
  assert.is(workersMade - made0, MAX_POOL_WORKERS)
  await big.close()
  await big.close() // idempotent: the reference is given back once
  assert.is(pool()!.inspect().refs, 4)
  assert.is(pool()!.inspect().size, MAX_POOL_WORKERS, 'kept while any store is open')
  const peer = Identity.generate()
  for (const db of [inline, one, three, two]) {
    const e = await db.ingest(encodeEvent({ kind: 1, group: groupId('sizes'), payload: 'hi' }, peer))
    assert.is(e.author, peer.id)
  }
  await Promise.all([inline, one, three, two].map((db) => db.close()))
  assert.is(pool(), undefined)
  const again = await open({ group: 'sizes', workers: 0 })
  assert.is(pool()!.inspect().size, 0, 'a new pool, sized afresh')
  await again.close()
}))

test('a batch smaller than the workers\' slots is spread over the workers, in jobs of MIN_JOB or more; a large one fills whole slots', async () => {
  const db = await Xaeroflux.open({ group: 'spread', workers: 2 })
  try {
    const peer = Identity.generate()
    const envelopes = (n: number, from: number) => Array.from({ length: n }, (_, i) => encodeEvent({ kind: 1, group: groupId('spread'), payload: `event ${from + i}` }, peer))
    const jobsFor = async (n: number, from: number) => {
      jobsPosted.length = 0
      const results = await db.ingestMany(envelopes(n, from))
      assert.ok(results.every((r) => !(r instanceof XaeroError)), `the ${n} are stored`)
      return jobsPosted.map((j) => j.count).sort((a, b) => a - b)
    }
    assert.equal(await jobsFor(100, 0), [50, 50], 'a catch-up\'s 100: one job per worker')
    assert.equal(await jobsFor(2 * MIN_JOB - 1, 1000), [2 * MIN_JOB - 1], 'too few for two jobs of MIN_JOB')
    assert.equal(await jobsFor(2 * MIN_JOB, 2000), [MIN_JOB, MIN_JOB])
    assert.equal(await jobsFor(3 * SLOT_EVENTS, 3000), [SLOT_EVENTS, SLOT_EVENTS, SLOT_EVENTS], 'more than the workers\' share: whole slots')
    assert.equal(await jobsFor(SLOT_EVENTS + 2, 5000), [SLOT_EVENTS / 2 + 1, SLOT_EVENTS / 2 + 1], 'in even jobs, not a full slot and a remainder')
    jobsPosted.length = 0
    await db.ingestMany(envelopes(100, 9000))
    assert.is(new Set(jobsPosted.map((j) => j.thread)).size, 2, 'both workers take a job')
  } finally {
    await db.close()
  }
})

test('an open that fails after taking the pool gives its reference back', async () => {
  const { dir, remove } = tempDir()
  try {
    const db = await Xaeroflux.open({ group: 'refs', workers: 2 })
    const refs = pool()!.inspect().refs
    mkdirSync(join(dir, 'broken'))
    writeFileSync(join(dir, 'broken', 'wal'), 'not a folder') // the log cannot be opened: after the pipeline is
    const failed = await Xaeroflux.open({ group: 'refs', workers: 2, path: join(dir, 'broken') }).then(() => undefined, (e) => e)
    assert.ok(failed instanceof Error, 'the open fails')
    assert.is(pool()!.inspect().refs, refs)
    await db.close()
    assert.is(pool(), undefined)
  } finally {
    remove()
  }
})

test('a worker that fails to start fails the open that needed it, which leaves nothing behind', async () => {
  const made0 = workersMade, threads0 = osThreads()
  failingStarts = 1
  const failed = await watchdog(Xaeroflux.open({ group: 'start', workers: 2 }).then(() => undefined, (e) => e))
  assert.instance(failed, XaeroError)
  assert.is(failed.code, 'E_WORKER_FAILED')
  assert.match(String((failed.cause as Error).message), /boom at start/)
  assert.is(workersMade - made0, 2)
  assert.is(pool(), undefined, 'the worker that did start was stopped with the pool')
  if (threads0 !== undefined) assert.is(osThreads(), threads0)
  // A pool in use that fails to grow: that open fails, the pool keeps its size and serves on.
  const one = await Xaeroflux.open({ group: 'start', workers: 1 })
  failingStarts = 1
  const grow = await watchdog(Xaeroflux.open({ group: 'start', workers: 2 }).then(() => undefined, (e) => e))
  assert.is(grow?.code, 'E_WORKER_FAILED')
  assert.equal([pool()!.inspect().size, pool()!.inspect().refs, pool()!.inspect().workers.length], [1, 1, 1])
  const e = await watchdog(one.ingest(encodeEvent({ kind: 1, group: groupId('start'), payload: 'still here' }, Identity.generate())))
  assert.is(e.kind, 1)
  await one.close()
  assert.is(pool(), undefined)
})

test('a worker killed mid-job fails the jobs it held with E_WORKER_FAILED, and is replaced', async () => {
  const me = Identity.generate(), peer = Identity.generate()
  const used0 = runtime.map.used
  const db = await Xaeroflux.open({ group: 'crash', identity: me, workers: 2, durability: 'none' })
  const started0 = pool()!.inspect().started
  const envelopes = Array.from({ length: 4000 }, (_, i) => encodeEvent({ kind: 1, group: groupId('crash'), payload: `event ${i}` }, peer))
  // 8 slots of 512 envelopes: both workers get jobs; wait until they hold some, then kill one.
  const many = db.ingestMany(envelopes)
  const appends = Array.from({ length: 600 }, (_, i) => db.append({ kind: 2, payload: `mine ${i}` }))
  await untilTrue(() => pool()!.inspect().workers.some((w) => w.jobs > 0), 'a worker with jobs')
  const victim = pool()!.inspect().workers.find((w) => w.jobs > 0)!
  const held = victim.jobs
  await victim.worker.terminate()
  const failure = await watchdog(many.then(() => undefined, (e) => e), 10_000, 'ingestMany')
  assert.instance(failure, XaeroError)
  assert.is(failure.code, 'E_WORKER_FAILED')
  assert.instance(failure.cause, Error)
  const settled = await watchdog(Promise.allSettled(appends), 10_000, 'an append')
  for (const s of settled) if (s.status === 'rejected') assert.is((s.reason as XaeroError).code, 'E_WORKER_FAILED')
  console.log(`  killed a worker holding ${held} jobs: ingestMany failed, ${settled.filter((s) => s.status === 'rejected').length} of 600 appends failed`)
  await untilTrue(() => pool()!.inspect().workers.length === 2, 'a replacement worker')
  assert.is(pool()!.inspect().started, started0 + 1, 'one new worker')
  assert.is(pool()!.inspect().slots <= 8, true, 'slots stay bounded')
  // The pool works again: everything goes through.
  const results = await watchdog(db.ingestMany(envelopes), 10_000, 'ingestMany after')
  assert.ok(results.every((r) => !(r instanceof XaeroError)))
  const after = await watchdog(Promise.all(Array.from({ length: 300 }, (_, i) => db.append({ kind: 3, payload: `after ${i}` }))), 10_000, 'appends after')
  assert.is(after.length, 300)
  await db.flush()
  assert.ok(await db.count() >= 4300)
  await watchdog(db.close(), 10_000, 'close')
  assert.is(pool(), undefined)
  // In Node the dead worker's workspace and slots came back once its thread had stopped.
  assert.is(runtime.map.used, used0, 'every region returned to the map')
})

test('a worker whose core traps fails its job with E_WORKER_FAILED (the trap as cause), and is replaced', async () => {
  const peer = Identity.generate()
  const used0 = runtime.map.used
  const db = await Xaeroflux.open({ group: 'trap', workers: 1 })
  const p = pool()!, started0 = p.inspect().started
  // A job whose table points past the memory's end: the core traps in the worker.
  const slot = await p.acquireSlot()
  runtime.core.dv.setUint32(slot + SLOT_TABLE, 0xffffff00, true)
  runtime.core.dv.setUint32(slot + SLOT_TABLE + 4, 200, true)
  const failure = await watchdog(p.run({ op: 'validate', slot, count: 1, hasGroup: false, verify: false, maxPayload: 1000, maxTimestamp: Infinity }).then(() => undefined, (e) => e))
  p.releaseSlot(slot)
  assert.instance(failure, XaeroError)
  assert.is(failure.code, 'E_WORKER_FAILED')
  assert.match(String((failure.cause as Error).message), /out of bounds/)
  const e = await watchdog(db.ingest(encodeEvent({ kind: 1, group: groupId('trap'), payload: 'next' }, peer)))
  assert.is(e.author, peer.id)
  assert.is(p.inspect().started, started0 + 1)
  await db.close()
  assert.is(runtime.map.used, used0, 'every region returned to the map')
})

test('with every store closed no worker is left: a process that opened and closed stores exits by itself', async () => {
  const script = new URL('./fixtures/pool-exit.js', import.meta.url)
  const child = spawn(process.execPath, [script.pathname], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = '', err = ''
  child.stdout.on('data', (d) => { out += d })
  child.stderr.on('data', (d) => { err += d })
  const t0 = Date.now()
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); resolve(null) }, 30_000)
    child.on('exit', (c) => { clearTimeout(timer); resolve(c) })
  })
  const exitedAt = Date.now()
  assert.is(code, 0, `exit code ${code}; stderr: ${err}`)
  const report = JSON.parse(out.trim().split('\n').pop()!)
  assert.is(report.opened, 70)
  assert.is(report.brokenOpenFailed, true)
  assert.ok(exitedAt - report.closedAt < 5000, `exited ${exitedAt - report.closedAt} ms after closing its stores`)
  console.log(`  child: 70 stores opened and closed; exited ${exitedAt - report.closedAt} ms after closing them (${exitedAt - t0} ms in all)`)
})

test.run()
