// CRC32C (Castagnoli, reflected polynomial 0x82f63b78), slicing-by-8: eight table lookups per
// eight input bytes. The 8 KiB of tables live in the shared constants region.

import { CONST, CONST_CRC } from './workspace';

/** Fills the CRC32C tables in the constants region at `c`. */
export function initCrc32cConstants(c: usize): void {
  const t = c + CONST_CRC;
  for (let i: u32 = 0; i < 256; i++) {
    let r = i;
    for (let k = 0; k < 8; k++) r = (r >>> 1) ^ (0x82f63b78 & (0 - (r & 1)));
    store<u32>(t + (<usize>i << 2), r);
  }
  for (let k: usize = 1; k < 8; k++) {
    for (let i: usize = 0; i < 256; i++) {
      const prev = load<u32>(t + ((k - 1) << 10) + (i << 2));
      store<u32>(t + (k << 10) + (i << 2), (prev >>> 8) ^ load<u32>(t + (<usize>(prev & 0xff) << 2)));
    }
  }
}

@inline function tab(k: usize, i: u32): u32 { return load<u32>(CONST + CONST_CRC + (k << 10) + (<usize>i << 2)); }

/** CRC32C of `len` bytes at `src`, continuing from `crc` (0 to start). */
export function crc32c(src: usize, len: usize, crc: u32): u32 {
  let c = ~crc;
  let p = src;
  const end = src + len;
  while (p < end && (p & 7) != 0) { c = tab(0, (c ^ load<u8>(p)) & 0xff) ^ (c >>> 8); p++; }
  for (const end8 = end - ((end - p) & 7); p < end8; p += 8) {
    const lo = c ^ load<u32>(p), hi = load<u32>(p, 4);
    c = tab(7, lo & 0xff) ^ tab(6, (lo >>> 8) & 0xff) ^ tab(5, (lo >>> 16) & 0xff) ^ tab(4, lo >>> 24)
      ^ tab(3, hi & 0xff) ^ tab(2, (hi >>> 8) & 0xff) ^ tab(1, (hi >>> 16) & 0xff) ^ tab(0, hi >>> 24);
  }
  while (p < end) { c = tab(0, (c ^ load<u8>(p)) & 0xff) ^ (c >>> 8); p++; }
  return ~c;
}
