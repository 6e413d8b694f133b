// The identity file of `append`: the 32-byte Ed25519 secret key (seed) in hex, one line. It is
// created only when asked (--new-identity), with owner-only permissions, and never overwritten.
import { readFile, writeFile } from 'node:fs/promises'
import { Identity, fromHex, toHex } from '../index.js'
import { CliError } from './errors.js'

/** The identity in `file`; created there first if it is missing and `create` is set. */
export async function loadIdentity(file: string, create: boolean): Promise<{ identity: Identity; created: boolean }> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new CliError('E_BAD_IDENTITY', `cannot read the identity file ${file}: ${(e as Error).message}`)
    if (!create) throw new CliError('E_NO_IDENTITY', `no identity file at ${file} (--new-identity creates one)`)
    const identity = Identity.generate()
    // 'wx': fails if the file appeared meanwhile, rather than replacing someone's key.
    await writeFile(file, toHex(identity.secretKey) + '\n', { mode: 0o600, flag: 'wx' })
    return { identity, created: true }
  }
  const hex = text.trim()
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new CliError('E_BAD_IDENTITY', `the identity file ${file} does not hold a secret key (64 hex digits)`)
  return { identity: Identity.fromSecretKey(fromHex(hex)), created: false }
}
