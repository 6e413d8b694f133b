// A libp2p v3 node for Node.js with what xaeroflux needs (docs/NETWORK.md "Node"): TCP and
// WebSockets, Noise, Yamux, identify, ping, bootstrap dials, and the xaeroflux service that runs
// each group's DHT. Its creator stops it (`node.stop()`); leaving groups never does.
// Browsers get node-browser.ts instead (package.json "imports": "#net-node", condition "browser").
import './polyfills.js'
import { bootstrap } from '@libp2p/bootstrap'
import { identify, type Identify } from '@libp2p/identify'
import type { Libp2p, Metrics, PrivateKey } from '@libp2p/interface'
import { noise } from '@libp2p/noise'
import { ping, type Ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { libp2pLogger } from './logger.js'
import { xaerofluxService, type XaerofluxService, type XaerofluxServiceInit } from './service.js'
import { DEFAULT_LISTEN } from './listen.js'

/** The options of {@link createNode}. */
export interface NodeOptions {
  /** Multiaddrs to listen on. @default ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws'] */
  listen?: string[]
  /** Multiaddrs ending in /p2p/<peer id> to dial at start (and again by libp2p when lost, while tagged). */
  bootstrap?: string[]
  /** The node's identity. @default a new Ed25519 key */
  privateKey?: PrivateKey
  /** Options of the xaeroflux service (defaults for its joinGroup calls). */
  service?: XaerofluxServiceInit
  /** libp2p's metrics hook (it sees every connection and stream): the CLI's demo counts bytes on the wire with it. */
  metrics?: () => Metrics
  /**
   * Browsers only (node-browser.ts): may the page dial loopback and LAN addresses, also over
   * plain ws://. In Node, libp2p dials every address already: this changes nothing.
   * @default false
   */
  allowPrivateAddresses?: boolean
}

/** A libp2p node made by {@link createNode}: its `xaeroflux` service serves every group's store that joins it. */
export type XaerofluxNode = Libp2p<{ xaeroflux: XaerofluxService; identify: Identify; ping: Ping }>

function strings(value: unknown, what: string): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw new TypeError(`${what} is an array of multiaddr strings`)
  return value
}

/** Creates and starts a node. Bad addresses are a TypeError; a port in use is libp2p's error. */
export async function createNode(options: NodeOptions = {}): Promise<XaerofluxNode> {
  const listen = strings(options.listen ?? DEFAULT_LISTEN, 'listen')
  const list = strings(options.bootstrap ?? [], 'bootstrap')
  for (const a of [...listen, ...list]) {
    try { multiaddr(a) } catch (e) { throw new TypeError(`not a multiaddr: ${a}`, { cause: e }) }
  }
  for (const a of list) if (!/\/p2p\/[^/]+$/.test(a)) throw new TypeError(`a bootstrap address ends in /p2p/<peer id>: ${a}`)
  return createLibp2p({
    privateKey: options.privateKey,
    metrics: options.metrics,
    logger: libp2pLogger,
    addresses: { listen },
    transports: [tcp(), webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // timeout 0: dial the bootstrap peers at once (the module waits 1 s by default).
    peerDiscovery: list.length > 0 ? [bootstrap({ list, timeout: 0 })] : [],
    services: {
      identify: identify(),
      ping: ping(),
      xaeroflux: xaerofluxService(options.service),
    },
  })
}
