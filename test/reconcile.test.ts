import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Identity, Xaeroflux, encodeEvent, groupId, decodeEvent, fromHex, XaeroError, type Reconciliation } from '../src/index.js'
import { MAX_MESSAGE, MAX_SUBTREES, SUBTREE, encodeItem, encodeMessage, hasPrefix, nodeBounds, nodeId, parseMessage, type Addr } from '../src/sync/codec.js'
import { rng, shuffle } from './helpers/keys.js'

const group = groupId('sync')
const random = rng(2024)
const T0 = Date.now() - 24 * 3_600_000
const authors = Array.from({ length: 4 }, (_, i) => Identity.fromSecretKey(new Uint8Array(32).fill(40 + i)))
const corpus = Array.from({ length: 10_000 }, (_, i) =>
  encodeEvent({ kind: i % 3, timestamp: T0 + Math.floor(random() * 24 * 3_600_000), group, payload: `s${i}` }, authors[i % 4]))
const ids = corpus.map((e) => decodeEvent(e, { verify: false }).id)

async function storeWith(envelopes: Uint8Array[]): Promise<Xaeroflux> {
  const db = await Xaeroflux.open({ group: 'sync', workers: 0 })
  await db.ingestMany(envelopes)
  await db.flush()
  return db
}

/** Runs a reconciliation with the messages passed in memory; returns rounds and bytes. */
async function run(a: Reconciliation, b: Reconciliation) {
  let rounds = 0, bytes = 0
  let msg: Uint8Array | undefined = await a.open()
  while (msg) {
    rounds++
    bytes += msg.length
    const reply: Uint8Array | undefined = await b.receive(msg)
    if (!reply) break
    bytes += reply.length
    msg = await a.receive(reply)
  }
  return { rounds, bytes }
}

const sorted = (xs: string[]) => xs.slice().sort()

// The grid of BENCHMARKS.md (Reconciliation): n base events on both sides, then d differences split between them, d
// growing case by case (the extras of a smaller d are part of those of a larger one), so that
// each side's store is built once per n. The extras are events of their own, not in any base.
const EXTRAS = 10_000
const extras = Array.from({ length: EXTRAS }, (_, i) =>
  encodeEvent({ kind: 7, timestamp: T0 + Math.floor(random() * 24 * 3_600_000), group, payload: `x${i}` }, authors[(i + 1) % 4]))
const extraIds = extras.map((e) => decodeEvent(e, { verify: false }).id)

function baseOf(n: number): Uint8Array[] {
  if (n <= corpus.length) return corpus.slice(0, n)
  return [...corpus, ...Array.from({ length: n - corpus.length }, (_, i) =>
    encodeEvent({ kind: i % 3, timestamp: T0 + Math.floor(random() * 24 * 3_600_000), group, payload: `b${i}` }, authors[i % 4]))]
}

// The 100k row takes ~60 s of the suite (two stores of 100k validated events): it runs with
// XAEROFLUX_SLOW=1 (`npm run test:slow`). test/reconcile-hostile.test.ts reconciles against 100k
// events in every run, and `npm run bench` measures up to 1M.
const SIZES = process.env.XAEROFLUX_SLOW === '1' ? [10_000, 100_000] : [10_000]

