/**
 * `xaeroflux`: the store ({@link Xaeroflux}), the event format, identities, hashes, Merkle proofs
 * and transport-independent reconciliation. Networking is opened through `Xaeroflux.open`'s
 * `network` option; what an app needs to share one libp2p node is in `xaeroflux/net`.
 * @module xaeroflux
 */
export { XaeroError, ErrorCodes, type XaeroErrorCode } from './errors.js'
export { Identity } from './identity.js'
export { groupId } from './group.js'
export { sha256, sha256Batch64, merkleRoot } from './hash.js'
export { encodeEvent, decodeEvent, decodeEvents, Event, type EventFields, type DecodeOptions } from './event.js'
export { frameRecords, scanFrames, findNextFrame, crc32c, type ScanResult, type FrameRecord } from './wal/frame.js'
export { toHex, fromHex } from './hex.js'
export { Xaeroflux, type OpenOptions, type RangeOptions, type SubscribeFilter, type Status } from './db.js'
export type { RebuildReport } from './merkle/rebuild.js'
export type { Durability, ReplayReport } from './store/wal.js'
export { verifyProof, verifyAbsence, proofKey } from './merkle/proof.js'
export { Reconciliation, DEFAULT_BUDGET, type Found, type ReconcileStats, type ReconcileBudget, type ReconcileOptions } from './sync/session.js'
export type { Addr } from './sync/codec.js'
export type { ReconcileSource } from './sync/view.js'
export { Pacer } from './sync/pacer.js'
export type { Slot } from './merkle/tree.js'
