/**
 * `xaeroflux/net`: what an app needs to share one libp2p node among many groups' stores
 * (docs/NETWORK.md). Kept apart from the main entry so that a store without a network loads no libp2p.
 * @module xaeroflux/net
 */
export { createNode, type NodeOptions, type XaerofluxNode } from '#net-node'
export { xaerofluxService, type XaerofluxService, type XaerofluxServiceInit, type GroupDht, type GroupDhtOptions, type GroupPeer } from './service.js'
export { groupNamespace, type GroupNamespace } from './namespace.js'
export type { NetworkOptions, PeerInfo } from './network.js'
export type { SyncResult, PeerLimits } from './session.js'
