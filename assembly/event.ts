// Event envelope v1 (docs/FORMAT.md): structural validation, and the id and key of every envelope in
// a batch, their SHA-256 hashed four at a time. Signatures are checked by the caller.

import { sha256Many } from './sha256';

export const HEADER_SIZE: u32 = 80;
export const SIGNATURE_SIZE: u32 = 64;

// Status codes; src/core/codes.ts maps them to XaeroError codes.
export const OK: u32 = 0;
export const TRUNCATED: u32 = 1;
export const TRAILING: u32 = 2;
export const BAD_VERSION: u32 = 3;
export const BAD_FLAGS: u32 = 4;
export const TOO_LARGE: u32 = 5;
export const WRONG_GROUP: u32 = 6;
export const FUTURE: u32 = 7;

// Descriptor of one envelope, 64 bytes, at out + i * 64:
//   0 ptr u32 | 4 hashed length u32 (0xffffffff when rejected) | 8 id out ptr u32 | 12 status u32
//  16 kind u32 | 20 payload length u32 | 24 key: timestamp (8, big-endian) ‖ id (32)
export const DESC_SIZE: u32 = 64;

/**
 * Validates `count` envelopes listed at `table` as { ptr: u32, len: u32 } and fills one
 * descriptor each at `out`. `group` is the expected group id (0 to accept any), `maxPayload`
 * the payload limit, `maxTimestamp` the latest acceptable timestamp in ms. Returns how many
 * envelopes were accepted. Reads only inside each envelope's [ptr, ptr + len).
 */
export function decodeEvents(table: usize, count: u32, out: usize, group: usize, maxPayload: u32, maxTimestamp: f64): u32 {
  let accepted: u32 = 0;
  for (let i: usize = 0; i < count; i++) {
    const ptr = <usize>load<u32>(table + (i << 3)), len = load<u32>(table + (i << 3), 4);
    const d = out + i * DESC_SIZE;
    store<u32>(d, <u32>ptr);
    store<u32>(d, 0xffffffff, 4);
    store<u32>(d, <u32>(d + 32), 8);
    const status = check(ptr, len, group, maxPayload, maxTimestamp);
    store<u32>(d, status, 12);
    if (status != OK) continue;
    const payloadLen = bswap<u32>(load<u32>(ptr, 76));
    store<u32>(d, HEADER_SIZE + payloadLen, 4);
    store<u32>(d, <u32>bswap<u16>(load<u16>(ptr, 2)), 16);
    store<u32>(d, payloadLen, 20);
    store<u64>(d, load<u64>(ptr, 4), 24);      // timestamp bytes, still big-endian
    accepted++;
  }
  sha256Many(out, count, DESC_SIZE);
  return accepted;
}

function check(ptr: usize, len: u32, group: usize, maxPayload: u32, maxTimestamp: f64): u32 {
  if (len == 0) return TRUNCATED;
  if (load<u8>(ptr) != 1) return BAD_VERSION;
  if (len < HEADER_SIZE) return TRUNCATED;
  if (load<u8>(ptr, 1) != 0) return BAD_FLAGS;
  const payloadLen = bswap<u32>(load<u32>(ptr, 76));
  if (payloadLen > maxPayload) return TOO_LARGE;
  const size = <u64>HEADER_SIZE + payloadLen + SIGNATURE_SIZE;
  if (<u64>len < size) return TRUNCATED;
  if (<u64>len > size) return TRAILING;
  if (group != 0 && memory.compare(ptr + 12, group, 32) != 0) return WRONG_GROUP;
  if (<f64>bswap<u64>(load<u64>(ptr, 4)) > maxTimestamp) return FUTURE;
  return OK;
}