for (const n of SIZES) {
  test(`${n} events, d in 0, 1, 100, 10k differences split between the sides: each side learns exactly the other's`, async () => {
    const t = performance.now()
    const base = baseOf(n)
    const [a, b] = await Promise.all([storeWith(base), storeWith(base)])
    const built = performance.now() - t
    let given = 0
    for (const d of [0, 1, 100, 10_000]) {
      // extras [0, ⌈d/2⌉) go to a, [EXTRAS/2, EXTRAS/2 + ⌊d/2⌋) to b
      const toA = extras.slice(0, Math.ceil(d / 2)), toB = extras.slice(EXTRAS / 2, EXTRAS / 2 + Math.floor(d / 2))
      await a.ingestMany(toA.slice(Math.ceil(given / 2)))
      await b.ingestMany(toB.slice(Math.floor(given / 2)))
      await a.flush(); await b.flush()
      given = d
      const onlyA = extraIds.slice(0, toA.length), onlyB = extraIds.slice(EXTRAS / 2, EXTRAS / 2 + toB.length)
      const ra = a.reconcile(), rb = b.reconcile()
      const c = performance.now()
      const { rounds, bytes } = await run(ra, rb)
      assert.equal(sorted(ra.need), sorted(onlyB), 'a needs what only b has')
      assert.equal(sorted(ra.have), sorted(onlyA), 'a has what only a has')
      assert.equal(sorted(rb.need), sorted(onlyA), 'b needs what only a has')
      assert.equal(sorted(rb.have), sorted(onlyB), 'b has what only b has')
      assert.is(ra.stats.bytesSent + rb.stats.bytesSent, bytes)
      if (d === 0) assert.is(rounds, 1, 'equal sets settle at once')
      if (d === 1 && n === 100_000) assert.ok(rounds <= 4 && bytes <= 4096, `one difference: ${rounds} round trips, ${bytes} bytes`)
      console.log(`    n=${n} d=${d}: ${rounds} round trips, ${bytes} bytes (${ra.stats.bytesSent} a→b, ${rb.stats.bytesSent} b→a), ${Math.round(performance.now() - c)} ms`)
    }
    // sending what each lacks makes both the union
    await a.ingestMany(await Promise.all(extraIds.slice(EXTRAS / 2).map(async (id) => (await b.get(id))!.bytes)))
    await b.ingestMany(await Promise.all(extraIds.slice(0, EXTRAS / 2).map(async (id) => (await a.get(id))!.bytes)))
    await a.flush(); await b.flush()
    assert.is(await a.count(), n + EXTRAS)
    assert.is(await a.root(), await b.root())
    const again = await run(a.reconcile(), b.reconcile())
    assert.is(again.rounds, 1)
    console.log(`    n=${n}: stores built in ${Math.round(built)} ms, whole test ${Math.round(performance.now() - t)} ms`)
    await a.close(); await b.close()
  })
}

test('empty and tiny sides: everything one side has is pushed in 64 KiB frames', async () => {
  const cases: Array<[Uint8Array[], Uint8Array[]]> = [
    [[], []], [[], corpus], [corpus.slice(0, 5000), []], [corpus.slice(0, 1), corpus.slice(1, 2)], [corpus.slice(0, 3), corpus.slice(0, 20)],
  ]
  for (const [x, y] of cases) {
    const a = await storeWith(x), b = await storeWith(y)
    const ra = a.reconcile(), rb = b.reconcile()
    let frames = 0, largest = 0
    let msg: Uint8Array | undefined = await ra.open()
    while (msg) {
      frames++
      largest = Math.max(largest, msg.length)
      const reply: Uint8Array | undefined = await rb.receive(msg)
      if (!reply) break
      largest = Math.max(largest, reply.length)
      msg = await ra.receive(reply)
    }
    const idsOf = (list: Uint8Array[]) => new Set(list.map((e) => decodeEvent(e, { verify: false }).id))
    const inA = idsOf(x), inB = idsOf(y)
    assert.equal(sorted(ra.need), sorted([...inB].filter((id) => !inA.has(id))))
    assert.equal(sorted(ra.have), sorted([...inA].filter((id) => !inB.has(id))))
    assert.equal(sorted(rb.need), sorted(ra.have))
    assert.equal(sorted(rb.have), sorted(ra.need))
    assert.ok(largest <= 65_536, `a frame of ${largest} bytes`)
    if (x.length + y.length > 5000) assert.ok(frames > 1, 'a big one-sided set takes several frames')
    await a.close(); await b.close()
  }
})

