// The pacer that the reconciliations of one store share (src/sync/pacer.ts).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { PACE_MS, Pacer } from '../src/sync/pacer.js'

const busy = (ms: number) => { const end = performance.now() + ms; while (performance.now() < end) { /* working */ } }

test('steps are timed from the last turn of the event loop; all sessions over the time share one pause, which lets the loop run and starts the count again', async () => {
  const pacer = new Pacer()
  pacer.turned()
  assert.not.ok(pacer.spent, 'fresh from a turn')
  busy(PACE_MS + 0.5)
  assert.ok(pacer.spent, `after ${PACE_MS + 0.5} ms of work`)
  const first = pacer.pause()
  assert.is(pacer.pause(), first, 'a second session over the time joins the same pause')
  pacer.turned() // a read that resolves (or a message that arrives) during the pause does not end it
  assert.ok(pacer.spent, 'still spent while the pause is under way')
  let ran = false
  setImmediate(() => { ran = true })
  await first
  assert.ok(ran, 'the event loop ran during the pause')
  assert.not.ok(pacer.spent, 'the count starts again after the pause')
  busy(PACE_MS + 0.5)
  assert.is.not(pacer.pause(), first, 'a later pause is a new one')
})

test.run()
