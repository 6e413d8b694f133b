// The options of `Xaeroflux.open`, checked once: misuse is a TypeError or RangeError at the call,
// never a store that silently does something else (a typo such as `Path` would otherwise give an
// in-memory store).
import { cores, workersUnavailable } from '#platform'
import { DEFAULT_MAX_PAYLOAD, DEFAULT_MAX_SKEW } from '../event.js'
import { groupId } from '../group.js'
import { bytes32, fromHex, toHex } from '../hex.js'
import { Identity } from '../identity.js'
import { MAX_POOL_WORKERS } from '../pipeline/pool.js'
import { SLOT_DATA_BYTES } from '../pipeline/slot.js'
import type { Durability } from './wal.js'
import type { NetworkOptions } from '../net/network.js'

/** The options of {@link Xaeroflux.open} (README, Use). */
export interface OpenOptions {
  /** Folder of the store (Node) or IndexedDB name (browsers). Omitted: in memory. */
  path?: string
  /** The group's name; its id is `groupId(group)`. */
  group: string
  /** Who appends. Needed by `append`, not by `ingest`. */
  identity?: Identity
  /** When `append` and `ingest` resolve; see Durability. @default 'sync' */
  durability?: Durability
  /**
   * Worker threads for validating and signing. The process has one pool of them, shared by all
   * its open stores: N > 0 runs this store's jobs there and grows the pool to at least N
   * workers (it keeps its size until every store is closed, then stops); 0 validates and signs
   * on this thread. At most 16. In a browser page that is not cross-origin isolated there are
   * none: the store runs with 0 and says so once (console.warn; `db.workers` is 0).
   * @default 2 where the machine has 2 cores or more, else 0
   */
  workers?: number
  /** If given, only these authors (public keys, bytes or hex) may write to the group. */
  writers?: ReadonlyArray<Uint8Array | string>
  /** Memory for cached Merkle pages, in bytes. @default 8 MiB */
  pageCache?: number
  /**
   * Keep the Merkle index (root, prove, reconcile) as events are indexed. Off suits a bulk
   * load: the store remembers, and rebuilds the index when it is next opened with it on.
   * @default true
   */
  merkleIndex?: boolean
  /** Largest payload accepted, at most 2 MiB − 144 bytes. @default 1 MiB */
  maxPayload?: number
  /** How far in the future a timestamp may be, in ms (0 to 2^31). @default 10 minutes */
  maxSkew?: number
  /** Make the store a peer of its group (docs/NETWORK.md). Without it, no node is started. */
  network?: NetworkOptions
}

/** The options with their defaults filled in, and what follows from them. */
export interface StoreOptions {
  path?: string
  group: string
  groupBytes: Uint8Array
  identity?: Identity
  durability: Durability
  workers: number
  /** Authors allowed to write (hex), if the group has a list. */
  writers?: ReadonlySet<string>
  /** Merkle pages kept in memory. */
  pageCache: number
  merkleIndex: boolean
  maxPayload: number
  maxSkew: number
  network?: NetworkOptions
}

/** The largest maxPayload: an event must fit one pipeline slot. */
export const MAX_PAYLOAD_LIMIT = SLOT_DATA_BYTES - 144
/** The largest maxSkew, ~24.8 days: a skew is a tolerance for clocks, not a way to post-date. */
export const MAX_SKEW_LIMIT = 2 ** 31
const DEFAULT_PAGE_CACHE = 8 << 20
const KNOWN = new Set(['path', 'group', 'identity', 'durability', 'workers', 'writers', 'pageCache', 'merkleIndex', 'maxPayload', 'maxSkew', 'network'])
const NETWORK_KNOWN = new Set(['listen', 'bootstrap', 'secret', 'maxPeers', 'libp2p', 'limits', 'budget', 'allowPrivateAddresses'])

