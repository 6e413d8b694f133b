// Framing of the sync protocol (docs/NETWORK.md, "Sync protocol"): frames on one libp2p stream,
// many coalesced into one `send()`, written with the stream's own backpressure (`onDrain`).
// The protocol's flow control (windows acknowledged by the receiver) lives in session.ts; this
// module only cuts, parses and writes frames, each checked against the frame size limit before
// its body is buffered.
import type { Stream } from '@libp2p/interface'
import { XaeroError } from '../errors.js'
import { nextTask } from '../tasks.js'

/** `length u32 | type u8 | request u32 | body`: `length` counts type, request and body. */
export const FRAME_HEADER = 9

export const T = {
  HELLO: 1, AUTH: 2, PUSH: 3, PUSH_ACK: 4, ERROR: 5, HAVE: 6, FETCH: 7,
  SYNC: 16, RECON: 17, WANT: 18, WANT_END: 19, EVENTS: 20, EVENTS_END: 21, ACK: 22, CANCEL: 23, PROGRESS: 24,
} as const
export type FrameType = (typeof T)[keyof typeof T]
const KNOWN = new Set<number>(Object.values(T))

export interface Frame { type: number; request: number; body: Uint8Array; /** bytes on the wire, header included */ size: number }

/** Ids in one WANT, HAVE or FETCH frame at most (32 bytes each): bounded lookups per frame. */
export const MAX_WANT_IDS = 4096
/** Envelopes in one EVENTS or PUSH frame at most. */
export const MAX_FRAME_EVENTS = 65_535

export function encodeFrame(type: number, request: number, body: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER + body.length)
  const v = new DataView(out.buffer)
  v.setUint32(0, 5 + body.length)
  out[4] = type
  v.setUint32(5, request >>> 0)
  out.set(body, FRAME_HEADER)
  return out
}

const protocolError = (message: string, details?: Record<string, unknown>) => new XaeroError('E_PROTOCOL', message, { details })

/**
 * Cuts frames out of received chunks. `maxFrame` is checked on the header alone, so an oversized
 * frame is refused (E_PEER_LIMIT) before its body is held; an unknown type is E_PROTOCOL.
 */
export class FrameReader {
  private chunks: Uint8Array[] = []
  private length = 0
  constructor(public maxFrame: number) {}

  /** Bytes held, not yet cut into frames. */
  get buffered(): number { return this.length }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return
    this.chunks.push(chunk)
    this.length += chunk.length
  }

  /** The next whole frame, or undefined if more bytes are needed. Throws XaeroError on a bad header. */
  next(): Frame | undefined {
    if (this.length < FRAME_HEADER) return undefined
    const head = this.peek(FRAME_HEADER)
    const v = new DataView(head.buffer, head.byteOffset, FRAME_HEADER)
    const size = v.getUint32(0) + 4
    if (size < FRAME_HEADER) throw protocolError('a frame shorter than its header', { size })
    if (size > this.maxFrame) throw new XaeroError('E_PEER_LIMIT', `a frame of ${size} bytes is over the limit of ${this.maxFrame}`, { details: { limit: 'maxFrame', size, max: this.maxFrame } })
    if (!KNOWN.has(head[4])) throw protocolError(`unknown frame type ${head[4]}`, { type: head[4] })
    if (this.length < size) return undefined
    const whole = this.take(size)
    return { type: whole[4], request: new DataView(whole.buffer, whole.byteOffset).getUint32(5), body: whole.subarray(FRAME_HEADER), size }
  }

  private peek(n: number): Uint8Array {
    if (this.chunks[0].length >= n) return this.chunks[0]
    this.chunks = [concatChunks(this.chunks, this.length)]
    return this.chunks[0]
  }

  private take(n: number): Uint8Array {
    const first = this.chunks[0]
    let out: Uint8Array
    if (first.length >= n) {
      out = first.subarray(0, n)
      if (first.length === n) this.chunks.shift()
      else this.chunks[0] = first.subarray(n)
    } else {
      out = new Uint8Array(n)
      let at = 0
      while (at < n) {
        const c = this.chunks[0], k = Math.min(c.length, n - at)
        out.set(c.subarray(0, k), at)
        at += k
        if (k === c.length) this.chunks.shift()
        else this.chunks[0] = c.subarray(k)
      }
    }
    this.length -= n
    return out
  }
}

