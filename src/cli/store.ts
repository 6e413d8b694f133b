// The store a command works on: the options that name it (--path, --group), the check that it
// exists (opening a folder creates a store, and a read must not), and opening and closing it
// around the command's work.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { Xaeroflux, type Identity } from '../index.js'
import type { OptionSpec, Values } from './command.js'
import { CliError } from './errors.js'

export const STORE_OPTIONS: Record<string, OptionSpec> = {
  path: { type: 'string', value: '<dir>', description: "the store's folder", required: true },
  group: { type: 'string', value: '<name>', description: "the group's name (a store holds one group)", required: true },
}

export const JSON_OPTION: OptionSpec = { type: 'boolean', description: 'print JSON for scripts instead of text' }

/**
 * Whether a store was ever created at `path`: LevelDB writes a CURRENT file into the folder
 * when it creates the database, and every store is a LevelDB database at its path.
 */
export function storeExists(path: string): boolean {
  return existsSync(join(path, 'CURRENT'))
}

export interface StoreAccess {
  /** Create the store if there is none (append); otherwise a missing store is E_NO_STORE. */
  create?: boolean
  /** Who appends. */
  identity?: Identity
}

/**
 * Opens the store the options name, runs `work` with it, and closes it, also when `work`
 * throws (then its failure is the one reported, not a failure to close).
 */
export async function withStore<T>(values: Values, access: StoreAccess, work: (db: Xaeroflux) => Promise<T>): Promise<T> {
  const path = values.path as string, group = values.group as string
  if (!access.create && !storeExists(path)) throw new CliError('E_NO_STORE', `no store at ${path} (append creates one)`)
  // workers: 0 signs and validates on this thread: one command handles a few events, and
  // starting worker threads would cost more than it saves.
  const db = await Xaeroflux.open({ path, group, identity: access.identity, workers: 0 })
  let result: T
  try {
    result = await work(db)
  } catch (e) {
    await db.close().catch(() => {})
    throw e
  }
  await db.close()
  return result
}
