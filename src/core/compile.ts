// Compiling the core's bytes, shared by both platforms' `coreModule` (src/platform/): apart
// from src/core/core.ts, which imports the platform.
import { XaeroError } from '../errors.js'

/**
 * Compiles the core's bytes; a module the engine cannot compile (it lacks SIMD, threads or bulk
 * memory, or the bytes are damaged) is E_CORE_UNAVAILABLE. Used by both platforms' `coreModule`.
 */
export function compileCore(bytes: Uint8Array<ArrayBuffer>): WebAssembly.Module {
  try {
    return new WebAssembly.Module(bytes)
  } catch (cause) {
    throw new XaeroError('E_CORE_UNAVAILABLE', `the WebAssembly core does not compile here (it uses SIMD, threads and bulk memory): ${cause instanceof Error ? cause.message : String(cause)}`, { cause })
  }
}