test('subtrees: what a side lacks wholly is named, not listed; with the ids listed, the events under those nodes make the difference, each handed out once', async () => {
  const keyOf = (e: Uint8Array) => { const ev = decodeEvent(e, { verify: false }); const k = new Uint8Array(40); new DataView(k.buffer).setBigUint64(0, BigInt(ev.timestamp)); k.set(fromHex(ev.id), 8); return k }
  const hour = (e: Uint8Array) => Math.floor((decodeEvent(e, { verify: false }).timestamp - T0) / 3_600_000)
  const base = corpus.slice(0, 4000)
  const order = shuffle([...base.keys()], random)
  const notInA = new Set(order.slice(0, 50)), notInB = new Set(order.slice(50, 90))
  // A lacks hours 6–8 whole and 50 events elsewhere; B lacks 40 events
  const a1 = base.filter((e, i) => !notInA.has(i) && (hour(e) < 6 || hour(e) > 8)), b1 = base.filter((_, i) => !notInB.has(i))
  const cases: Array<{ x: Uint8Array[]; y: Uint8Array[]; from?: number; to?: number }> = [
    { x: [], y: corpus.slice(0, 3000) },
    { x: a1, y: b1 },
    { x: a1, y: b1, from: T0 + 3 * 3_600_000, to: T0 + 15 * 3_600_000 },
  ]
  for (const { x, y, from, to } of cases) {
    const a = await storeWith(x), b = await storeWith(y)
    const range = { ...(from !== undefined ? { from, to } : {}), subtrees: true }
    const ra = a.reconcile(range), rb = b.reconcile(range)
    const found = new Map([[ra, { need: [] as string[], have: [] as string[], needSubtrees: [] as Addr[], haveSubtrees: [] as Addr[] }], [rb, { need: [], have: [], needSubtrees: [], haveSubtrees: [] }]])
    const take = (r: Reconciliation) => { const f = r.takeFound(), g = found.get(r)!; for (const k of ['need', 'have', 'needSubtrees', 'haveSubtrees'] as const) (g[k] as unknown[]).push(...f[k]) }
    let msg: Uint8Array | undefined = await ra.open()
    take(ra)
    while (msg) {
      const reply: Uint8Array | undefined = await rb.receive(msg)
      take(rb)
      if (!reply) break
      msg = await ra.receive(reply)
      take(ra)
    }
    const inRange = (e: Uint8Array) => { const t = decodeEvent(e, { verify: false }).timestamp; return (from === undefined || t >= from) && (to === undefined || t < to) }
    const idsOf = (list: Uint8Array[]) => new Set(list.filter(inRange).map((e) => decodeEvent(e, { verify: false }).id))
    const inA = idsOf(x), inB = idsOf(y)
    const under = (list: Uint8Array[], nodes: Addr[]) => list.filter((e) => inRange(e) && nodes.some((n) => hasPrefix(keyOf(e), n))).map((e) => decodeEvent(e, { verify: false }).id)
    const fa = found.get(ra)!, fb = found.get(rb)!
    assert.equal(sorted([...fa.need, ...under(y, fa.needSubtrees)]), sorted([...inB].filter((id) => !inA.has(id))), 'a lacks: its ids and what b has under its subtrees')
    assert.equal(sorted([...fa.have, ...under(x, fa.haveSubtrees)]), sorted([...inA].filter((id) => !inB.has(id))), 'b lacks: likewise')
    assert.equal(under(x, fa.needSubtrees), [], 'a holds nothing under the subtrees it lacks')
    assert.equal(under(y, fa.haveSubtrees), [], 'b holds nothing under the subtrees a sends')
    assert.equal(sorted(fa.needSubtrees.map(nodeId)), sorted(fb.haveSubtrees.map(nodeId)))
    assert.equal(sorted(fa.haveSubtrees.map(nodeId)), sorted(fb.needSubtrees.map(nodeId)))
    assert.equal(fa.need, ra.need, 'takeFound hands out what need lists, each once, in order')
    assert.equal(fb.have, rb.have)
    if (x.length === 0) assert.ok(ra.stats.rounds === 1 && fa.needSubtrees.length === 1 && fa.need.length === 0, 'an empty side learns one subtree in one round trip')
    else assert.ok(fa.needSubtrees.length > 0 && fa.need.length > 0, 'both subtrees and listed ids')
    await a.close(); await b.close()
  }
  // A side that did not ask for subtrees refuses one
  const empty = await storeWith([]), full = await storeWith(corpus.slice(0, 100))
  const plain = empty.reconcile()
  const reply = await full.reconcile({ subtrees: true }).receive(await plain.open())
  try { await plain.receive(reply!); assert.unreachable('a SUBTREE to a plain session') } catch (e) { assert.ok(e instanceof XaeroError && e.code === 'E_BAD_MESSAGE', String(e)) }
  await empty.close(); await full.close()
})

