// Faults the disk and the files can cause, injected through the real filesystem: each is an
// XaeroError with a code and a cause, never a hang, never a lost acknowledged event, and a failed
// open leaves nothing behind. Each test here failed on 2acba3e.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { chmodSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Level } from 'level'
import { Identity, Xaeroflux, encodeEvent, groupId } from '../src/index.js'
import { Wal } from '../src/store/wal.js'
import { tempDir } from './helpers/store.js'
import { isCode, rejection, within } from './helpers/watchdog.js'

const GROUP = 'faults'
const me = Identity.fromSecretKey(new Uint8Array(32).fill(3))
const HOLDER = fileURLToPath(new URL('./fixtures/store-holder.js', import.meta.url))

async function withStore<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const { dir, remove } = tempDir()
  try {
    return await fn(dir)
  } finally {
    remove()
  }
}

/** A store at `dir` with a few events, closed. */
async function seed(dir: string, n = 10): Promise<string[]> {
  const db = await Xaeroflux.open({ path: dir, group: GROUP, identity: me, workers: 0 })
  const ids: string[] = []
  for (let i = 0; i < n; i++) ids.push((await db.append({ kind: 1, payload: `seed ${i}` })).id)
  await db.close()
  return ids
}

test('a path that is a file: E_IO with the cause', async () => {
  await withStore(async (dir) => {
    const file = join(dir, 'not-a-folder')
    writeFileSync(file, 'x')
    const e = await rejection(() => Xaeroflux.open({ path: file, group: GROUP }), 'open on a file')
    assert.ok(isCode('E_IO')(e), String(e))
    assert.ok((e as Error).cause, 'the LevelDB error is the cause')
  })
})

test('a store held by another process: E_LOCKED; held by another store in this process: E_LOCKED', async () => {
  await withStore(async (dir) => {
    await seed(dir)
    const child = spawn(process.execPath, [HOLDER, dir, GROUP], { stdio: ['pipe', 'pipe', 'inherit'] })
    try {
      await within(new Promise<void>((resolve, reject) => {
        child.stdout.once('data', () => resolve())
        child.once('exit', (code) => reject(new Error(`the holder exited with ${code}`)))
      }), 'the holder opening the store')
      const e = await rejection(() => Xaeroflux.open({ path: dir, group: GROUP }), 'open while another process holds it')
      assert.ok(isCode('E_LOCKED')(e), String(e))
    } finally {
      child.stdin.end()
      await new Promise((resolve) => child.once('exit', resolve))
    }
    const db = await Xaeroflux.open({ path: dir, group: GROUP, workers: 0 })
    try {
      assert.ok(isCode('E_LOCKED')(await rejection(() => Xaeroflux.open({ path: dir, group: GROUP }), 'a second open in this process')))
    } finally {
      await db.close()
    }
  })
})

test('a read-only store folder: E_IO, and the store opens again once writable', async () => {
  await withStore(async (dir) => {
    const ids = await seed(dir)
    const readOnly = await makeReadOnly(dir)
    try {
      const e = await rejection(() => Xaeroflux.open({ path: dir, group: GROUP }), 'open read-only')
      assert.ok(isCode('E_IO')(e), String(e))
      assert.ok((e as Error).cause, 'with a cause')
    } finally {
      await readOnly.undo()
    }
    const db = await Xaeroflux.open({ path: dir, group: GROUP, workers: 0 })
    assert.is(await db.count(), ids.length)
    await db.close()
  })
})

test('a corrupt MANIFEST: E_CORRUPT_STORE', async () => {
  await withStore(async (dir) => {
    await seed(dir)
    const manifest = readdirSync(dir).find((n) => n.startsWith('MANIFEST-'))!
    writeFileSync(join(dir, manifest), 'not a manifest, not at all')
    const e = await rejection(() => Xaeroflux.open({ path: dir, group: GROUP }), 'open with a corrupt MANIFEST')
    assert.ok(isCode('E_CORRUPT_STORE')(e), String(e))
  })
})

test('a corrupt LevelDB table: E_CORRUPT_STORE, not a raw LevelDB error', async () => {
  await withStore(async (dir) => {
    await seed(dir, 50)
    // Move everything from LevelDB's log into a table file, then zero its footer (the index handle and magic number).
    const raw = new Level(dir)
    await raw.open()
    await (raw as unknown as { compactRange(a: string, b: string): Promise<void> }).compactRange('\x00', '\xff')
    await raw.close()
    const tables = readdirSync(dir).filter((n) => n.endsWith('.ldb'))
    assert.ok(tables.length > 0, 'a table was written')
    for (const t of tables) {
      const path = join(dir, t), bytes = readFileSync(path)
      bytes.fill(0, bytes.length - 48)
      writeFileSync(path, bytes)
    }
    const e = await rejection(async () => {
      const db = await Xaeroflux.open({ path: dir, group: GROUP, workers: 0 })
      try {
        for await (const _ of db.range()) void _
      } finally {
        await db.close()
      }
    }, 'open and read a store with a corrupt table')
    assert.ok(isCode('E_CORRUPT_STORE')(e), String(e))
  })
})

