// What the commands that put a store on the network (`node`, `sync`) share: their network
// options, the checks of addresses and of the secret (a bad one is a usage error, before libp2p
// sees it), the node's key derived from the identity file, and opening a store on a node of its
// own and closing both. libp2p is loaded only when a node starts (`openOnNetwork`, `nodeKey`).
import { readFile } from 'node:fs/promises'
import { multiaddr } from '@multiformats/multiaddr'
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { Xaeroflux, fromHex, groupId, type Identity } from '../index.js'
import { groupNamespace } from '../net/namespace.js'
import { DEFAULT_LISTEN } from '../net/listen.js'
import type { XaerofluxNode } from '../net/node.js'
import type { OptionSpec, Values } from './command.js'
import { CliError, UsageError } from './errors.js'
import { storeExists } from './store.js'
import { optional, repeated } from './values.js'

export const SECRET_OPTIONS: Record<string, OptionSpec> = {
  secret: { type: 'string', value: '<text>', description: "the group's secret (at least 16 bytes): only peers that know it are let in" },
  'secret-file': { type: 'string', value: '<file>', description: 'read the secret from a file (its bytes, less one trailing newline)' },
}

export const LISTEN_OPTION: OptionSpec = {
  type: 'string', value: '<multiaddr>', multiple: true,
  description: `an address to listen on (default: ${DEFAULT_LISTEN.join(' and ')})`,
}

/** A multiaddr from the command line; `peer`: it must end in /p2p/<peer id> (an address to dial). */
export function checkAddress(text: string, name: string, peer: boolean): string {
  try {
    multiaddr(text)
  } catch {
    throw new UsageError(`${name} is not a multiaddr: '${text}'`)
  }
  if (peer && !/\/p2p\/[^/]+$/.test(text)) throw new UsageError(`${name} must end in /p2p/<peer id>: '${text}'`)
  return text
}

/** The secret of --secret or --secret-file (not both), checked as the library would check it. */
export async function loadSecret(values: Values): Promise<string | Uint8Array | undefined> {
  const text = optional(values, 'secret'), file = optional(values, 'secret-file')
  if (text !== undefined && file !== undefined) throw new UsageError('give --secret or --secret-file, not both')
  let secret: string | Uint8Array | undefined = text
  if (file !== undefined) {
    let bytes: Uint8Array
    try {
      bytes = new Uint8Array(await readFile(file))
    } catch (e) {
      throw new CliError('E_NO_SECRET', `cannot read the secret file ${file}: ${(e as Error).message}`)
    }
    const end = bytes.length - (bytes.at(-1) === 0x0a ? (bytes.at(-2) === 0x0d ? 2 : 1) : 0)
    secret = bytes.subarray(0, end)
  }
  if (secret !== undefined) {
    try {
      groupNamespace(fromHex(groupId(values.group as string)), secret)
    } catch (e) {
      throw new UsageError(`the secret: ${(e as Error).message}`)
    }
  }
  return secret
}

/**
 * The node's libp2p key for an identity: an Ed25519 key from a seed derived from the identity's
 * (HKDF-SHA256, label `xaeroflux/cli/node-key/v1`), so that a node run with the same identity file
 * keeps its peer id (and the addresses others bootstrap from), while event signatures and the
 * transport's signatures never share a key.
 */
export async function nodeKey(identity: Identity) {
  const seed = hkdf(sha256, identity.secretKey, undefined, new TextEncoder().encode('xaeroflux/cli/node-key/v1'), 32)
  const { generateKeyPairFromSeed } = await import('@libp2p/crypto/keys')
  return generateKeyPairFromSeed('Ed25519', seed)
}

export interface NetworkedStore { db: Xaeroflux; node: XaerofluxNode }

export interface NetworkAccess {
  identity?: Identity
  listen: string[]
  bootstrap: string[]
  secret?: string | Uint8Array
  maxPeers?: number
  /** Create the store if there is none; otherwise a missing store is E_NO_STORE. */
  create: boolean
}

/**
 * Starts a node (on the identity's key, if given) and opens the store of --path/--group on it.
 * A failure stops what was started. A node that cannot listen is E_LISTEN.
 */
export async function openOnNetwork(values: Values, access: NetworkAccess): Promise<NetworkedStore> {
  const path = values.path as string, group = values.group as string
  if (!access.create && !storeExists(path)) throw new CliError('E_NO_STORE', `no store at ${path} (append creates one)`)
  const privateKey = access.identity && await nodeKey(access.identity)
  // libp2p is loaded only by the commands that start a node: every command's start-up paid
  // ~0.45 s for it before (`xaeroflux --version` 0.65 s).
  const { createNode } = await import('../net/node.js')
  let node: XaerofluxNode
  try {
    node = await createNode({ listen: access.listen.length > 0 ? access.listen : DEFAULT_LISTEN, bootstrap: access.bootstrap, privateKey })
  } catch (e) {
    throw new CliError('E_LISTEN', `cannot start the node on ${access.listen.join(', ') || DEFAULT_LISTEN.join(', ')}: ${(e as Error).message}`)
  }
  try {
    const db = await Xaeroflux.open({
      path, group, identity: access.identity,
      network: { libp2p: node, bootstrap: access.bootstrap, secret: access.secret, maxPeers: access.maxPeers },
    })
    return { db, node }
  } catch (e) {
    await stopNode(node)
    throw e
  }
}

/** Closes the store, then stops its node (the store leaves a node it was given running). */
export async function closeNetworked({ db, node }: NetworkedStore): Promise<void> {
  try {
    await db.close()
  } finally {
    await stopNode(node)
  }
}

// Stopping a node is best effort: what matters to the command is the store's outcome.
async function stopNode(node: XaerofluxNode): Promise<void> {
  try { await node.stop() } catch { /* already reported by what failed first, or nothing to report */ }
}

/** The --listen and --bootstrap values, checked. */
export function addresses(values: Values): { listen: string[]; bootstrap: string[] } {
  return {
    listen: repeated(values, 'listen').map((a) => checkAddress(a, '--listen', false)),
    bootstrap: repeated(values, 'bootstrap').map((a) => checkAddress(a, '--bootstrap', true)),
  }
}