test(`a side names at most ${MAX_SUBTREES} subtrees a reconciliation: one more is refused (E_BAD_MESSAGE) and changes nothing`, async () => {
  // The receiver keeps every node named until the sync ends (src/net/subtrees.ts): the cap bounds that.
  const db = await storeWith([])
  const r = db.reconcile({ subtrees: true })
  const { salt } = parseMessage(await r.open(), { from: r.from, to: r.to, outside: () => false })
  const perMessage = Math.floor((MAX_MESSAGE - 64) / 6) // a SUBTREE at 24 bits: 6 bytes
  let next = 0
  const named = (n: number) => encodeMessage(true, r.from, r.to, salt, Array.from({ length: n }, () => {
    const v = next++
    return encodeItem(SUBTREE, { bits: 24, prefix: new Uint8Array([v >> 16, (v >> 8) & 255, v & 255]) }, new Uint8Array(0))
  }))
  const refused = async (message: Uint8Array) => {
    try { await r.receive(message); return 'accepted' } catch (e) { return e instanceof XaeroError ? e.code : String(e) }
  }
  let accepted = 0
  while (accepted + perMessage <= MAX_SUBTREES) { assert.is(await refused(named(perMessage)), 'accepted'); accepted += perMessage }
  assert.is(await refused(named(perMessage)), 'E_BAD_MESSAGE', 'past the cap')
  assert.is(await refused(named(MAX_SUBTREES - accepted)), 'accepted', 'up to the cap, after the refused message')
  assert.is(await refused(named(1)), 'E_BAD_MESSAGE', 'one past the cap')
  assert.is(r.takeFound().needSubtrees.length, MAX_SUBTREES)
  await db.close()
})

test('nodeBounds: the keys under a node are those in [lo, hi)', () => {
  const minusOne = (key: Uint8Array) => { const k = key.slice(); for (let i = k.length - 1; i >= 0; i--) { if (k[i]-- !== 0) break } return k }
  const nodes: Array<[number, number[]]> = [[0, []], [3, [0b1010_0000]], [8, [0x7f]], [13, [0x12, 0x38]], [12, [0x01, 0xf0]], [7, [0xfe]], [16, [0xff, 0xff]], [320, Array(40).fill(0xab)]]
  for (const [bits, bytes] of nodes) {
    const addr = { bits, prefix: new Uint8Array(bytes) }
    const { lo, hi } = nodeBounds(addr)
    assert.ok(hasPrefix(lo, addr) && lo.length === 40 && !hasPrefix(minusOne(lo), addr) === (bits > 0 && lo.some((b) => b !== 0)), `lo of ${bits} bits`)
    const allOnes = bits > 0 && Array.from({ length: bits }, (_, i) => (bytes[i >> 3] >> (7 - (i & 7))) & 1).every((b) => b === 1)
    if (bits === 0 || allOnes) { assert.is(hi, undefined, `no key past ${bits} bits of ones`); continue }
    assert.ok(hi && hi.length === 40 && !hasPrefix(hi, addr) && hasPrefix(minusOne(hi), addr), `hi of ${bits} bits`)
  }
})

test('a time-limited reconciliation covers only its range', async () => {
  const order = shuffle([...corpus.keys()], random)
  const onlyA = order.slice(0, 300)
  const a = await storeWith(corpus)
  const b = await storeWith(corpus.filter((_, i) => !onlyA.includes(i)))
  const from = T0 + 6 * 3_600_000, to = T0 + 12 * 3_600_000
  const ra = a.reconcile({ from, to }), rb = b.reconcile({ from, to })
  await run(ra, rb)
  const expected = onlyA.filter((i) => { const t = decodeEvent(corpus[i], { verify: false }).timestamp; return t >= from && t < to }).map((i) => ids[i])
  assert.ok(expected.length > 0 && expected.length < 300)
  assert.equal(sorted(ra.have), sorted(expected))
  assert.equal(ra.need, [])
  assert.equal(sorted(rb.need), sorted(expected))
  // the two sides must agree on the range
  await assert.not.throws(() => undefined)
  const other = b.reconcile({ from, to: to + 1 })
  try { await other.receive(await a.reconcile({ from, to }).open()); assert.unreachable('ranges differ') } catch (e) { assert.ok(e instanceof XaeroError && e.code === 'E_BAD_MESSAGE') }
  await a.close(); await b.close()
})

