// Where each thread's scratch memory lies. TypeScript owns the memory map: it reserves one
// shared constants region (filled once) and one workspace per thread, and tells each
// instance where they are through `attach`. The two pointers live in this instance's globals,
// never in linear memory, so instances on one shared memory do not disturb each other.

export let WS: usize = 0;
export let CONST: usize = 0;

// Workspace layout (bytes from WS). Each field is 16-byte aligned.
export const WS_W4: usize = 0;          // 64 × v128: four-lane message schedule
export const WS_ST4: usize = 1024;      // 8 × v128: four-lane state
export const WS_STAGE4: usize = 1152;   // 4 lanes × 128: padded message tails
export const WS_ZERO: usize = 1664;     // 64: a zero block for idle lanes
export const WS_LANES: usize = 1728;    // 4 × 16: lane records of sha256Many
export const WS_W1: usize = 1792;       // 64 × u32: scalar schedule
export const WS_ST1: usize = 2048;      // 8 × u32: scalar state
export const WS_TAIL1: usize = 2080;    // 128: scalar padded tail
export const WS_JOBS: usize = 2208;     // 2 queues × 4 × (src u32, dst u32): Merkle hashes awaiting a batch
export const WS_COUNTS: usize = 2272;   // 256 × u32: radix sort counts
export const WS_BITS: usize = 3296;     // 8 pages × 64: heap-ordered occupancy of pages being hashed
export const WS_MSG: usize = 3808;      // 64: a staged leaf message, or a key being moved
export const WORKSPACE_SIZE: usize = 4096;

// Constants region layout (bytes from CONST).
export const CONST_PAD4: usize = 0;     // 64 × v128: W+K of a 64-byte message's padding block
export const CONST_CRC: usize = 1024;   // 8 × 256 × u32: CRC32C slicing-by-8 tables
export const CONSTANTS_SIZE: usize = 1024 + 8192;
