// The examples in examples/ run to the end, as a reader would run them: the README's quick
// start is one of them, so it cannot rot.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const example = (name: string) => fileURLToPath(new URL(`../examples/${name}.js`, import.meta.url))

test('examples/quick-start: two peers sync, push live, agree on the root, and prove an event', () => {
  const run = spawnSync(process.execPath, [example('quick-start')], { encoding: 'utf8', timeout: 60_000 })
  assert.is(run.status, 0, `exit ${run.status}: ${run.stderr}`)
  assert.match(run.stdout, /bob synced with alice: [01] event\(s\) received/)
  assert.match(run.stdout, /bob received live: "hello, bob"/)
  assert.match(run.stdout, /bob has 2 events; same root on both: true/)
  assert.match(run.stdout, /bob proves alice's event against his root: true/)
})

test.run()
