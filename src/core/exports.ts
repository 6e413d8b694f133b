/** The WebAssembly core's exports (assembly/index.ts). Pointers and sizes are byte offsets. */
export interface CoreExports {
  heapBase(): number
  workspaceSize(): number
  constantsSize(): number
  initConstants(constants: number): void
  attach(constants: number, workspace: number): void
  sha256(src: number, len: number, out: number): void
  sha256Node1(src: number, out: number): void
  sha256Node4(p0: number, p1: number, p2: number, p3: number, d0: number, d1: number, d2: number, d3: number): void
  sha256Nodes(src: number, count: number, dst: number): void
  sha256Leaf4(k0: number, k1: number, k2: number, k3: number, d0: number, d1: number, d2: number, d3: number): void
  sha256Many(jobs: number, count: number, stride: number): void
  crc32c(src: number, len: number, crc: number): number
  decodeEvents(table: number, count: number, out: number, group: number, maxPayload: number, maxTimestamp: number): number
  walFrame(dst: number, type: number, src: number, len: number): number
  walScan(buf: number, len: number, from: number, maxRecord: number, out: number, cap: number, result: number): number
  walFindNext(buf: number, len: number, from: number, maxRecord: number): number
  merkleLeaf(key: number, out: number): void
  merkleNode(src: number, out: number): number
  hashPage(page: number): number
  hashPageGroup(count: number, p0: number, p1: number, p2: number, p3: number, p4: number, p5: number, p6: number, p7: number): number
  hashChanged(list: number, n: number, count: number, p0: number, p1: number, p2: number, p3: number, p4: number, p5: number, p6: number, p7: number): number
  hashLeafPages(jobs: number, count: number, scratch: number): number
  merkleRoot(keys: number, n: number, pool: number, out: number): number
  merklePoolSize(): number
  sortKeys(keys: number, n: number, tmp: number): void
}

// Status codes of decodeEvents (assembly/event.ts), in order.
export const DECODE_STATUS = [
  undefined, 'E_TRUNCATED', 'E_TRAILING_BYTES', 'E_BAD_VERSION', 'E_BAD_FLAGS',
  'E_PAYLOAD_TOO_LARGE', 'E_WRONG_GROUP', 'E_FUTURE_TIMESTAMP',
  'E_BAD_SIGNATURE', // set by the validator (src/pipeline/slot.ts), not by the core
] as const

export const EVENT_DESCRIPTOR_SIZE = 64
export const WAL_FRAME_HEADER = 9
export const WAL_SCAN = { END: 0, TORN: 1, CORRUPT: 2, FULL: 3 } as const
export const PAGE_SIZE = 16384
export const KEY_SIZE = 40
/** Scratch bytes `hashLeafPages` needs per key. */
export const LEAF_PAGE_SCRATCH = 100
