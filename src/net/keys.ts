// The DHT keys of a group (docs/NETWORK.md "Group DHT"): the CID its peers provide to find each
// other, and the CIDs of its time buckets for content discovery. Pure functions of `<ns>`: every
// peer derives the same keys, and a key tells nothing about `<ns>` (SHA-256 preimage).
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create as createDigest } from 'multiformats/hashes/digest'
import { sha256 } from '@noble/hashes/sha2.js'

/** Multihash code of SHA-256. */
const SHA2_256 = 0x12

/** Width of a content-discovery bucket: one UTC day, in milliseconds (event timestamps are ms). */
export const BUCKET_MS = 86_400_000

/** A findHolders range may span at most this many buckets (one provider lookup each). */
export const MAX_RANGE_BUCKETS = 366

const utf8 = (s: string) => new TextEncoder().encode(s)

function rawCid(label: string): CID {
  return CID.createV1(raw.code, createDigest(SHA2_256, sha256(utf8(label))))
}

/** The group's rendezvous: CIDv1 raw of SHA-256("xaeroflux/group/v1\n" ‖ ns). */
export function groupCid(ns: string): CID {
  return rawCid(`xaeroflux/group/v1\n${ns}`)
}

/** Bucket index of a timestamp (ms since the epoch, UTC): floor(ts / BUCKET_MS). */
export function bucketOf(timestamp: number): number {
  if (!Number.isFinite(timestamp) || timestamp < 0) throw new RangeError(`a timestamp is a finite number of ms ≥ 0 (got ${timestamp})`)
  return Math.floor(timestamp / BUCKET_MS)
}

/** A bucket's key: CIDv1 raw of SHA-256("xaeroflux/bucket/v1\n" ‖ ns ‖ "\n" ‖ decimal bucket index). */
export function bucketCid(ns: string, bucket: number): CID {
  if (!Number.isSafeInteger(bucket) || bucket < 0) throw new RangeError(`a bucket index is a safe integer ≥ 0 (got ${bucket})`)
  return rawCid(`xaeroflux/bucket/v1\n${ns}\n${bucket}`)
}
