import { compileCoreModule } from '#platform'
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

  /** Instantiates the core for this thread on `shared`, using the workspace at `workspace`. */
  static async attach(shared: CoreShared, workspace: number): Promise<Core> {
    const instance = await WebAssembly.instantiate(shared.module, {
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

  static async create(options: RuntimeOptions = {}): Promise<Runtime> {
    const maximum = Math.ceil((options.maxMemory ?? 1 << 30) / 65536)
    const memory = new WebAssembly.Memory({ initial: 32, maximum, shared: true })
    const module = await compileCoreModule()
    const probe = await Core.attach({ module, memory, constants: 0 }, 0)
    const map = new MemoryMap(memory, probe.exports.heapBase())
    const constants = map.alloc(probe.exports.constantsSize())
    probe.exports.initConstants(constants)
    const shared: CoreShared = { module, memory, constants }
    const core = await Core.attach(shared, map.alloc(probe.exports.workspaceSize()))
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
