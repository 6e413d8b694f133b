// Opening the store's LevelDB and reading its meta entries, with every failure the disk can
// cause turned into an XaeroError (docs/ERRORS.md): the path is a file, another process holds
// the store, the folder is read-only, a MANIFEST or table is corrupt, a meta entry is truncated.
import { Level } from 'level'
import { MemoryLevel } from 'memory-level'
import { readU64, u64 } from '../bytes.js'
import { XaeroError } from '../errors.js'
import { toHex } from '../hex.js'
import { EMPTY, LEAF, PAGE } from '../merkle/pages.js'
import { FORMAT_VERSION, META_COUNT, META_GROUP, META_ROOT, META_UNINDEXED, META_VERSION, META_WAL, SUBLEVELS } from './layout.js'
import type { DB, Sub } from './queries.js'
import type { WalPosition } from './wal.js'

type Bytes = Uint8Array

/**
 * LevelDB's memtable (classic-level; IndexedDB has none): 16 MiB, not the default 4. A store that
 * appends without pause spends most of its LevelDB time compacting, and fewer, larger level-0
 * files cut that by a third (measured: 7.5 → 5.4 µs of CPU per event over 1M appends), for at most
 * two such buffers in memory at once.
 */
const WRITE_BUFFER_SIZE = 16 << 20

export type Sublevels = Record<keyof typeof SUBLEVELS, Sub>

/** Opens the database at `path` (in memory without one) and its sublevels. */
export async function openLevel(path: string | undefined): Promise<{ db: DB; sub: Sublevels }> {
  const db = (path === undefined
    ? new MemoryLevel<Bytes, Bytes>({ keyEncoding: 'view', valueEncoding: 'view' })
    : new Level<Bytes, Bytes>(path, { keyEncoding: 'view', valueEncoding: 'view', writeBufferSize: WRITE_BUFFER_SIZE })) as unknown as DB
  try {
    await db.open()
  } catch (e) {
    throw levelError(e, `cannot open the store at ${path}`)
  }
  const sub = Object.fromEntries(Object.entries(SUBLEVELS).map(([k, name]) =>
    [k, db.sublevel<Bytes, Bytes>(name, { keyEncoding: 'view', valueEncoding: 'view' })])) as Sublevels
  return { db, sub }
}

/**
 * A LevelDB failure as an XaeroError: E_LOCKED (another process or store holds it),
 * E_CORRUPT_STORE (LevelDB found corruption), else E_IO; the LevelDB error is the cause.
 */
export function levelError(e: unknown, what: string): unknown {
  if (e instanceof XaeroError || !(e instanceof Error)) return e
  const codes = [(e as { code?: string }).code, ((e as { cause?: { code?: string } }).cause)?.code]
  const detail = e.cause instanceof Error ? e.cause.message : e.message
  if (codes.includes('LEVEL_LOCKED')) return new XaeroError('E_LOCKED', `${what}: another process (or store) has it open`, { cause: e })
  if (codes.includes('LEVEL_CORRUPTION')) return new XaeroError('E_CORRUPT_STORE', `${what}: ${detail}`, { cause: e })
  if (codes.some((c) => c?.startsWith('LEVEL_') || c?.startsWith('E'))) return new XaeroError('E_IO', `${what}: ${detail}`, { cause: e })
  return e
}

/** What the meta entries say about a store opened before. */
export interface StoredState {
  count: number
  /** The Merkle root slot as stored (tree.setRoot reads it). */
  root?: Uint8Array
  /** Where WAL replay starts. */
  checkpoint: WalPosition
  /** Written without the Merkle index: it must be rebuilt. */
  unindexed: boolean
}

/**
 * Checks the store's format and group (writing them into a new store), and reads its meta
 * entries; a meta entry of the wrong size is E_CORRUPT_STORE, never a number read out of bounds.
 */
export async function readState(meta: Sub, group: Uint8Array): Promise<StoredState> {
  const [version, storedGroup, count, root, wal, unindexed] = await meta.getMany([META_VERSION, META_GROUP, META_COUNT, META_ROOT, META_WAL, META_UNINDEXED])
  if (version === undefined) {
    await meta.batch([{ type: 'put', key: META_VERSION, value: u64(FORMAT_VERSION) }, { type: 'put', key: META_GROUP, value: group }])
  } else {
    sized(version, 8, 'version')
    if (readU64(version) !== FORMAT_VERSION) throw new XaeroError('E_STORE_MISMATCH', `store format ${readU64(version)}, this version reads ${FORMAT_VERSION}`)
    if (storedGroup === undefined) throw corrupt('group', 'missing')
    sized(storedGroup, 32, 'group')
    if (toHex(storedGroup) !== toHex(group)) throw new XaeroError('E_STORE_MISMATCH', 'the store belongs to another group')
  }
  if (count !== undefined) sized(count, 8, 'count')
  if (wal !== undefined) sized(wal, 16, 'wal')
  if (root !== undefined) {
    const expected = root[0] === EMPTY ? 1 : root[0] === LEAF ? 41 : root[0] === PAGE ? 33 : -1
    sized(root, expected, 'root')
  }
  return {
    count: count ? readU64(count) : 0,
    root,
    checkpoint: wal ? { segment: readU64(wal), offset: readU64(wal, 8) } : { segment: 1, offset: 0 },
    unindexed: unindexed !== undefined,
  }
}

function sized(value: Bytes, length: number, name: string): void {
  if (value.length !== length) throw corrupt(name, `${value.length} bytes, expected ${length}`)
}

function corrupt(name: string, why: string): XaeroError {
  return new XaeroError('E_CORRUPT_STORE', `the store's '${name}' entry is corrupt: ${why}`, { details: { entry: name } })
}
