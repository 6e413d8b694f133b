// The logger given to libp2p (src/net/logger.ts): libp2p's own for the namespaces DEBUG enables,
// a cheap silent one for the rest.
import { disable, enable } from '@libp2p/logger'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { libp2pLogger } from '../src/net/logger.js'

/** What `fn` writes to stderr (weald's output in Node). */
function stderrOf(fn: () => void): string {
  const write = process.stderr.write
  let out = ''
  process.stderr.write = ((chunk: string | Uint8Array) => { out += String(chunk); return true }) as typeof process.stderr.write
  try { fn() } finally { process.stderr.write = write }
  return out
}

test.after(() => disable())

test('a namespace DEBUG does not enable gets a silent logger that is not a weald instance, and so do its scopes', () => {
  disable()
  const log = libp2pLogger.forComponent('xf-test:quiet')
  const scoped = log.newScope('stream:1')
  assert.is(log.enabled, false)
  assert.is(scoped.enabled, false)
  assert.is(stderrOf(() => { log('a'); log.error('b'); log.trace('c'); scoped('d') }), '')
  // weald's instances carry their namespace: made for a disabled name, they cost 10–30 µs each.
  assert.is((log as { namespace?: string }).namespace, undefined)
  assert.is((scoped as { namespace?: string }).namespace, undefined)
})

test('an enabled namespace logs as with libp2p\'s default logger, also when reached through a silent parent\'s scope', () => {
  enable('xf-test:loud*,xf-test:parent:child*')
  const loud = libp2pLogger.forComponent('xf-test:loud')
  assert.ok(loud.enabled)
  assert.match(stderrOf(() => loud('hello %s', 'there')), /xf-test:loud hello there/)
  const parent = libp2pLogger.forComponent('xf-test:parent')
  assert.is(parent.enabled, false)
  const child = parent.newScope('child')
  assert.ok(child.enabled)
  assert.match(stderrOf(() => child('from the child')), /xf-test:parent:child from the child/)
})

test('a namespace with only its error channel enabled logs its errors', () => {
  enable('xf-test:errors:error')
  const log = libp2pLogger.forComponent('xf-test:errors')
  assert.is(log.enabled, false)
  assert.is(stderrOf(() => log('not shown')), '')
  assert.match(stderrOf(() => log.error('shown')), /xf-test:errors:error shown/)
})

test.run()