/** Checks `open`'s options (TypeError, RangeError) and fills in their defaults. */
export function resolveOptions(options: OpenOptions): StoreOptions {
  if (!options || typeof options !== 'object') throw new TypeError('open takes { group, path?, identity?, … }')
  for (const name of Object.keys(options)) if (!KNOWN.has(name)) throw new TypeError(`unknown option '${name}' (options: ${[...KNOWN].join(', ')})`)
  const { path, group, identity } = options
  if (typeof group !== 'string') throw new TypeError('open needs { group: string }')
  if (group.length === 0) throw new RangeError('the group name is empty')
  if (path !== undefined && (typeof path !== 'string' || path.length === 0)) throw new TypeError('path must be a non-empty string (omit it for an in-memory store)')
  if (identity !== undefined && !(identity instanceof Identity)) throw new TypeError('identity must be an Identity (Identity.generate() or Identity.fromSecretKey(bytes))')
  const durability = options.durability ?? 'sync'
  if (!['sync', 'batch', 'none'].includes(durability)) throw new TypeError("durability is 'sync', 'batch' or 'none'")
  const workers = withoutWorkersIfNeeded(whole(options.workers ?? defaultWorkers(), 'workers', 0, MAX_POOL_WORKERS))
  const maxPayload = whole(options.maxPayload ?? DEFAULT_MAX_PAYLOAD, 'maxPayload', 0, MAX_PAYLOAD_LIMIT)
  const maxSkew = whole(options.maxSkew ?? DEFAULT_MAX_SKEW, 'maxSkew', 0, MAX_SKEW_LIMIT)
  const pageCache = whole(options.pageCache ?? DEFAULT_PAGE_CACHE, 'pageCache', 0, Number.MAX_SAFE_INTEGER)
  if (options.merkleIndex !== undefined && typeof options.merkleIndex !== 'boolean') throw new TypeError('merkleIndex is a boolean')
  if (options.writers !== undefined && !Array.isArray(options.writers)) throw new TypeError('writers is an array of public keys')
  const writers = options.writers && new Set(options.writers.map((w) => toHex(bytes32(w, 'a writer'))))
  const network = options.network === undefined ? undefined : checkNetwork(options.network)
  if (network && options.merkleIndex === false) throw new TypeError('a store on the network needs its Merkle index (merkleIndex: false is for bulk loads)')
  return {
    network, path, group, groupBytes: fromHex(groupId(group)), identity, durability, workers, writers, pageCache,
    merkleIndex: options.merkleIndex !== false, maxPayload, maxSkew,
  }
}

let warned = false

/**
 * The pipeline workers a store gets when it does not say: 2 on a machine of 2 cores or more, 0
 * (inline) on one core. Two workers beside the main thread on 2 cores, not one per spare core:
 * with one worker an ingest kept the machine 136 % busy, the main thread waiting on the worker;
 * with two, 193 %. Measured on 2 cores (Node 20, 200 000 envelopes, `ingestMany` 1 000 at a
 * time, durability 'batch'): 23 700 → 33 400 events/s, peak RSS 296 → 312 MB; a full sync into
 * the store from a peer on the same machine 17 300 → 19 200–20 100 events/s. More cores keep 2:
 * the pool stays small on phones, and a store may ask for more.
 */
export function defaultWorkers(): number {
  return cores() >= 2 ? 2 : 0
}

// Where the platform cannot run workers (a browser page without cross-origin isolation), the
// store validates and signs on its own thread: the same code, and in Chromium about as fast,
// since IndexedDB bounds a browser store (docs/STORAGE.md, Browsers). Said once per thread.
function withoutWorkersIfNeeded(workers: number): number {
  if (workers === 0) return 0
  const why = workersUnavailable()
  if (why === undefined) return workers
  if (!warned) {
    warned = true
    console.warn(`xaeroflux: running without pipeline workers (events are validated and signed on this thread): ${why}`)
  }
  return 0
}

function whole(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number`)
  if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`${name} must be a whole number in ${min}..${max}`)
  return value
}

function checkNetwork(network: NetworkOptions): NetworkOptions {
  if (!network || typeof network !== 'object') throw new TypeError('network takes { listen?, bootstrap?, secret?, maxPeers?, libp2p?, limits?, budget?, allowPrivateAddresses? }')
  for (const name of Object.keys(network)) if (!NETWORK_KNOWN.has(name)) throw new TypeError(`unknown network option '${name}' (options: ${[...NETWORK_KNOWN].join(', ')})`)
  for (const name of ['listen', 'bootstrap'] as const) {
    const list = network[name]
    if (list !== undefined && (!Array.isArray(list) || list.some((a) => typeof a !== 'string' || !a.startsWith('/')))) throw new TypeError(`network.${name} is an array of multiaddr strings`)
  }
  if (network.bootstrap?.some((a) => !a.includes('/p2p/'))) throw new TypeError('each bootstrap address ends in /p2p/<peer id>')
  if (network.maxPeers !== undefined) whole(network.maxPeers, 'network.maxPeers', 1, 1000)
  if (network.secret !== undefined && typeof network.secret !== 'string' && !(network.secret instanceof Uint8Array)) throw new TypeError('network.secret is a string or bytes')
  if (network.libp2p !== undefined && (typeof network.libp2p !== 'object' || network.libp2p === null)) throw new TypeError('network.libp2p is a libp2p node')
  for (const name of ['limits', 'budget'] as const) {
    if (network[name] !== undefined && (typeof network[name] !== 'object' || network[name] === null)) throw new TypeError(`network.${name} is an object (docs/NETWORK.md)`) // its values are checked when the network starts
  }
  if (network.libp2p && network.listen) throw new TypeError('with network.libp2p the app\'s node listens: leave out listen')
  if (network.allowPrivateAddresses !== undefined && typeof network.allowPrivateAddresses !== 'boolean') throw new TypeError('network.allowPrivateAddresses is a boolean')
  if (network.libp2p && network.allowPrivateAddresses !== undefined) throw new TypeError('with network.libp2p the app\'s node has its own connection gater: leave out allowPrivateAddresses')
  return network
}
