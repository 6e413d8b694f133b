// Access control of a secret group's DHT (docs/NETWORK.md "Group DHT", "Secret groups"). The
// kad-dht instance of the group gets the node's components through `gatedComponents`, which
// changes, for the group's kad protocol only:
// - the registrar: inbound kad streams from a peer that `allow` refuses are aborted before the
//   kad-dht reads a byte (so it answers nothing: no closer peers, no provider records, and takes no
//   ADD_PROVIDER from it); topology notifications of such peers are dropped (they never reach the
//   routing table through a connection);
// - the connection manager: kad streams to a refused peer are never opened (we never send it a
//   query, a provider record, or our interest in a key).
// `gateRoutingTable` closes the last door: peers learned from other peers' answers are offered to
// the routing table too, and refused ones are dropped there.
// `allow` is asked at each use, so a peer admitted later by the sync handshake is served from then on.

/** A peer id as a string, or any object whose toString() is one (libp2p's PeerId). */
type PeerLike = { toString(): string }
export type Allow = (peerId: string) => boolean

/** Thrown (inside the kad-dht, which turns it into a query error event) on a kad stream to a refused peer. */
export class RefusedPeerError extends Error {
  constructor(peer: string) {
    super(`peer ${peer} is not allowed in this group's DHT`)
    this.name = 'RefusedPeerError'
  }
}

/** `allow(peer)`, where a predicate that throws refuses: the safe side for a secret group. */
export function safeAllow(allow: Allow, peer: PeerLike): boolean {
  try {
    return allow(peer.toString()) === true
  } catch {
    return false
  }
}

/** The peer a dial target names, if it names one (a PeerId, or a multiaddr ending in /p2p/<id>). */
function targetPeer(target: unknown): string | undefined {
  const one = Array.isArray(target) ? target[0] : target
  if (one == null) return undefined
  const s = String(one)
  if (!s.startsWith('/')) return s // a PeerId
  return /\/p2p\/([^/]+)$/.exec(s)?.[1]
}

function delegate<T extends object>(target: T, overrides: Record<string | symbol, unknown>): T {
  return new Proxy(target, {
    get(t, p) {
      if (Object.prototype.hasOwnProperty.call(overrides, p)) return overrides[p]
      const v = Reflect.get(t, p)
      return typeof v === 'function' ? v.bind(t) : v
    },
  })
}

interface Registrar {
  handle(protocol: string, handler: (stream: any, connection: any) => unknown, options?: unknown): Promise<void>
  register(protocol: string, topology: { onConnect?: (peer: any, connection: any) => unknown } & Record<string, unknown>): Promise<string>
}
interface ConnectionManager {
  openStream(peer: unknown, protocol: string | string[], options?: unknown): Promise<unknown>
}

/** The components `components` with the group's kad protocol `protocol` gated by `allow`. */
export function gatedComponents<C extends object>(components: C, protocol: string, allow: Allow): C {
  const registrar = (components as unknown as { registrar: Registrar }).registrar
  const connectionManager = (components as unknown as { connectionManager: ConnectionManager }).connectionManager
  const gatedRegistrar = delegate(registrar, {
    handle: (p: string, handler: (stream: any, connection: any) => unknown, options?: unknown) => {
      if (p !== protocol) return registrar.handle(p, handler, options)
      return registrar.handle(p, (stream, connection) => {
        if (safeAllow(allow, connection.remotePeer)) return handler(stream, connection)
        stream.abort(new RefusedPeerError(String(connection.remotePeer)))
      }, options)
    },
    register: (p: string, topology: { onConnect?: (peer: any, connection: any) => unknown } & Record<string, unknown>) => {
      if (p !== protocol || topology.onConnect == null) return registrar.register(p, topology)
      const onConnect = topology.onConnect.bind(topology)
      return registrar.register(p, { ...topology, onConnect: (peer: PeerLike, connection: unknown) => (safeAllow(allow, peer) ? onConnect(peer, connection) : undefined) })
    },
  })
  const gatedConnectionManager = delegate(connectionManager, {
    openStream: async (peer: unknown, p: string | string[], options?: unknown) => {
      const wanted = Array.isArray(p) ? p : [p]
      if (wanted.includes(protocol)) {
        const id = targetPeer(peer)
        if (id === undefined || !safeAllow(allow, id)) throw new RefusedPeerError(id ?? 'without a peer id')
      }
      return connectionManager.openStream(peer, p, options)
    },
  })
  return delegate(components, { registrar: gatedRegistrar, connectionManager: gatedConnectionManager })
}

/** Makes the kad-dht's routing table drop peers that `allow` refuses, whoever offered them. */
export function gateRoutingTable(routingTable: { add(peer: PeerLike, options?: unknown): Promise<void> }, allow: Allow): void {
  const add = routingTable.add.bind(routingTable)
  routingTable.add = async (peer: PeerLike, options?: unknown) => {
    if (safeAllow(allow, peer)) await add(peer, options)
  }
}
