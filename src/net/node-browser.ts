// The libp2p v3 node of a browser peer (docs/NETWORK.md "Browser peers"): what node.ts makes for
// Node.js, minus what a page cannot do. WebSockets is its one transport (to Node peers that
// listen on ws:// or wss://), it listens on nothing (a page cannot be dialed), and each group's
// kad-dht runs in client mode (it asks, never answers, and provides nothing: nobody could dial
// it to use a record). No polyfill: browsers have WebSocket and Promise.withResolvers.
// Bundlers pick this file for the "browser" condition of package.json's "#net-node" import.
import { bootstrap } from '@libp2p/bootstrap'
import { identify } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { webSockets } from '@libp2p/websockets'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { XaeroError } from '../errors.js'
import { GATER_HINT, privateAddressGater, refusedByBrowserDefault, refusedWithPrivateAllowed } from './addresses.js'
import type { NodeOptions, XaerofluxNode } from './node.js'
import { libp2pLogger } from './logger.js'
import { xaerofluxService } from './service.js'

export type { NodeOptions, XaerofluxNode } from './node.js'

/** A page listens on nothing. */
export const DEFAULT_LISTEN: string[] = []

function strings(value: unknown, what: string): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw new TypeError(`${what} is an array of multiaddr strings`)
  return value
}

/**
 * Creates and starts a browser node. Bad addresses and `listen` are a TypeError. When every
 * bootstrap address is one the connection gater refuses (a loopback or LAN address without
 * `allowPrivateAddresses`, a plain ws:// address on the internet), E_PEER_UNREACHABLE: such a
 * node could never reach anyone.
 */
export async function createNode(options: NodeOptions = {}): Promise<XaerofluxNode> {
  const listen = strings(options.listen ?? DEFAULT_LISTEN, 'listen')
  if (listen.length > 0) throw new TypeError('a browser peer cannot listen (nothing can dial a page): leave out listen')
  const list = strings(options.bootstrap ?? [], 'bootstrap')
  const addrs = list.map((a) => {
    try { return multiaddr(a) } catch (e) { throw new TypeError(`not a multiaddr: ${a}`, { cause: e }) }
  })
  for (const a of list) if (!/\/p2p\/[^/]+$/.test(a)) throw new TypeError(`a bootstrap address ends in /p2p/<peer id>: ${a}`)
  if (options.allowPrivateAddresses !== undefined && typeof options.allowPrivateAddresses !== 'boolean') throw new TypeError('allowPrivateAddresses is a boolean')
  const allowPrivate = options.allowPrivateAddresses === true
  const refused = allowPrivate ? refusedWithPrivateAllowed : refusedByBrowserDefault
  if (addrs.length > 0 && addrs.every(refused)) {
    throw new XaeroError('E_PEER_UNREACHABLE', `the browser's connection gater refuses every bootstrap address (${list.join(', ')}): ${GATER_HINT}`)
  }
  return createLibp2p({
    privateKey: options.privateKey,
    metrics: options.metrics,
    logger: libp2pLogger,
    addresses: { listen: [] },
    transports: [webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // Without the option, libp2p's browser default (no private address, no plain ws://).
    connectionGater: allowPrivate ? privateAddressGater() : undefined,
    peerDiscovery: list.length > 0 ? [bootstrap({ list, timeout: 0 })] : [],
    services: {
      identify: identify(),
      ping: ping(),
      // Client mode: a page answers no kad query (no one can dial it) and provides no record.
      xaeroflux: xaerofluxService({ ...options.service, defaults: { ...options.service?.defaults, clientMode: true } }),
    },
  })
}

