import { XaeroError } from '../errors.js'

const PAGE = 65536
const ALIGN = 64
/** Bytes kept free after every region: SIMD kernels may read a few bytes past a buffer's end. */
const SLACK = 64

/**
 * The memory map of the one shared WebAssembly.Memory. Only the thread that owns it hands out
 * regions (first fit, 64-byte aligned, neighbours merged on free); other threads get the
 * pointers of the regions made for them. The map grows the memory when nothing fits.
 */
export class MemoryMap {
  private readonly free: Array<{ start: number; size: number }> = []
  private readonly sizes = new Map<number, number>()
  private top: number

  constructor(readonly memory: WebAssembly.Memory, base: number) {
    this.top = align(base + SLACK)
  }

  /** Reserves `size` bytes; returns their offset. Throws E_OUT_OF_MEMORY past the memory's maximum. */
  alloc(size: number): number {
    const need = align(Math.max(size, 1) + SLACK)
    for (let i = 0; i < this.free.length; i++) {
      const block = this.free[i]
      if (block.size < need) continue
      const start = block.start
      if (block.size === need) this.free.splice(i, 1)
      else { block.start += need; block.size -= need }
      this.sizes.set(start, need)
      return start
    }
    const start = this.top
    const end = start + need
    const have = this.memory.buffer.byteLength
    if (end > have) {
      try {
        this.memory.grow(Math.ceil((end - have) / PAGE))
      } catch (cause) {
        throw new XaeroError('E_OUT_OF_MEMORY', `cannot grow the WebAssembly memory to ${end} bytes`, { cause })
      }
    }
    this.top = end
    this.sizes.set(start, need)
    return start
  }

  /** Returns a region to the map. */
  release(ptr: number): void {
    const size = this.sizes.get(ptr)
    if (size === undefined) throw new RangeError(`no region at ${ptr}`)
    this.sizes.delete(ptr)
    let i = 0
    while (i < this.free.length && this.free[i].start < ptr) i++
    this.free.splice(i, 0, { start: ptr, size })
    const next = this.free[i + 1]
    if (next && ptr + size === next.start) { this.free[i].size += next.size; this.free.splice(i + 1, 1) }
    const prev = this.free[i - 1]
    if (prev && prev.start + prev.size === ptr) { prev.size += this.free[i].size; this.free.splice(i, 1) }
    const last = this.free[this.free.length - 1]
    if (last && last.start + last.size === this.top) { this.top = last.start; this.free.pop() }
  }

  /** Bytes currently handed out. */
  get used(): number {
    let n = 0
    for (const s of this.sizes.values()) n += s
    return n
  }
}

function align(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN
}
