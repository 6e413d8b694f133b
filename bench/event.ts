// Event decoding of 200-byte-payload envelopes: the raw core export (what the ingest pipeline
// runs: structure, id and key, no signatures), the public decodeEvents without signature
// checks (adds copies in and out and one Event object per envelope), and with them.
import { defaultRuntime } from '../src/core/default.js'
import { EVENT_DESCRIPTOR_SIZE, KEY_SIZE } from '../src/core/exports.js'
import { decodeEvents, encodeEvent, Event } from '../src/event.js'
import { groupId } from '../src/group.js'
import { Identity } from '../src/identity.js'
import { check, equalBytes, measure, round } from './util.js'

const runtime = defaultRuntime()

const { core, map } = runtime

const EVENTS = 20_000
/** Signature checks run ~16k/s per core: a smaller slice keeps that case within its time box. */
const VERIFIED = 2_000

function envelopes(n: number): Uint8Array[] {
  const identity = Identity.generate()
  const group = groupId('bench')
  const start = Date.now() - 24 * 3600 * 1000 // in the past: no timestamp-skew rejections
  // Distinct timestamps make distinct ids, as a real stream would have.
  return Array.from({ length: n }, (_, i) =>
    encodeEvent({ kind: 1, payload: new Uint8Array(200), group, timestamp: start + i }, identity))
}

/** The raw path: envelopes copied into the shared memory once, then only the decode is timed. */
function rawDecode(list: Uint8Array[], firstKey: Uint8Array): number {
  const n = list.length
  const bytes = list.reduce((sum, b) => sum + b.length, 0)
  const region = map.alloc(n * 8 + n * EVENT_DESCRIPTOR_SIZE + bytes)
  const table = region, out = table + n * 8, data = out + n * EVENT_DESCRIPTOR_SIZE
  try {
    const u8 = core.u8, dv = core.dv
    for (let i = 0, at = data; i < n; i++) {
      u8.set(list[i], at)
      dv.setUint32(table + i * 8, at, true)
      dv.setUint32(table + i * 8 + 4, list[i].length, true)
      at += list[i].length
    }
    const decode = () => core.exports.decodeEvents(table, n, out, 0, 1 << 20, 1e15)
    check(decode() === n, 'raw decodeEvents accepts every envelope')
    check(equalBytes(core.u8.subarray(out + 24, out + 24 + KEY_SIZE), firstKey), 'raw and public decode give the same key')
    return measure(decode, n)
  } finally {
    map.release(region)
  }
}

export function eventBench() {
  const list = envelopes(EVENTS)
  const decoded = decodeEvents(list, { verify: false })
  check(decoded.every((d) => d instanceof Event), 'public decodeEvents accepts every envelope')
  const firstKey = (decoded[0] as Event).key
  const verified = list.slice(0, VERIFIED)
  check(decodeEvents(verified).every((d) => d instanceof Event), 'every signature verifies')

  const rawPerSec = rawDecode(list, firstKey)
  return {
    rawPerSec,
    results: {
      payloadBytes: 200,
      envelopes: EVENTS,
      rawCoreNoVerifyPerSec: round(rawPerSec),
      publicNoVerifyPerSec: round(measure(() => decodeEvents(list, { verify: false }), EVENTS)),
      publicVerifyPerSec: round(measure(() => decodeEvents(verified), VERIFIED)),
    },
  }
}
