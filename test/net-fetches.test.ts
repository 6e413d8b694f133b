// Which peer an announced event is fetched from (src/net/fetches.ts): once, from the first peer
// that announced it; from the next one when the first does not serve it in time or goes away.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { FALLBACKS, FETCHES_PER_PEER, Fetches } from '../src/net/fetches.js'

const ids = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}-${i}`)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const open = () => true

test('an id is fetched once, from the first peer that announced it, and not when held or arrived', () => {
  const held = new Set(['x-0'])
  const f = new Fetches((id) => held.has(id))
  assert.equal(f.claim(['x-0', 'x-1', 'x-2'], 'p'), ['x-1', 'x-2'])
  assert.equal(f.claim(['x-1', 'x-2', 'x-3'], 'q'), ['x-3'], 'pending from p: only the new one from q')
  assert.equal(f.claim(['x-1'], 'p'), [], 'announced again by the same peer')
  assert.is(f.size, 3)
  f.arrived(['x-1', 'x-3', 'unknown'])
  assert.is(f.size, 1)
  assert.equal(f.reassign(open, 'p'), { fetch: new Map([['q', ['x-2']]]), repair: new Set() }, "p's session closed: x-2 goes to q, which announced it too")
  assert.equal(f.reassign(open, 'q'), { fetch: new Map(), repair: new Set() }, 'no one else announced it: given up, and q is gone')
  assert.is(f.size, 0)
})

test('a fetch past its time goes to the next peer that announced it and has a session; fallbacks are bounded', async () => {
  const f = new Fetches(() => false, 30)
  f.claim(['y'], 'liar')
  for (const p of ['closed', 'q', 'r', 's', 't']) f.claim(['y'], p)
  const none = { fetch: new Map(), repair: new Set() }
  assert.equal(f.reassign(open), none, 'not yet past its time')
  await sleep(40)
  assert.equal(f.reassign((p) => p !== 'closed'), { fetch: new Map([['q', ['y']]]), repair: new Set() }, 'the first fallback with a session')
  await sleep(40)
  assert.equal(f.reassign(open), { fetch: new Map([['r', ['y']]]), repair: new Set() })
  await sleep(40)
  assert.equal(f.reassign(open), { fetch: new Map(), repair: new Set(['r']) }, `at most ${FALLBACKS} fallbacks (s and t were not kept): given up, and a sync with r, asked last`)
  assert.is(f.size, 0)
  f.claim(['w'], 'gone')
  await sleep(40)
  assert.equal(f.reassign((p) => p !== 'gone'), none, 'no sync with a peer whose session closed')
})

test('a peer holds at most FETCHES_PER_PEER pending fetches: what it announces past them is not fetched from it', () => {
  const f = new Fetches(() => false)
  assert.is(f.claim(ids(FETCHES_PER_PEER + 10, 'z'), 'flood').length, FETCHES_PER_PEER)
  assert.equal(f.claim(['z-honest'], 'flood'), [])
  assert.equal(f.claim(['z-honest'], 'honest'), ['z-honest'], 'another peer is not held up by it')
  f.arrived(['z-0'])
  assert.equal(f.claim(['z-more'], 'flood'), ['z-more'], 'room again once one arrived')
})

test.run()
