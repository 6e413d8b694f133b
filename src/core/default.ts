import { XaeroError } from '../errors.js'
import { Runtime } from './core.js'

let created: Runtime | undefined
let failure: XaeroError | undefined

/**
 * The runtime of the calling thread, created on first use (synchronously: the 13 KB core
 * compiles in under a millisecond), so that importing the package runs nothing and cannot fail,
 * and `sha256`, `encodeEvent` and friends stay synchronous without a top-level await (which
 * bundles in the iife format, and bundlers targeting older browsers, cannot hold).
 *
 * Where the core cannot load (no WebAssembly, an engine that lacks a feature the module needs,
 * no shared memory), every call throws the same XaeroError E_CORE_UNAVAILABLE, which says what
 * is missing; `Xaeroflux.open` rejects with it.
 */
export function defaultRuntime(): Runtime {
  if (created) return created
  if (failure) throw failure
  try {
    return (created = Runtime.create())
  } catch (e) {
    throw (failure = e instanceof XaeroError ? e : new XaeroError('E_CORE_UNAVAILABLE', `the WebAssembly core cannot load: ${e instanceof Error ? e.message : String(e)}`, { cause: e }))
  }
}
