import { Runtime } from './core.js'

/**
 * The runtime of the importing thread, created once when the package is first imported, so
 * that `sha256`, `encodeEvent` and friends can stay synchronous.
 */
export const runtime: Runtime = await Runtime.create()
