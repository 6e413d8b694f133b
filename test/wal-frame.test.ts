import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { randomBytes } from 'node:crypto'
import { frameRecords, scanFrames, findNextFrame } from '../src/index.js'
import { rng } from './helpers/keys.js'

const random = rng(3)
const records = Array.from({ length: 12 }, (_, i) => ({ type: 1 + (i % 3), payload: randomBytes(Math.floor(random() * 300)) }))
const framed = frameRecords(records)
const ends = records.reduce<number[]>((acc, r) => [...acc, (acc.at(-1) ?? 0) + 9 + r.payload.length], [])

test('frames round-trip', () => {
  const scan = scanFrames(framed)
  assert.is(scan.status, 'end')
  assert.is(scan.stop, framed.length)
  assert.is(scan.records.length, records.length)
  scan.records.forEach((r, i) => {
    assert.is(r.type, records[i].type)
    assert.equal(framed.subarray(r.offset + 9, r.offset + 9 + r.length), new Uint8Array(records[i].payload))
  })
  assert.equal(scanFrames(new Uint8Array(0)), { records: [], status: 'end', stop: 0 })
})

test('every truncation is a torn tail, with every whole record before it kept', () => {
  for (let cut = 0; cut < framed.length; cut++) {
    const scan = scanFrames(framed.subarray(0, cut))
    const whole = ends.filter((e) => e <= cut).length
    assert.is(scan.records.length, whole, `cut at ${cut}`)
    assert.is(scan.stop, whole === 0 ? 0 : ends[whole - 1])
    assert.is(scan.status, scan.stop === cut ? 'end' : 'torn')
  }
})

test('every flipped bit is detected at its record, and the records before it are kept', () => {
  for (let at = 0; at < framed.length; at++) {
    for (const bit of [0, 3, 7]) {
      const bad = framed.slice()
      bad[at] ^= 1 << bit
      const scan = scanFrames(bad)
      const hit = ends.findIndex((e) => e > at)
      assert.ok(scan.status !== 'end', `flip at ${at}`)
      assert.is(scan.records.length, hit, `flip at ${at} keeps the ${hit} records before it`)
      assert.is(scan.stop, hit === 0 ? 0 : ends[hit - 1])
    }
  }
})

test('a zero-filled region is corrupt, and scanning resumes at the next valid record', () => {
  const bad = framed.slice()
  bad.fill(0, ends[3], ends[5])
  const scan = scanFrames(bad)
  assert.is(scan.status, 'corrupt')
  assert.is(scan.stop, ends[3])
  assert.is(findNextFrame(bad, scan.stop), ends[5])
  assert.is(scanFrames(bad, ends[5]).records.length, records.length - 6)
  assert.is(findNextFrame(new Uint8Array(100), 0), -1)
})

test('record types must be 1..255', () => {
  assert.throws(() => frameRecords([{ type: 0, payload: new Uint8Array(1) }]), (e: unknown) => e instanceof RangeError)
})

test.run()
