// SHA-256 (FIPS 180-4): a scalar one-shot for any length, and SIMD kernels that hash four
// independent messages at once, one per 32-bit lane of a v128.
//
// No state lives in linear memory below __heap_base: every scratch buffer is inside the
// per-thread workspace that TypeScript hands to `attach` (see workspace.ts).

import { WS, WS_W1, WS_ST1, WS_TAIL1, WS_W4, WS_ST4, WS_STAGE4, WS_ZERO, WS_LANES, CONST, CONST_PAD4 } from './workspace';

// Round constants, then the initial hash value.
const K: usize = memory.data<u32>([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const H0: usize = memory.data<u32>([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);

// W[i] + K[i] of the second block of every 64-byte message: 0x80, zeros, bit length 512.
// Its schedule never changes, so a node hash needs one message expansion, not two.
const PAD64_WK: usize = memory.data<u32>([
  0xc28a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf374,
  0x649b69c1, 0xf0fe4786, 0x0fe1edc6, 0x240cf254, 0x4fe9346f, 0x6cc984be, 0x61b9411e, 0x16f988fa,
  0xf2c65152, 0xa88e5a6d, 0xb019fc65, 0xb9d99ec7, 0x9a1231c3, 0xe70eeaa0, 0xfdb1232b, 0xc7353eb0,
  0x3069bad5, 0xcb976d5f, 0x5a0f118f, 0xdc1eeefd, 0x0a35b689, 0xde0b7a04, 0x58f4ca9d, 0xe15d5b16,
  0x007f3e86, 0x37088980, 0xa507ea32, 0x6fab9537, 0x17406110, 0x0d8cd6f1, 0xcdaa3b6d, 0xc0bbbe37,
  0x83613bda, 0xdb48a363, 0x0b02e931, 0x6fd15ca7, 0x521afaca, 0x31338431, 0x6ed41a95, 0x6d437890,
  0xc39c91f2, 0x9eccabbd, 0xb5c9a0e6, 0x532fb63c, 0xd2c741c6, 0x07237ea3, 0xa4954b68, 0x4c191d76,
]);

/** Fills the shared constants region: PAD64_WK splatted to four lanes. */
export function initSha256Constants(c: usize): void {
  for (let i: usize = 0; i < 64; i++) v128.store(c + CONST_PAD4 + (i << 4), i32x4.splat(load<u32>(PAD64_WK + (i << 2))));
}

// ---------------------------------------------------------------------------------------------
// Scalar

@inline function bigS0(a: u32): u32 { return rotr<u32>(a, 2) ^ rotr<u32>(a, 13) ^ rotr<u32>(a, 22); }
@inline function bigS1(e: u32): u32 { return rotr<u32>(e, 6) ^ rotr<u32>(e, 11) ^ rotr<u32>(e, 25); }
@inline function smallS0(x: u32): u32 { return rotr<u32>(x, 7) ^ rotr<u32>(x, 18) ^ (x >>> 3); }
@inline function smallS1(x: u32): u32 { return rotr<u32>(x, 17) ^ rotr<u32>(x, 19) ^ (x >>> 10); }
@inline function ch(e: u32, f: u32, g: u32): u32 { return g ^ (e & (f ^ g)); }
@inline function maj(a: u32, b: u32, c: u32): u32 { return (a & b) | (c & (a | b)); }

/** Loads a 64-byte block at `src` into W (big-endian words), expands it and adds K. */
function expand1(src: usize, w: usize): void {
  for (let i: usize = 0; i < 16; i++) store<u32>(w + (i << 2), bswap<u32>(load<u32>(src + (i << 2))));
  for (let i: usize = 16; i < 64; i++) {
    const p = w + (i << 2);
    store<u32>(p, smallS1(load<u32>(p - 8)) + load<u32>(p - 28) + smallS0(load<u32>(p - 60)) + load<u32>(p - 64));
  }
  for (let i: usize = 0; i < 64; i++) {
    const p = w + (i << 2);
    store<u32>(p, load<u32>(p) + load<u32>(K + (i << 2)));
  }
}

/** 64 rounds over W+K at `wk`, feeding forward into the 8-word state at `st`. */
function rounds1(wk: usize, st: usize): void {
  let a = load<u32>(st), b = load<u32>(st, 4), c = load<u32>(st, 8), d = load<u32>(st, 12);
  let e = load<u32>(st, 16), f = load<u32>(st, 20), g = load<u32>(st, 24), h = load<u32>(st, 28);
  // Eight rounds per iteration, the roles of a..h rotating, so no register moves are needed.
  for (let p = wk, end = wk + 256; p < end; p += 32) {
    let t = h + bigS1(e) + ch(e, f, g) + load<u32>(p); d += t; h = t + bigS0(a) + maj(a, b, c);
    t = g + bigS1(d) + ch(d, e, f) + load<u32>(p, 4); c += t; g = t + bigS0(h) + maj(h, a, b);
    t = f + bigS1(c) + ch(c, d, e) + load<u32>(p, 8); b += t; f = t + bigS0(g) + maj(g, h, a);
    t = e + bigS1(b) + ch(b, c, d) + load<u32>(p, 12); a += t; e = t + bigS0(f) + maj(f, g, h);
    t = d + bigS1(a) + ch(a, b, c) + load<u32>(p, 16); h += t; d = t + bigS0(e) + maj(e, f, g);
    t = c + bigS1(h) + ch(h, a, b) + load<u32>(p, 20); g += t; c = t + bigS0(d) + maj(d, e, f);
    t = b + bigS1(g) + ch(g, h, a) + load<u32>(p, 24); f += t; b = t + bigS0(c) + maj(c, d, e);
    t = a + bigS1(f) + ch(f, g, h) + load<u32>(p, 28); e += t; a = t + bigS0(b) + maj(b, c, d);
  }
  store<u32>(st, load<u32>(st) + a); store<u32>(st, load<u32>(st, 4) + b, 4);
  store<u32>(st, load<u32>(st, 8) + c, 8); store<u32>(st, load<u32>(st, 12) + d, 12);
  store<u32>(st, load<u32>(st, 16) + e, 16); store<u32>(st, load<u32>(st, 20) + f, 20);
  store<u32>(st, load<u32>(st, 24) + g, 24); store<u32>(st, load<u32>(st, 28) + h, 28);
}

@inline function initState1(st: usize): void { memory.copy(st, H0, 32); }

@inline function storeDigest1(st: usize, out: usize): void {
  for (let i: usize = 0; i < 32; i += 4) store<u32>(out + i, bswap<u32>(load<u32>(st + i)));
}

/** SHA-256 of `len` bytes at `src` into 32 bytes at `out` (which may overlap `src`). */
export function sha256(src: usize, len: usize, out: usize): void {
  const w = WS + WS_W1, st = WS + WS_ST1, tail = WS + WS_TAIL1;
  initState1(st);
  const full = len & ~63;
  for (let off: usize = 0; off < full; off += 64) { expand1(src + off, w); rounds1(w, st); }
  const rest = len - full;
  memory.copy(tail, src + full, rest);
  store<u8>(tail + rest, 0x80);
  const tailLen: usize = rest < 56 ? 64 : 128;
  memory.fill(tail + rest + 1, 0, tailLen - rest - 9);
  store<u64>(tail + tailLen - 8, bswap<u64>(<u64>len << 3));
  expand1(tail, w); rounds1(w, st);
  if (tailLen == 128) { expand1(tail + 64, w); rounds1(w, st); }
  storeDigest1(st, out);
}

/** SHA-256 of the 64-byte message at `src` into `out`; the padding block is precomputed. */
export function sha256Node1(src: usize, out: usize): void {
  const w = WS + WS_W1, st = WS + WS_ST1;
  initState1(st);
  expand1(src, w); rounds1(w, st);
  rounds1(PAD64_WK, st);
  storeDigest1(st, out);
}

// ---------------------------------------------------------------------------------------------
// Four lanes

@inline function rotr4(x: v128, n: i32): v128 { return v128.or(i32x4.shr_u(x, n), i32x4.shl(x, 32 - n)); }
@inline function bigS0x4(a: v128): v128 { return v128.xor(v128.xor(rotr4(a, 2), rotr4(a, 13)), rotr4(a, 22)); }
@inline function bigS1x4(e: v128): v128 { return v128.xor(v128.xor(rotr4(e, 6), rotr4(e, 11)), rotr4(e, 25)); }
@inline function smallS0x4(x: v128): v128 { return v128.xor(v128.xor(rotr4(x, 7), rotr4(x, 18)), i32x4.shr_u(x, 3)); }
@inline function smallS1x4(x: v128): v128 { return v128.xor(v128.xor(rotr4(x, 17), rotr4(x, 19)), i32x4.shr_u(x, 10)); }
@inline function ch4(e: v128, f: v128, g: v128): v128 { return v128.bitselect(f, g, e); }
@inline function maj4(a: v128, b: v128, c: v128): v128 { return v128.bitselect(b, a, v128.xor(a, c)); }
@inline function add3(a: v128, b: v128, c: v128): v128 { return i32x4.add(i32x4.add(a, b), c); }

/**
 * Transposes four rows of four 32-bit words and byte-swaps every word, storing the four
 * columns at d0..d3. Rows r0..r3 from four messages become schedule words W[j] (one message
 * per lane); applied to state vectors it turns lanes back into big-endian digests.
 */
@inline function transpose4(r0: v128, r1: v128, r2: v128, r3: v128, d0: usize, d1: usize, d2: usize, d3: usize): void {
  const t0 = i8x16.shuffle(r0, r1, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
  const t1 = i8x16.shuffle(r0, r1, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
  const t2 = i8x16.shuffle(r2, r3, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
  const t3 = i8x16.shuffle(r2, r3, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
  v128.store(d0, i8x16.shuffle(t0, t2, 3, 2, 1, 0, 7, 6, 5, 4, 19, 18, 17, 16, 23, 22, 21, 20));
  v128.store(d1, i8x16.shuffle(t0, t2, 11, 10, 9, 8, 15, 14, 13, 12, 27, 26, 25, 24, 31, 30, 29, 28));
  v128.store(d2, i8x16.shuffle(t1, t3, 3, 2, 1, 0, 7, 6, 5, 4, 19, 18, 17, 16, 23, 22, 21, 20));
  v128.store(d3, i8x16.shuffle(t1, t3, 11, 10, 9, 8, 15, 14, 13, 12, 27, 26, 25, 24, 31, 30, 29, 28));
}

/** Loads one 64-byte block from each of four pointers into W[0..15] (lane i = message i). */
@inline function loadBlocks4(w: usize, p0: usize, p1: usize, p2: usize, p3: usize): void {
  for (let q: usize = 0; q < 64; q += 16) {
    const d = w + (q << 2);
    transpose4(v128.load(p0 + q), v128.load(p1 + q), v128.load(p2 + q), v128.load(p3 + q), d, d + 16, d + 32, d + 48);
  }
}

/** Expands W[0..15] to W[0..63] in place and adds K. */
function expand4(w: usize): void {
  for (let p = w + 256, end = w + 1024; p < end; p += 16) {
    v128.store(p, i32x4.add(add3(smallS1x4(v128.load(p - 32)), v128.load(p - 112), smallS0x4(v128.load(p - 240))), v128.load(p - 256)));
  }
  for (let i: usize = 0; i < 64; i++) {
    const p = w + (i << 4);
    v128.store(p, i32x4.add(v128.load(p), v128.load32_splat(K + (i << 2))));
  }
}

/** 64 rounds on four lanes over W+K at `wk`, feeding forward into the state at `st`. */
function rounds4(wk: usize, st: usize): void {
  let a = v128.load(st), b = v128.load(st, 16), c = v128.load(st, 32), d = v128.load(st, 48);
  let e = v128.load(st, 64), f = v128.load(st, 80), g = v128.load(st, 96), h = v128.load(st, 112);
  for (let p = wk, end = wk + 1024; p < end; p += 128) {
    let t = add3(h, bigS1x4(e), i32x4.add(ch4(e, f, g), v128.load(p))); d = i32x4.add(d, t); h = add3(t, bigS0x4(a), maj4(a, b, c));
    t = add3(g, bigS1x4(d), i32x4.add(ch4(d, e, f), v128.load(p, 16))); c = i32x4.add(c, t); g = add3(t, bigS0x4(h), maj4(h, a, b));
    t = add3(f, bigS1x4(c), i32x4.add(ch4(c, d, e), v128.load(p, 32))); b = i32x4.add(b, t); f = add3(t, bigS0x4(g), maj4(g, h, a));
    t = add3(e, bigS1x4(b), i32x4.add(ch4(b, c, d), v128.load(p, 48))); a = i32x4.add(a, t); e = add3(t, bigS0x4(f), maj4(f, g, h));
    t = add3(d, bigS1x4(a), i32x4.add(ch4(a, b, c), v128.load(p, 64))); h = i32x4.add(h, t); d = add3(t, bigS0x4(e), maj4(e, f, g));
    t = add3(c, bigS1x4(h), i32x4.add(ch4(h, a, b), v128.load(p, 80))); g = i32x4.add(g, t); c = add3(t, bigS0x4(d), maj4(d, e, f));
    t = add3(b, bigS1x4(g), i32x4.add(ch4(g, h, a), v128.load(p, 96))); f = i32x4.add(f, t); b = add3(t, bigS0x4(c), maj4(c, d, e));
    t = add3(a, bigS1x4(f), i32x4.add(ch4(f, g, h), v128.load(p, 112))); e = i32x4.add(e, t); a = add3(t, bigS0x4(b), maj4(b, c, d));
  }
  v128.store(st, i32x4.add(v128.load(st), a)); v128.store(st, i32x4.add(v128.load(st, 16), b), 16);
  v128.store(st, i32x4.add(v128.load(st, 32), c), 32); v128.store(st, i32x4.add(v128.load(st, 48), d), 48);
  v128.store(st, i32x4.add(v128.load(st, 64), e), 64); v128.store(st, i32x4.add(v128.load(st, 80), f), 80);
  v128.store(st, i32x4.add(v128.load(st, 96), g), 96); v128.store(st, i32x4.add(v128.load(st, 112), h), 112);
}

@inline function initState4(st: usize): void {
  for (let i: usize = 0; i < 8; i++) v128.store(st + (i << 4), v128.load32_splat(H0 + (i << 2)));
}

@inline function storeDigests4(st: usize, d0: usize, d1: usize, d2: usize, d3: usize): void {
  transpose4(v128.load(st), v128.load(st, 16), v128.load(st, 32), v128.load(st, 48), d0, d1, d2, d3);
  transpose4(v128.load(st, 64), v128.load(st, 80), v128.load(st, 96), v128.load(st, 112), d0 + 16, d1 + 16, d2 + 16, d3 + 16);
}

/** Four 64-byte messages (a Merkle `node`) hashed at once; an output may overlap its input. */
export function sha256Node4(p0: usize, p1: usize, p2: usize, p3: usize, d0: usize, d1: usize, d2: usize, d3: usize): void {
  const w = WS + WS_W4, st = WS + WS_ST4;
  loadBlocks4(w, p0, p1, p2, p3);
  expand4(w);
  initState4(st);
  rounds4(w, st);
  rounds4(CONST + CONST_PAD4, st);
  storeDigests4(st, d0, d1, d2, d3);
}

/**
 * Four Merkle leaves `SHA-256(0x00 ‖ key)` of 40-byte keys at once: a 41-byte message fits one
 * block. Reads one byte before and seven after each key (masked out), so keys must not sit at
 * the very edge of memory; TypeScript's allocator leaves that slack.
 */
export function sha256Leaf4(k0: usize, k1: usize, k2: usize, k3: usize, d0: usize, d1: usize, d2: usize, d3: usize): void {
  const w = WS + WS_W4, st = WS + WS_ST4;
  for (let q: usize = 0; q < 48; q += 16) {
    const d = w + (q << 2);
    transpose4(v128.load(k0 + q - 1), v128.load(k1 + q - 1), v128.load(k2 + q - 1), v128.load(k3 + q - 1), d, d + 16, d + 32, d + 48);
  }
  v128.store(w, v128.and(v128.load(w), i32x4.splat(0x00ffffff)));                 // byte 0 is 0x00
  v128.store(w + 160, v128.or(v128.and(v128.load(w + 160), i32x4.splat(0xff000000)), i32x4.splat(0x00800000)));
  v128.store(w + 176, i32x4.splat(0));
  v128.store(w + 192, i32x4.splat(0));
  v128.store(w + 208, i32x4.splat(0));
  v128.store(w + 224, i32x4.splat(0));
  v128.store(w + 240, i32x4.splat(41 * 8));
  expand4(w);
  initState4(st);
  rounds4(w, st);
  storeDigests4(st, d0, d1, d2, d3);
}

/**
 * Hashes `count` messages of any lengths, four lanes at a time. Job `i` sits at
 * `jobs + i * stride` as { ptr: u32, len: u32, out: u32 }; a job whose len is 0xffffffff is
 * skipped. Each lane takes the next job as soon as its message is done, so mixed lengths
 * waste no lanes until the last few jobs.
 */
export function sha256Many(jobs: usize, count: u32, stride: u32): void {
  const w = WS + WS_W4, st = WS + WS_ST4, lanes = WS + WS_LANES, zero = WS + WS_ZERO;
  memory.fill(zero, 0, 64);
  let next: u32 = 0;
  let active: u32 = 0;
  for (let lane: usize = 0; lane < 4; lane++) {
    next = assignLane(lane, jobs, count, stride, next, st, lanes);
    if (load<u32>(lanes + (lane << 4)) != 0) active++;
  }
  while (active > 0) {
    const s0 = laneBlock(0, lanes, zero), s1 = laneBlock(1, lanes, zero);
    const s2 = laneBlock(2, lanes, zero), s3 = laneBlock(3, lanes, zero);
    loadBlocks4(w, s0, s1, s2, s3);
    expand4(w);
    rounds4(w, st);
    for (let lane: usize = 0; lane < 4; lane++) {
      const l = lanes + (lane << 4);
      const job = <usize>load<u32>(l);
      if (job == 0) continue;
      const left = load<u32>(l, 8) - 1;
      store<u32>(l, left, 8);
      if (left != 0) continue;
      const out = <usize>load<u32>(job, 8);
      for (let i: usize = 0; i < 8; i++) store<u32>(out + (i << 2), bswap<u32>(load<u32>(st + (i << 4) + (lane << 2))));
      next = assignLane(lane, jobs, count, stride, next, st, lanes);
      if (load<u32>(l) == 0) active--;
    }
  }
}

// Lane record at lanes + lane*16: { job: u32 (0 = idle), offset: u32, blocksLeft: u32 }.
function assignLane(lane: usize, jobs: usize, count: u32, stride: u32, next: u32, st: usize, lanes: usize): u32 {
  const l = lanes + (lane << 4);
  while (next < count) {
    const job = jobs + <usize>next * stride;
    next++;
    const len = load<u32>(job, 4);
    if (len == 0xffffffff) continue;
    store<u32>(l, <u32>job);
    store<u32>(l, 0, 4);
    store<u32>(l, (len + 9 + 63) >>> 6, 8);
    for (let i: usize = 0; i < 8; i++) store<u32>(st + (i << 4) + (lane << 2), load<u32>(H0 + (i << 2)));
    return next;
  }
  store<u32>(l, 0);
  return next;
}

// The next block of a lane: in place while whole, else from the lane's staged, padded tail.
function laneBlock(lane: usize, lanes: usize, zero: usize): usize {
  const l = lanes + (lane << 4);
  const job = <usize>load<u32>(l);
  if (job == 0) return zero;
  const ptr = <usize>load<u32>(job), len = <usize>load<u32>(job, 4);
  const off = <usize>load<u32>(l, 4);
  store<u32>(l, <u32>(off + 64), 4);
  if (off + 64 <= len) return ptr + off;
  const stage = WS + WS_STAGE4 + (lane << 7);
  const tailStart = len & ~63;
  if (off == tailStart) {
    const rest = len - tailStart;
    memory.copy(stage, ptr + tailStart, rest);
    store<u8>(stage + rest, 0x80);
    const tailLen: usize = rest < 56 ? 64 : 128;
    memory.fill(stage + rest + 1, 0, tailLen - rest - 9);
    store<u64>(stage + tailLen - 8, bswap<u64>(<u64>len << 3));
  }
  return stage + off - tailStart;
}

/** `count` contiguous 64-byte messages at `src` into `count` contiguous digests at `dst` (dst ≤ src may overlap, as when hashing a page level). */
export function sha256Nodes(src: usize, count: usize, dst: usize): void {
  let i: usize = 0;
  for (; i + 4 <= count; i += 4) {
    const s = src + (i << 6), d = dst + (i << 5);
    sha256Node4(s, s + 64, s + 128, s + 192, d, d + 32, d + 64, d + 96);
  }
  for (; i < count; i++) sha256Node1(src + (i << 6), dst + (i << 5));
}
