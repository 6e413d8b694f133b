// Reconciliation of two stores in one process (messages passed in memory), next to negentropy
// (NIP-77, @nostr-dev-kit/sync) on the same sets in the same run: round trips, bytes each way
// and time, for n base events and d differences split between the sides.
//
// The sets: n base events (random timestamps over one day, 20 authors, 32-byte random payloads;
// made and ingested 50 000 at a time, each chunk covering its own stretch of the day) are
// ingested into store A once; A's directory is copied to make store B. The d cases run in
// increasing order and only add events: A holds the base and ⌈d/2⌉ events of its own, B the base
// and ⌊d/2⌋ of its own, the extras of a smaller d being part of those of a larger one. Negentropy
// gets the same (timestamp in seconds, id) pairs. Both sides of both protocols run with frames of
// at most 64 KiB (ours: MAX_MESSAGE; negentropy: frameSizeLimit 60 000). Round trips are counted
// as the tests do: one per message of the initiator.
import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { Negentropy, NegentropyStorage } from '@nostr-dev-kit/sync'
import { Xaeroflux, Identity, groupId, type Reconciliation } from '../src/index.js'
import { signEvent } from '../src/event.js'
import { check, round } from './util.js'

const GROUP = 'reconcile-bench'
const DAY = 24 * 3_600_000
const NEG_FRAME = 60_000
const progress = (what: string) => process.stderr.write(`bench reconcile: ${what}\n`)

const authors = Array.from({ length: 20 }, () => Identity.generate())
const group = groupId(GROUP)
const T0 = Date.now() - 2 * DAY

/** `count` new events with random timestamps in [T0 + from, T0 + from + span); returns the envelopes and their keys. */
function makeEvents(count: number, from = 0, span = DAY): { envelopes: Uint8Array[]; keys: Uint8Array[] } {
  const envelopes: Uint8Array[] = [], keys: Uint8Array[] = []
  for (let i = 0; i < count; i++) {
    const timestamp = T0 + from + Math.floor(Math.random() * span)
    const event = signEvent({ kind: 1, timestamp, group, payload: randomBytes(32) }, authors[i % authors.length])
    envelopes.push(event.bytes)
    keys.push(event.key)
  }
  return { envelopes, keys }
}

async function ingestAll(db: Xaeroflux, envelopes: Uint8Array[]): Promise<void> {
  const CHUNK = 2000
  let next = 0
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (next < envelopes.length) {
      const start = next
      next += CHUNK
      await db.ingestMany(envelopes.slice(start, start + CHUNK))
    }
  }))
  await db.flush()
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const seconds = (key: Uint8Array) => Math.floor(Number(new DataView(key.buffer, key.byteOffset, 8).getBigUint64(0)) / 1000)

/** Ours: rounds as the tests count them, bytes each way, ms; checks need and have against the truth. */
async function ours(a: Xaeroflux, b: Xaeroflux, onlyA: Set<string>, onlyB: Set<string>) {
  const t = performance.now()
  const ra: Reconciliation = a.reconcile(), rb: Reconciliation = b.reconcile()
  let rounds = 0, aToB = 0, bToA = 0
  let msg: Uint8Array | undefined = await ra.open()
  while (msg) {
    rounds++
    aToB += msg.length
    check(msg.length <= 65_536, 'a frame over 64 KiB')
    const reply: Uint8Array | undefined = await rb.receive(msg)
    if (!reply) break
    bToA += reply.length
    check(reply.length <= 65_536, 'a frame over 64 KiB')
    msg = await ra.receive(reply)
  }
  const ms = performance.now() - t
  check(sameSet(ra.have, onlyA) && sameSet(ra.need, onlyB) && sameSet(rb.have, onlyB) && sameSet(rb.need, onlyA), 'xaeroflux reconciliation found the wrong differences')
  return { rounds, bytesAtoB: aToB, bytesBtoA: bToA, bytes: aToB + bToA, ms: round(ms) }
}

/** Negentropy on the same sets: A initiates, B responds. */
async function negentropy(keysA: Uint8Array[], keysB: Uint8Array[], onlyA: Set<string>, onlyB: Set<string>) {
  const storage = (keys: Uint8Array[]) => {
    const s = new NegentropyStorage()
    for (const k of keys) s.insert(seconds(k), k.subarray(8))
    s.seal()
    return s
  }
  const sa = storage(keysA), sb = storage(keysB)
  const t = performance.now()
  const client = new Negentropy(sa, NEG_FRAME), server = new Negentropy(sb, NEG_FRAME)
  const have = new Set<string>(), need = new Set<string>()
  let rounds = 0, aToB = 0, bToA = 0
  let msg: Uint8Array | undefined = await client.initiate()
  while (msg) {
    rounds++
    aToB += msg.length
    const reply = (await server.reconcile(msg)).nextMessage
    if (!reply) break
    bToA += reply.length
    const r = await client.reconcile(reply)
    for (const id of r.have) have.add(hex(id))
    for (const id of r.need) need.add(hex(id))
    msg = r.nextMessage
  }
  const ms = performance.now() - t
  check(sameSet([...have], onlyA) && sameSet([...need], onlyB), 'negentropy found the wrong differences')
  return { rounds, bytesAtoB: aToB, bytesBtoA: bToA, bytes: aToB + bToA, ms: round(ms) }
}

