// Write-ahead log framing. A record is a 9-byte header and its payload:
//   0 crc u32 (big-endian, masked CRC32C of bytes 4 .. 9 + len) | 4 len u32 (big-endian) | 8 type u8
// The CRC covers the length and type too, so a flipped length is caught. Masking (as LevelDB
// does) keeps a record that embeds framed bytes from matching its own CRC. Type 0 is never
// written, so a zero-filled region never scans as a record.

import { crc32c } from './crc32c';

export const FRAME_HEADER: u32 = 9;

// Scan outcomes.
export const SCAN_END: u32 = 0;      // the buffer ended exactly at a record boundary
export const SCAN_TORN: u32 = 1;     // the last record is incomplete: a torn tail
export const SCAN_CORRUPT: u32 = 2;  // a record fails its CRC, or its header is impossible
export const SCAN_FULL: u32 = 3;     // the output table is full; scan again from `stop`

@inline function mask(crc: u32): u32 { return rotr<u32>(crc, 15) + 0xa282ead8; }

/** Frames `len` bytes at `src` as a record of `type` (1..255) at `dst`; returns the frame size. `src` may equal `dst + 9`. */
export function walFrame(dst: usize, type: u8, src: usize, len: u32): u32 {
  if (src != dst + FRAME_HEADER) memory.copy(dst + FRAME_HEADER, src, len);
  store<u32>(dst, bswap<u32>(len), 4);
  store<u8>(dst, type, 8);
  store<u32>(dst, bswap<u32>(mask(crc32c(dst + 4, <usize>len + 5, 0))));
  return FRAME_HEADER + len;
}

@inline function validAt(buf: usize, off: u32, len: u32, maxRecord: u32): bool {
  if (len - off < FRAME_HEADER) return false;
  const recLen = bswap<u32>(load<u32>(buf + off, 4));
  if (recLen > maxRecord || load<u8>(buf + off, 8) == 0) return false;
  if (<u64>recLen + FRAME_HEADER > <u64>(len - off)) return false;
  return bswap<u32>(load<u32>(buf + off)) == mask(crc32c(buf + off + 4, <usize>recLen + 5, 0));
}

/**
 * Scans records in `buf[from, len)`, writing { offset, length, type } (3 × u32) per valid record
 * to `out`, at most `cap` of them. Stops at the first record that is incomplete (torn) or fails
 * its checks (corrupt). Writes { status, stop } to `result` (stop: the offset scanning stopped
 * at) and returns the number of records found.
 */
export function walScan(buf: usize, len: u32, from: u32, maxRecord: u32, out: usize, cap: u32, result: usize): u32 {
  let off = from, n: u32 = 0, status = SCAN_END;
  while (off < len) {
    if (n == cap) { status = SCAN_FULL; break; }
    const left = len - off;
    if (left < FRAME_HEADER) { status = SCAN_TORN; break; }
    const recLen = bswap<u32>(load<u32>(buf + off, 4));
    const type = load<u8>(buf + off, 8);
    if (recLen > maxRecord || type == 0) { status = SCAN_CORRUPT; break; }
    if (<u64>recLen + FRAME_HEADER > <u64>left) { status = SCAN_TORN; break; }
    if (bswap<u32>(load<u32>(buf + off)) != mask(crc32c(buf + off + 4, <usize>recLen + 5, 0))) { status = SCAN_CORRUPT; break; }
    const o = out + (<usize>n) * 12;
    store<u32>(o, off); store<u32>(o, recLen, 4); store<u32>(o, type, 8);
    n++;
    off += FRAME_HEADER + recLen;
  }
  store<u32>(result, status);
  store<u32>(result, off, 4);
  return n;
}

/** The first offset ≥ `from` where a complete, valid record starts, or -1: resynchronises after corruption. */
export function walFindNext(buf: usize, len: u32, from: u32, maxRecord: u32): i32 {
  for (let off = from; off < len; off++) if (validAt(buf, off, len, maxRecord)) return <i32>off;
  return -1;
}