test('truncated meta entries: E_CORRUPT_STORE, never a number read past the end', async () => {
  for (const entry of ['count', 'wal', 'root', 'version', 'group']) {
    await withStore(async (dir) => {
      await seed(dir)
      const raw = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' })
      const meta = raw.sublevel<Uint8Array, Uint8Array>('meta', { keyEncoding: 'view', valueEncoding: 'view' })
      const key = new TextEncoder().encode(entry)
      const value = (await meta.get(key))!
      await meta.put(key, value.subarray(0, Math.max(0, value.length - 3)))
      await raw.close()
      const e = await rejection(() => Xaeroflux.open({ path: dir, group: GROUP }), `open with a truncated '${entry}'`)
      assert.ok(isCode('E_CORRUPT_STORE')(e), `${entry}: ${e}`)
      // and the failed open let the store go: a plain LevelDB can open it again
      const again = new Level(dir)
      await again.open()
      await again.close()
    })
  }
})

test('a stored event that does not decode is E_CORRUPT_EVENT, never returned as an event', async () => {
  await withStore(async (dir) => {
    const ids = await seed(dir)
    const raw = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' })
    const events = raw.sublevel<Uint8Array, Uint8Array>('events', { keyEncoding: 'view', valueEncoding: 'view' })
    const [key, value] = (await events.iterator({ limit: 1 }).all())[0]
    await events.put(key, value.subarray(0, value.length - 10))
    await raw.close()
    const db = await Xaeroflux.open({ path: dir, group: GROUP, workers: 0 })
    try {
      const id = Buffer.from(key.subarray(8)).toString('hex')
      assert.ok(ids.includes(id))
      assert.ok(isCode('E_CORRUPT_EVENT')(await rejection(() => db.get(id), 'get')), 'get')
      assert.ok(isCode('E_CORRUPT_EVENT')(await rejection(async () => { for await (const _ of db.range()) void _ }, 'range')), 'range')
      assert.ok(isCode('E_CORRUPT_EVENT')(await rejection(async () => { for await (const _ of db.range({ author: me.publicKey })) void _ }, 'range by author')), 'range by author')
    } finally {
      await db.close()
    }
  })
})

test('a failed open releases the store: the same path opens at once afterwards', async () => {
  await withStore(async (dir) => {
    await seed(dir)
    const e = await rejection(() => Xaeroflux.open({ path: dir, group: 'another group' }), 'open as another group')
    assert.ok(isCode('E_STORE_MISMATCH')(e), String(e))
    const db = await within(Xaeroflux.open({ path: dir, group: GROUP }), 'open after a failed open')
    await db.close()
  })
})

test('replay keeps an event acknowledged under a larger maxPayload when reopened with the default', async () => {
  await withStore(async (dir) => {
    await seed(dir, 1)
    // The state a crash leaves: the event is in the log, not yet in LevelDB.
    const big = encodeEvent({ kind: 1, group: groupId(GROUP), payload: new Uint8Array(1_500_000).fill(7) }, me, { maxPayload: 2_000_000 })
    const wal = await Wal.open(join(dir, 'wal'), 'sync')
    await wal.replay({ segment: 1, offset: 0 }, () => {})
    await wal.appendMany([big])
    await wal.close()
    const db = await Xaeroflux.open({ path: dir, group: GROUP, workers: 0 })
    try {
      assert.equal(db.recovery.corrupt, [], 'nothing reported corrupt')
      assert.is(await db.count(), 2, 'the large event is indexed, not dropped')
      const id = (await db.ingestMany([big]))[0]
      assert.ok(id instanceof Error, 'a new ingest of it is still refused under the default limit')
    } finally {
      await db.close()
    }
  })
})

test('a WAL write that fails (a segment on /dev/full): E_IO for exactly what it carried, one result per envelope, and close still completes', async () => {
  await withStore(async (dir) => {
    await seed(dir, 1)
    const db = await Xaeroflux.open({ path: dir, group: GROUP, identity: me, workers: 0 })
    // The segment the next write opens is a device that is always full.
    const segment = (db as unknown as { wal: Wal }).wal.position().segment
    const full = join(dir, 'wal', `${String(segment).padStart(16, '0')}.wal`)
    symlinkSync('/dev/full', full)
    const other = Identity.generate()
    const envelopes = [0, 1, 2].map((i) => encodeEvent({ kind: 1, group: groupId(GROUP), payload: `lost ${i}` }, other))
    const results = await within(db.ingestMany(envelopes), 'ingestMany on a full disk')
    assert.is(results.length, 3)
    for (const r of results) {
      assert.ok(isCode('E_IO')(r), String(r))
      assert.is(((r as Error).cause as { code?: string }).code, 'ENOSPC')
    }
    // The log moves on past the device: a later append is acknowledged and kept.
    const kept = await within(db.append({ kind: 1, payload: 'kept' }), 'an append after the fault')
    await within(db.close(), 'close after a failed write')
    rmSync(full, { force: true }) // (the log may have let the segment go already)
    const again = await within(Xaeroflux.open({ path: dir, group: GROUP, workers: 0 }), 'reopen')
    try {
      assert.ok(await again.get(kept.id), 'the acknowledged append is there')
      assert.is(await again.count(), 2)
    } finally {
      await again.close()
    }
  })
})

/** Makes `dir` read-only: a read-only bind mount as root (who ignores modes), else mode 0555. */
async function makeReadOnly(dir: string): Promise<{ undo(): Promise<void> }> {
  if (process.getuid?.() === 0) {
    await run('mount', ['--bind', dir, dir])
    await run('mount', ['-o', 'remount,bind,ro', dir])
    return { undo: () => run('umount', [dir]) }
  }
  chmodSync(dir, 0o555)
  return { undo: async () => chmodSync(dir, 0o755) }
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'inherit' })
    child.once('error', reject)
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited with ${code}`))))
  })
}

test.run()
