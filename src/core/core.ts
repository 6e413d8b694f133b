import { coreModule } from '#platform'
import { XaeroError } from '../errors.js'
import type { CoreExports } from './exports.js'
import { MemoryMap } from './memory.js'

/** What every thread needs to run the core on the shared memory; structured-cloneable. */
export interface CoreShared {
  module: WebAssembly.Module
  memory: WebAssembly.Memory
  /** Offset of the constants region, filled once by the owning thread. */
  constants: number
}

/**
 * One instance of the WebAssembly core, bound to one thread's workspace on the shared memory.
 * Typed-array views over the memory are remade when it has grown (`u8`, `dv`).
 */
export class Core {
  private _u8: Uint8Array
  private _dv: DataView

  private constructor(readonly shared: CoreShared, readonly exports: CoreExports, readonly workspace: number) {
    this._u8 = new Uint8Array(shared.memory.buffer)
    this._dv = new DataView(shared.memory.buffer)
  }

  /**
   * Instantiates the core for this thread on `shared`, using the workspace at `workspace`.
   * Synchronous: the module is compiled already, and instantiating it costs well under a
   * millisecond.
   */
  static attach(shared: CoreShared, workspace: number): Core {
    const instance = new WebAssembly.Instance(shared.module, {
      env: { memory: shared.memory, abort: () => { throw new Error('xaeroflux core aborted') } },
    })
    const exports = instance.exports as unknown as CoreExports
    exports.attach(shared.constants, workspace)
    return new Core(shared, exports, workspace)
  }

  /** A byte view of the whole memory, current after any growth. */
  get u8(): Uint8Array {
    if (this._u8.byteLength !== this.shared.memory.buffer.byteLength) this.refresh()
    return this._u8
  }

  get dv(): DataView {
    if (this._dv.byteLength !== this.shared.memory.buffer.byteLength) this.refresh()
    return this._dv
  }

  private refresh(): void {
    this._u8 = new Uint8Array(this.shared.memory.buffer)
    this._dv = new DataView(this.shared.memory.buffer)
  }
}

export interface RuntimeOptions {
  /** Largest size the shared memory may grow to, in bytes. @default 1 GiB */
  maxMemory?: number
}

/**
 * The owning thread's side of the core: the shared memory, its map, and this thread's Core.
 * Other threads receive `shared` and a workspace from `workspaceFor()`.
 */
export class Runtime {
  private constructor(readonly shared: CoreShared, readonly map: MemoryMap, readonly core: Core) {}

  /**
   * Loads the core (the platform's `coreModule`) on a new shared memory. Synchronous, so that the
   * package needs no top-level await (src/core/default.ts). What the engine lacks is an
   * XaeroError E_CORE_UNAVAILABLE that names it: WebAssembly itself, a shared memory, or a
   * feature the module uses (it does not compile or instantiate).
   */
  static create(options: RuntimeOptions = {}): Runtime {
    if (typeof WebAssembly !== 'object' || WebAssembly === null) {
      throw new XaeroError('E_CORE_UNAVAILABLE', 'WebAssembly is not available here (turned off by the browser, a policy or a flag): the store\'s core is WebAssembly')
    }
    const maximum = Math.ceil((options.maxMemory ?? 1 << 30) / 65536)
    let memory: WebAssembly.Memory
    try {
      memory = new WebAssembly.Memory({ initial: 32, maximum, shared: true })
    } catch (cause) {
      throw new XaeroError('E_CORE_UNAVAILABLE', `cannot create the shared WebAssembly.Memory the core runs on: ${describe(cause)}`, { cause })
    }
    const module = coreModule()
    let probe: Core
    try {
      probe = Core.attach({ module, memory, constants: 0 }, 0)
    } catch (cause) {
      throw new XaeroError('E_CORE_UNAVAILABLE', `the WebAssembly core does not instantiate here: ${describe(cause)}`, { cause })
    }
    const map = new MemoryMap(memory, probe.exports.heapBase())
    const constants = map.alloc(probe.exports.constantsSize())
    probe.exports.initConstants(constants)
    const shared: CoreShared = { module, memory, constants }
    const core = Core.attach(shared, map.alloc(probe.exports.workspaceSize()))
    return new Runtime(shared, map, core)
  }

  /** A fresh workspace for another thread's Core; release it with `map.release` when the thread ends. */
  workspaceFor(): number {
    return this.map.alloc(this.core.exports.workspaceSize())
  }

  /** Runs `fn` with a temporary region of `size` bytes. */
  withRegion<T>(size: number, fn: (ptr: number) => T): T {
    const ptr = this.map.alloc(size)
    try {
      return fn(ptr)
    } finally {
      this.map.release(ptr)
    }
  }
}

function describe(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause)
}
