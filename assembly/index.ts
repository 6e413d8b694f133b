// The WebAssembly core: every export takes raw pointers into the one shared memory; TypeScript
// (src/core/) owns the memory map and the bounds of every buffer it passes.

import { WS, CONST, WORKSPACE_SIZE, CONSTANTS_SIZE } from './workspace';
import { initSha256Constants } from './sha256';
import { initCrc32cConstants } from './crc32c';

export { sha256, sha256Node1, sha256Node4, sha256Nodes, sha256Leaf4, sha256Many } from './sha256';
export { crc32c } from './crc32c';
export { decodeEvents } from './event';
export { walFrame, walScan, walFindNext } from './wal';
export { merkleLeaf, merkleNode, hashPage, hashPageGroup, hashChanged, hashLeafPages, merkleRoot, merklePoolSize, sortKeys } from './merkle';

/** First byte TypeScript may hand out: everything below holds the module's read-only data. */
export function heapBase(): usize { return __heap_base; }
export function workspaceSize(): usize { return WORKSPACE_SIZE; }
export function constantsSize(): usize { return CONSTANTS_SIZE; }

/** Fills the shared constants region; done once per memory, before any instance attaches. */
export function initConstants(constants: usize): void {
  initSha256Constants(constants);
  initCrc32cConstants(constants);
}

/** Binds this instance (one per thread) to the shared constants and its own workspace. */
export function attach(constants: usize, workspace: usize): void {
  CONST = constants;
  WS = workspace;
}