function sameSet(xs: string[], set: Set<string>): boolean {
  return xs.length === set.size && xs.every((x) => set.has(x))
}

export async function reconcileBench(options: { quick?: boolean; sizes?: number[] } = {}) {
  const sizes = options.sizes ?? (options.quick ? [10_000] : [10_000, 100_000, 1_000_000])
  const ds = [1, 100, 10_000]
  type Figures = Awaited<ReturnType<typeof ours>>
  const grid: Array<{ n: number; d: number; xaeroflux: Figures; negentropy: Figures; bytesVsNegentropy: number }> = []
  for (const n of sizes) {
    const dir = mkdtempSync(join(tmpdir(), 'xaeroflux-reconcile-'))
    try {
      progress(`n = ${n}: signing and ingesting the base set`)
      const t = performance.now()
      const base: Uint8Array[] = []
      let a = await Xaeroflux.open({ path: join(dir, 'a'), group: GROUP, durability: 'none' })
      // Chunk by chunk through the day, so that each chunk's index updates stay within the page
      // cache; the timestamps are still spread evenly over the whole day.
      for (let done = 0; done < n; done += 50_000) {
        const count = Math.min(50_000, n - done)
        const { envelopes, keys } = makeEvents(count, (done / n) * DAY, (count / n) * DAY)
        base.push(...keys)
        await ingestAll(a, envelopes)
      }
      check(await a.count() === n, 'the base set is stored')
      await a.close()
      cpSync(join(dir, 'a'), join(dir, 'b'), { recursive: true })
      a = await Xaeroflux.open({ path: join(dir, 'a'), group: GROUP, durability: 'none' })
      const b = await Xaeroflux.open({ path: join(dir, 'b'), group: GROUP, durability: 'none' })
      const buildSeconds = round((performance.now() - t) / 1000)
      progress(`n = ${n}: stores built in ${buildSeconds} s`)
      const extraA: Uint8Array[] = [], extraB: Uint8Array[] = []
      for (const d of ds) {
        const more = makeEvents(d - extraA.length - extraB.length)
        const half = Math.ceil(d / 2) - extraA.length
        await ingestAll(a, more.envelopes.slice(0, half))
        await ingestAll(b, more.envelopes.slice(half))
        extraA.push(...more.keys.slice(0, half))
        extraB.push(...more.keys.slice(half))
        const onlyA = new Set(extraA.map((k) => hex(k.subarray(8)))), onlyB = new Set(extraB.map((k) => hex(k.subarray(8))))
        progress(`n = ${n}, d = ${d}: xaeroflux`)
        const x = await ours(a, b, onlyA, onlyB)
        progress(`n = ${n}, d = ${d}: negentropy`)
        const ng = await negentropy([...base, ...extraA], [...base, ...extraB], onlyA, onlyB)
        grid.push({ n, d, xaeroflux: x, negentropy: ng, bytesVsNegentropy: round(x.bytes / ng.bytes) })
        progress(`n = ${n}, d = ${d}: xaeroflux ${x.rounds} round trips, ${x.bytes} bytes, ${x.ms} ms; negentropy ${ng.rounds}, ${ng.bytes}, ${ng.ms} ms`)
      }
      await a.close()
      await b.close()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }
  const biggest = sizes[sizes.length - 1]
  const one = grid.find((g) => g.n === biggest && g.d === 1)!
  const targets: Record<string, unknown> = {
    [`oneDifferenceIn${biggest}RoundTrips`]: { value: one.xaeroflux.rounds, threshold: 4, pass: one.xaeroflux.rounds <= 4 },
    [`oneDifferenceIn${biggest}Bytes`]: { value: one.xaeroflux.bytes, threshold: 4096, pass: one.xaeroflux.bytes <= 4096 },
  }
  for (const c of grid) {
    if (c.d < 100) continue
    const ratio = c.xaeroflux.bytes / c.negentropy.bytes
    targets[`n${c.n}d${c.d}BytesVsNegentropy`] = { value: round(ratio), threshold: 1.5, pass: ratio <= 1.5 }
    targets[`n${c.n}d${c.d}RoundsVsNegentropy`] = { value: `${c.xaeroflux.rounds} vs ${c.negentropy.rounds}`, pass: c.xaeroflux.rounds <= c.negentropy.rounds }
  }
  return { results: grid, targets }
}

if (process.argv[1]?.endsWith('reconcile.js') && !process.argv.includes('--no-main')) {
  // standalone: `node dist/bench/reconcile.js [--quick] [--sizes=100000,1000000]`
  const sizes = process.argv.find((a) => a.startsWith('--sizes='))?.slice(8).split(',').map(Number)
  console.log(JSON.stringify(await reconcileBench({ quick: process.argv.includes('--quick'), sizes }), null, 2))
}
