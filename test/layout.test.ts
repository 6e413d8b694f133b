import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ClassicLevel } from 'classic-level'
import { Xaeroflux, Identity, decodeEvent, groupId } from '../src/index.js'
import { tempDir } from './helpers/store.js'

test('a plain classic-level opens the folder and reads the raw events (docs/STORAGE.md)', async () => {
  const { dir, remove } = tempDir()
  try {
    const db = await Xaeroflux.open({ path: dir, group: 'layout', identity: Identity.generate(), workers: 0 })
    const appended = []
    for (let i = 0; i < 50; i++) appended.push(await db.append({ kind: i % 3, payload: `event ${i}` }))
    await db.close()

    const plain = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' })
    const prefix = new TextEncoder().encode('!events!')
    const end = new TextEncoder().encode('!events"')
    const seen: string[] = []
    for await (const [key, value] of plain.iterator({ gte: prefix, lt: end })) {
      const event = decodeEvent(value, { group: groupId('layout') })
      assert.equal(new Uint8Array(key.subarray(prefix.length)), event.key)
      seen.push(event.id)
    }
    await plain.close()
    assert.equal(seen, appended.slice().sort((a, b) => Buffer.compare(a.key, b.key)).map((e) => e.id))
  } finally {
    remove()
  }
})

test('reopening gives the same events, count and order; another group is refused', async () => {
  const { dir, remove } = tempDir()
  try {
    const me = Identity.generate()
    let db = await Xaeroflux.open({ path: dir, group: 'layout', identity: me, workers: 0 })
    for (let i = 0; i < 20; i++) await db.append({ kind: 1, payload: `e${i}` })
    await db.close()
    db = await Xaeroflux.open({ path: dir, group: 'layout', identity: me, workers: 0 })
    assert.is(await db.count(), 20)
    await db.close()
    try {
      await Xaeroflux.open({ path: dir, group: 'another', workers: 0 })
      assert.unreachable('opened a store of another group')
    } catch (e) {
      assert.is((e as { code?: string }).code, 'E_STORE_MISMATCH')
    }
  } finally {
    remove()
  }
})

test('closing a store returns its memory: page cache, slots, workspaces', async () => {
  const runtime = (await import('../src/core/default.js')).defaultRuntime()
  const before = runtime.map.used
  const me = Identity.generate()
  const db = await Xaeroflux.open({ group: 'memory', identity: me, workers: 2 })
  for (let i = 0; i < 300; i++) await db.append({ kind: 1, payload: `m${i}` })
  await db.flush()
  await db.prove((await db.range({ limit: 1 }).next()).value!.id)
  assert.ok(runtime.map.used > before)
  await db.close()
  assert.is(runtime.map.used, before)
})

test.run()