function concatChunks(chunks: Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length)
  let at = 0
  for (const c of chunks) { out.set(c, at); at += c.length }
  return out
}

/**
 * Writes frames: `write` queues a frame and returns at once; the queue goes out in one `send()`
 * per turn of the event loop (one send per small frame costs ~100× more), and after a full
 * transport buffer it waits for `drain`. Memory is bounded by the protocol's windows, not here:
 * callers that produce bulk data wait on their window (session.ts).
 */
export class FrameWriter {
  private queue: Uint8Array[] = []
  private queued = 0
  private scheduled = false
  private draining = false
  private failed = false
  /** Bytes handed to `send()` so far, frames' headers included. */
  bytesWritten = 0

  constructor(private readonly stream: Stream, private readonly onError: (e: unknown) => void, private readonly signal: AbortSignal) {}

  get pending(): number { return this.queued }

  write(frame: Uint8Array): void {
    if (this.failed) return
    this.queue.push(frame)
    this.queued += frame.length
    if (!this.scheduled && !this.draining) {
      this.scheduled = true
      nextTask(() => { this.scheduled = false; this.flush() })
    }
  }

  /** Sends what is queued now (also called by `close` before the stream is closed). */
  flush(): void {
    if (this.failed || this.draining || this.queue.length === 0) return
    const data = this.queue.length === 1 ? this.queue[0] : concatChunks(this.queue, this.queued)
    this.queue = []
    this.queued = 0
    try {
      this.bytesWritten += data.length
      if (this.stream.send(data)) return
    } catch (e) {
      this.failed = true
      this.onError(e)
      return
    }
    this.draining = true
    this.stream.onDrain({ signal: this.signal }).then(() => {
      this.draining = false
      this.flush()
    }, (e) => { this.failed = true; this.onError(e) })
  }

  /** True while the transport asked to wait for a drain. */
  get blocked(): boolean { return this.draining }
}

// --- bodies ----------------------------------------------------------------------------------

/** Envelopes as `count u32 | (length u32 | bytes)*`, after `prefix` bytes of the caller's own. */
export function encodeEnvelopes(envelopes: readonly Uint8Array[], prefix = 0): { body: Uint8Array; view: DataView } {
  let size = prefix + 4
  for (const e of envelopes) size += 4 + e.length
  const body = new Uint8Array(size)
  const view = new DataView(body.buffer)
  view.setUint32(prefix, envelopes.length)
  let at = prefix + 4
  for (const e of envelopes) { view.setUint32(at, e.length); body.set(e, at + 4); at += 4 + e.length }
  return { body, view }
}

/** Parses `encodeEnvelopes` from `at`; every length is checked against the body (E_PROTOCOL). Views, not copies. */
export function decodeEnvelopes(body: Uint8Array, at: number): Uint8Array[] {
  const view = new DataView(body.buffer, body.byteOffset, body.length)
  if (body.length < at + 4) throw protocolError('an envelope list shorter than its count')
  const count = view.getUint32(at)
  if (count > MAX_FRAME_EVENTS || count * 4 > body.length - at - 4) throw protocolError('an envelope count over what the frame can hold', { count })
  const out: Uint8Array[] = []
  at += 4
  for (let i = 0; i < count; i++) {
    if (at + 4 > body.length) throw protocolError('an envelope list ends early')
    const n = view.getUint32(at)
    if (at + 4 + n > body.length) throw protocolError('an envelope runs past its frame')
    out.push(body.subarray(at + 4, at + 4 + n))
    at += 4 + n
  }
  if (at !== body.length) throw protocolError('bytes after an envelope list')
  return out
}

/** Ids (32 bytes each) of a WANT, HAVE or FETCH frame (`what`: its name, for the error). */
export function decodeIds(body: Uint8Array, what = 'WANT'): Uint8Array[] {
  if (body.length === 0 || body.length % 32 !== 0) throw protocolError(`a ${what} frame is whole 32-byte ids, at least one`)
  const n = body.length / 32
  if (n > MAX_WANT_IDS) throw protocolError(`a ${what} of ${n} ids (at most ${MAX_WANT_IDS})`)
  const out: Uint8Array[] = []
  for (let i = 0; i < n; i++) out.push(body.subarray(i * 32, i * 32 + 32))
  return out
}

export const u32 = (n: number) => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, n >>> 0); return b }
export const readU32 = (b: Uint8Array, at = 0) => new DataView(b.buffer, b.byteOffset, b.length).getUint32(at)
