// A raw session with a store, written frame by frame: a plain libp2p node in the test's process
// that says HELLO and then sends whatever the test tells it (test/net-hostile.test.ts drives
// liars with it, test/net-relay.test.ts the relay's frames).
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import type { Stream } from '@libp2p/interface'
import type { GroupNamespace } from '../../src/net/namespace.js'
import { FrameReader, T, encodeEnvelopes, encodeFrame, u32, type Frame } from '../../src/net/frames.js'
import { encodeHello, helloOf } from '../../src/net/handshake.js'
import { DEFAULT_LIMITS } from '../../src/net/limits.js'
import { within } from './watchdog.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A raw session of a fresh peer id: HELLO sent, the honest HELLO received; `onFrame` sees every later frame. */
export class RawPeer {
  /** The liars not stopped yet: the test stops them all when it ends, also when it fails (a libp2p node left running keeps the process alive). */
  static readonly running = new Set<RawPeer>()
  frames: Frame[] = []
  /** What our own frame handler threw (a bug of the test), reported by cutOff. */
  failure?: unknown
  closed: Promise<void>
  private constructor(readonly node: Libp2p, readonly stream: Stream, public onFrame: (f: Frame) => void = () => {}) {
    this.closed = new Promise((resolve) => stream.addEventListener('close', () => resolve()))
  }

  static async connect(addr: string, ns: GroupNamespace): Promise<RawPeer> {
    const node = await createLibp2p({ addresses: { listen: [] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
    try {
      // A's libp2p refuses more than a few new connections a second from one host (its inbound
      // connection threshold), and the liars all come from 127.0.0.1: dial again after a pause.
      let stream: Stream | undefined
      for (let attempt = 1; !stream; attempt++) {
        stream = await node.dialProtocol(multiaddr(addr), ns.sync).catch(async (e) => {
          if (attempt >= 5) throw e
          await sleep(300 * attempt)
          return undefined
        })
      }
      const liar = new RawPeer(node, stream)
      RawPeer.running.add(liar)
      const reader = new FrameReader(1 << 30)
      stream.addEventListener('message', (evt) => {
        reader.push(evt.data instanceof Uint8Array ? evt.data : evt.data.subarray())
        for (let f; (f = reader.next());) {
          liar.frames.push(f)
          try { if (f.type !== T.HELLO) liar.onFrame(f) } catch (e) { liar.failure ??= e }
        }
      })
      stream.send(encodeFrame(T.HELLO, 0, encodeHello(helloOf({ ...DEFAULT_LIMITS }, ns.ns, false, new Uint8Array(32)))))
      await within((async () => { while (!liar.frames.some((f) => f.type === T.HELLO)) await sleep(2) })(), 'the honest HELLO', 5000)
      return liar
    } catch (e) {
      await node.stop()
      throw e
    }
  }

  get id(): string { return this.node.peerId.toString() }
  send(type: number, request: number, body?: Uint8Array): void {
    if (this.stream.writeStatus !== 'writable') return
    try { this.stream.send(encodeFrame(type, request, body)) } catch {} // A hung up meanwhile
  }
  error(): string | undefined { const e = this.frames.find((f) => f.type === T.ERROR); return e && new TextDecoder().decode(e.body) }

  /** Makes A start a sync with us: a PUSH that skips a sequence number is a gap, which the side that sees it repairs by a sync. */
  gap(seq = 2): void {
    this.send(T.PUSH, seq, encodeEnvelopes([]).body)
    // Again after a while if A has not opened a sync yet (seen once: no sync within 60 s).
    setTimeout(() => { if (!this.frames.some((f) => f.type === T.SYNC) && this.stream.writeStatus === 'writable') this.gap(seq + 2) }, 1000).unref()
  }

  /** Answers A's syncs: `reply` turns each of A's reconciliation messages into ours (undefined: an empty RECON, "nothing more"); `serve` answers A's WANTs. */
  answerSyncs(reply: (message: Uint8Array, from: number, to: number) => Uint8Array | undefined, serve: (request: number, wanted: Uint8Array[]) => void): void {
    const ranges = new Map<number, [number, number]>(), wanted = new Map<number, Uint8Array[]>()
    this.onFrame = (f) => {
      if (f.type === T.SYNC) {
        const v = new DataView(f.body.buffer, f.body.byteOffset, 16)
        ranges.set(f.request, [v.getFloat64(0), v.getFloat64(8)])
        wanted.set(f.request, [])
        this.send(T.RECON, f.request, reply(f.body.subarray(16), v.getFloat64(0), v.getFloat64(8)))
      } else if (f.type === T.RECON && f.body.length > 0) {
        const [from, to] = ranges.get(f.request)!
        this.send(T.RECON, f.request, reply(f.body, from, to))
      } else if (f.type === T.WANT) {
        for (let i = 0; i < f.body.length; i += 32) wanted.get(f.request)!.push(f.body.subarray(i, i + 32))
      } else if (f.type === T.WANT_END) {
        serve(f.request, wanted.get(f.request)!)
      } else if (f.type === T.EVENTS) {
        this.send(T.ACK, f.request, u32(f.size))
      } else if (f.type === T.PUSH) {
        this.send(T.PUSH_ACK, f.request, u32(f.size))
      }
    }
    // A may have opened its sync in the same chunk as its HELLO (it syncs on connect when its id is the smaller).
    for (const f of this.frames) if (f.type !== T.HELLO) this.onFrame(f)
  }

  async stop(): Promise<void> {
    RawPeer.running.delete(this)
    try { await this.node.stop() } catch {}
  }
}