test('fuzz: malformed messages are E_BAD_MESSAGE, never a crash', async () => {
  // differences both ways and a one-sided stretch, so that every item type occurs
  const a = await storeWith([...corpus.slice(0, 2000), ...extras.slice(0, 30)])
  const b = await storeWith([...corpus.slice(0, 1990), ...extras.slice(100, 130)])
  const fuzz = rng(31)
  // real messages of a conversation, to mutate; each with the state of the side that received it
  const samples: Array<{ message: Uint8Array; index: number }> = []
  const conversation = async (upTo = Infinity) => {
    const ra = a.reconcile(), rb = b.reconcile()
    const sides = [rb, ra]
    const messages: Uint8Array[] = []
    let msg: Uint8Array | undefined = await ra.open()
    while (msg && messages.length < upTo) {
      messages.push(msg)
      msg = await sides[(messages.length - 1) % 2].receive(msg)
    }
    return { messages, receiver: sides[messages.length % 2] }
  }
  const { messages } = await conversation()
  messages.forEach((message, index) => samples.push({ message, index }))
  // the documented format (docs/SYNC.md): every item type occurs, and the items fill each message exactly
  const types = new Set<number>()
  for (const m of messages) {
    const dv = new DataView(m.buffer, m.byteOffset, m.byteLength)
    assert.is(m[0], 2)
    let at = 28
    for (let i = dv.getUint16(26); i > 0; i--) {
      const type = m[at], bits = dv.getUint16(at + 1)
      at += 3 + Math.ceil(bits / 8)
      const n = dv.getUint16(at)
      at += 2
      if (type === 2) {
        let leaves = 0
        for (let j = 0; j < n; j++) if (((m[at + (j >> 2)] >> (6 - 2 * (j & 3))) & 3) === 0) leaves++
        at += Math.ceil(n / 4) + leaves * 8 // the whole range: no part is outside it
      } else if (type === 4) at += Math.ceil(n / 8)
      else at += n * (40 - (bits >> 3))
      types.add(type)
    }
    assert.is(at, m.length)
  }
  assert.equal([...types].sort(), [2, 3, 4, 5], 'SPLIT, KEYS, ANSWER and PUSH all occur')
  assert.ok(messages.length >= 3, 'a conversation of several messages')
  let rejected = 0, accepted = 0
  const mutate = (base: Uint8Array) => {
    let m = base.slice()
    const op = Math.floor(fuzz() * 5)
    if (op === 0) m[Math.floor(fuzz() * m.length)] ^= 1 << Math.floor(fuzz() * 8)
    else if (op === 1) m = m.subarray(0, Math.floor(fuzz() * m.length))
    else if (op === 2) m = Uint8Array.from({ length: Math.floor(fuzz() * 200) }, () => Math.floor(fuzz() * 256))
    else if (op === 3) for (let k = 0; k < 6; k++) m[Math.floor(fuzz() * m.length)] = Math.floor(fuzz() * 256)
    else { const at = 28 + Math.floor(fuzz() * (m.length - 28)); m[at] = Math.floor(fuzz() * 256) } // past the header
    return m
  }
  const attempt = async (side: Reconciliation, m: Uint8Array) => {
    try {
      await side.receive(m)
      accepted++
    } catch (e) {
      if (!(e instanceof XaeroError) || e.code !== 'E_BAD_MESSAGE') throw e
      rejected++
    }
  }
  // to a fresh side
  for (let i = 0; i < 3000; i++) await attempt(b.reconcile(), mutate(samples[i % samples.length].message))
  // to the side that received the message, in the state it was in
  for (let i = 0; i < 200; i++) {
    const { index, message } = samples[i % samples.length]
    const { receiver } = await conversation(index)
    await attempt(receiver, mutate(message))
  }
  assert.ok(rejected > 2000, `${rejected} rejected`)
  assert.ok(accepted > 0, 'some mutations are still messages')
  try { await b.reconcile().receive(new Uint8Array(70_000)); assert.unreachable() } catch (e) { assert.ok(e instanceof XaeroError && e.code === 'E_BAD_MESSAGE') }
  console.log(`    fuzz: ${rejected} rejected, ${accepted} accepted, ${messages.length} messages in the conversation`)
  await a.close(); await b.close()
})

test.run()
