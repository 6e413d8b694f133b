// A sync session with one peer over one long-lived libp2p stream (docs/NETWORK.md, "Sync
// protocol"): the handshake (handshake.ts), then requests multiplexed by id — syncs started by
// either side, each a reconciliation followed by event transfer both ways under windows the
// receiver acknowledges — and live pushes with sequence numbers. Framing is frames.ts, limits
// limits.ts. Every peer-caused failure aborts the stream with an XaeroError and emits 'close'.
import type { Stream } from '@libp2p/interface'
import { ErrorCodes, XaeroError, type XaeroErrorCode } from '../errors.js'
import type { Event } from '../event.js'
import { concat } from '../bytes.js'
import { hexInto, toHex } from '../hex.js'
import { DEFAULT_BUDGET, type Reconciliation } from '../sync/session.js'
import { nodeBounds, type Addr } from '../sync/codec.js'
import { compareKeys, timeBound } from '../merkle/keys.js'
import { yieldToEventLoop } from '../tasks.js'
import {
  FrameReader, FrameWriter, MAX_FRAME_EVENTS, MAX_WANT_IDS, T, decodeEnvelopes, decodeIds, encodeEnvelopes, encodeFrame, readU32, u32,
  type Frame,
} from './frames.js'
import { HANDSHAKE_FRAME, NONCE, checkHello, constantTimeEqual, encodeHello, helloOf, proof, type Hello, type ProofRole, type Role } from './handshake.js'
import { TokenBucket, resolveLimits, type PeerLimits } from './limits.js'
import type { GroupNamespace } from './namespace.js'
import { RecentIds, envelopeIds } from './dedup.js'
import { NamedSubtrees, envelopeKeyHex } from './subtrees.js'

export { DEFAULT_LIMITS, type PeerLimits } from './limits.js'

/** What a peer session needs of the local store (the integrator implements it over Xaeroflux). */
export interface SyncHost {
  reconcile(options: { from?: number; to?: number; signal?: AbortSignal; subtrees?: boolean }): Reconciliation
  /** Envelopes (raw bytes) of stored events with these ids (hex); missing ones are left out. */
  envelopes(ids: readonly string[]): Promise<Uint8Array[]>
  /** Envelopes of the stored events with keys in [lo, hi) (no upper bound without `hi`), in key order, in arrays of about `bytes` bytes. */
  envelopesBetween(lo: Uint8Array, hi: Uint8Array | undefined, bytes: number): AsyncGenerator<Uint8Array[]>
  /**
   * Validates and stores envelopes received from `peer`: the same validate → verify → index path
   * as a local ingest; one result per envelope, null for one the store already held (skipped).
   * `ids`, when given, are the envelopes' ids (hex; undefined where the length does not add up),
   * computed already by the session: the host need not hash them again.
   */
  ingest(envelopes: readonly Uint8Array[], peer: string, ids?: ReadonlyArray<string | undefined>): Promise<Array<Event | XaeroError | null>>
  /**
   * Of the ids (hex) `peer` announced (HAVE: events it indexed that came from elsewhere), the ones
   * to fetch from it now; the session sends FETCH for them. Without it, every one announced.
   */
  announced?(ids: string[], peer: string): string[]
}

/** What `db.syncWith` did. */
export interface SyncResult {
  /** Reconciliation messages this side sent. */
  rounds: number
  /** Bytes of this sync's frames, headers included, each way. */
  bytesSent: number
  /** Bytes of the frames received. */
  bytesReceived: number
  /** Envelopes sent to the peer. */
  eventsSent: number
  /** Valid envelopes received from the peer (already stored ones included). */
  eventsReceived: number
  /** Time the sync took (ms). */
  ms: number
}

/** Detail of a 'sync' event: a sync this side ran (`initiator: 'local'`) or served (`'remote'`) finished. */
export interface SyncDetail { result: SyncResult; initiator: 'local' | 'remote'; from: number; to: number }
/** Detail of a 'gap' event: live pushes from the peer were skipped (its queue for this side overflowed); run `sync()`. */
export interface GapDetail { missed: number; seq: number }
/** Detail of a 'close' event: `reason` is an XaeroError when the peer broke a rule (E_PROTOCOL, E_AUTH, E_PEER_LIMIT, E_TIMEOUT, E_BAD_EVENT) or the stream ended (E_STREAM_CLOSED). */
export interface CloseDetail { reason?: unknown; byPeer: boolean }

export interface SessionOptions {
  role: Role
  host: SyncHost
  ns: GroupNamespace
  localPeer: string
  remotePeer: string
  limits?: Partial<PeerLimits>
  signal?: AbortSignal
  /** Listener only: this side keeps as many sessions as it may, so the handshake refuses the session (E_PEER_FULL on both sides; not a fault of either). */
  full?: boolean
}

/** Validation failures that only a faulty or hostile peer sends: the stream is aborted with E_BAD_EVENT. */
const PEER_FAULTS = new Set<XaeroErrorCode>(['E_TRUNCATED', 'E_TRAILING_BYTES', 'E_BAD_VERSION', 'E_BAD_FLAGS', 'E_PAYLOAD_TOO_LARGE', 'E_WRONG_GROUP', 'E_BAD_SIGNATURE', 'E_NOT_WRITER'])
/** Refused but tolerated: an honest peer with a clock ahead can hold such events. */
const TOLERATED = new Set<XaeroErrorCode>(['E_FUTURE_TIMESTAMP'])
/** Ids fetched from the host at once when serving, at first (then sized from the envelopes seen to about one frame). */
const FETCH_IDS = 128
/** EVENTS frames of one sync being ingested at once (see receiveEvents). */
const INGESTS_IN_FLIGHT = 3

const protocol = (message: string, details?: Record<string, unknown>) => new XaeroError('E_PROTOCOL', message, { details })
const limit = (name: keyof PeerLimits, message: string, details: Record<string, unknown> = {}) =>
  new XaeroError('E_PEER_LIMIT', message, { details: { limit: name, ...details } })
/** The ids and subtrees a side's reconciliation found, gathered as it goes (`Reconciliation.takeFound`). */
class Gathered {
  readonly need: string[] = []
  readonly have: string[] = []
  readonly haveSubtrees: Addr[] = []
  add(f: { need: string[]; have: string[]; haveSubtrees: Addr[] }): void {
    for (const id of f.need) this.need.push(id)
    for (const id of f.have) this.have.push(id)
    for (const addr of f.haveSubtrees) this.haveSubtrees.push(addr)
  }
}

const asXaeroError = (e: unknown) => e instanceof XaeroError ? e : new XaeroError('E_ABORTED', 'the sync failed', { cause: e })
const f64 = (n: number) => { const b = new Uint8Array(8); new DataView(b.buffer).setFloat64(0, n); return b }

interface Received { envelopes: Uint8Array[]; size: number }
/** A live push queued for the peer: an envelope (PUSH), or the id of an event to announce (HAVE). */
interface Outgoing { type: typeof T.PUSH | typeof T.HAVE; bytes: Uint8Array; id?: string }

/** One sync in flight, started by this side (`local`) or by the peer. */
class Request {
  recon: Uint8Array[] = []
  reconDone = false
  /**
   * Whose reconciliation message is due: this side's ('local': it holds the peer's last message),
   * the peer's, or nobody's once either side said it has nothing more; 'opening' until the
   * initiator's SYNC is sent. A PROGRESS is in turn while the peer's is due, or while the peer
   * may owe this side events (`spoke`, and no EVENTS_END yet).
   */
  turn: 'opening' | 'local' | 'peer' | 'done'
  /** Reads of envelopes for the peer in flight: the peer waits for their EVENTS. */
  reads = 0
  /** This side sent a reconciliation message (the SYNC's, or a reply): from then on the peer may owe it events. */
  spoke = false
  /** When this side's work the peer waits on began (its turn, a read), or it last told the peer it is still at work (PROGRESS). */
  workingSince = performance.now()
  /** Reconciliation messages received, and applied by this side's reconciliation. */
  reconReceived = 0
  reconApplied = 0
  /** Responder: ids the peer wants, not yet served; whether it said it wants no more. */
  wants: Uint8Array[] = []
  wantsEnded = false
  /** Initiator: ids asked for and not yet accounted for by the peer's EVENTS. */
  wantOutstanding = 0
  /** Initiator: ids (hex) the reconciliation said the peer has and this side lacks, not yet received. */
  wanted?: Set<string>
  /** Initiator: subtrees where the peer has events and this side had none, and events received under them. */
  readonly subtrees = new NamedSubtrees()
  subtreeEvents = 0
  /** EVENTS frames received, with the reconciliation messages received before each (their subtrees may be what it carries). */
  events: Array<Received & { recon: number }> = []
  eventsEnded = false
  /** Bytes of EVENTS received and not yet acknowledged, and sent and not yet acknowledged. */
  recvUnacked = 0
  sentUnacked = 0
  bytesIn = 0
  bytesOut = 0
  eventsSent = 0
  eventsReceived = 0
  rounds = 0
  readonly started = performance.now()
  /** Progress on the request: a frame of it from the peer other than PROGRESS, or a local step done. */
  lastProgress = performance.now()
  /** The last progress, or PROGRESS from the peer: what the idle limit counts from. */
  lastHeard = performance.now()
  failure?: XaeroError
  readonly controller = new AbortController()
  private waiters: Array<() => void> = []

  constructor(readonly id: number, readonly local: boolean, readonly from: number, readonly to: number) {
    this.turn = local ? 'opening' : 'local'
  }

  touch(): void { this.lastProgress = this.lastHeard = performance.now() }
  /** Sets whose message is due after this side sent one (`sent`: empty when it has nothing more). */
  sentRecon(sent: Uint8Array | undefined): void { this.turn = sent && sent.length > 0 ? 'peer' : 'done'; this.spoke = true }
  wake(): void { const w = this.waiters; this.waiters = []; for (const f of w) f() }
  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms)
      this.waiters.push(() => { clearTimeout(t); resolve() })
    })
  }
  fail(e: XaeroError): void {
    this.failure ??= e
    this.controller.abort(this.failure)
    this.wake()
  }
}

type State = 'hello' | 'auth' | 'open' | 'closed'

/**
 * A peer session: create with `PeerSession.open(stream, …)` on a fresh stream of `ns.sync`
 * (dialer on the outbound stream, listener on the inbound one). Events: 'sync', 'gap', 'close'.
 */
export class PeerSession extends EventTarget {
  readonly remotePeer: string
  readonly localPeer: string
  readonly role: Role
  private readonly host: SyncHost
  private readonly ns: GroupNamespace
  private readonly limits: PeerLimits
  private readonly reader: FrameReader
  private readonly writer: FrameWriter
  private readonly closing = new AbortController()
  private state: State = 'hello'
  private peer?: Hello
  /** A listener refusing this session because it is full (SessionOptions.full). */
  private readonly full: boolean
  private readonly nonce = globalThis.crypto.getRandomValues(new Uint8Array(NONCE))
  private readonly requests = new Map<number, Request>()
  /** The outcome of the first sync over everything the peer opened on this session (its result, or undefined if it failed). */
  private firstPeerSync?: Promise<SyncResult | undefined>
  /** Settles when that sync opens or the session closes: what `peerSyncOutcome` calls wait on. */
  private peerSyncOpened?: { promise: Promise<void>; resolve: () => void }
  private nextId: number
  private lastPeerId = 0
  private closed?: Promise<void>
  private ready = deferred()
  private watchdog?: ReturnType<typeof setInterval>
  // live push, sending
  private pushQueue: Outgoing[] = []
  /** Ids announced to the peer (HAVE) and not yet fetched: a FETCH is served for these only, each once. */
  private readonly announcedOut: RecentIds
  /** FETCHes of the peer to serve, in order (each id one it was announced: bounded by `announcedOut`). */
  private fetchInbox: string[][] = []
  private serving = false
  private pushSeq = 0
  private gapPending = false
  private pushUnackedOut = 0
  private lastPushAck = performance.now()
  private pushTimer?: ReturnType<typeof setTimeout>
  private pumpScheduled = false
  private bucketOut?: TokenBucket
  // live push, receiving
  private pushSeqIn = 0
  private pushUnackedIn = 0
  private pushInbox: Array<Received & { seq: number; have?: Uint8Array[] }> = []
  private pushWake?: () => void
  private readonly bucketIn: TokenBucket
  // syncs opened by each side, paced by the receiver's syncRate
  private readonly syncsIn: TokenBucket
  private syncsOut?: TokenBucket
  /**
   * Live pushes sent, dropped (queue overflow) and received; ids announced (HAVE) to the peer and
   * by it; ids this side fetched, and of the peer's fetches those it served; gaps seen in the
   * peer's pushes; frames and bytes received, by type.
   */
  readonly stats = {
    pushedEvents: 0, pushDropped: 0, pushReceived: 0, announced: 0, announcedIn: 0, fetched: 0, served: 0, gapsSeen: 0,
    framesIn: 0, bytesIn: 0, byType: {} as Record<number, number>,
  }

  private constructor(private readonly stream: Stream, options: SessionOptions) {
    super()
    this.role = options.role
    this.host = options.host
    this.ns = options.ns
    this.localPeer = options.localPeer
    this.remotePeer = options.remotePeer
    this.full = options.role === 'listener' && options.full === true
    this.limits = resolveLimits(options.limits)
    this.nextId = this.role === 'dialer' ? 0 : -1 // dialer's requests are even, listener's odd
    this.reader = new FrameReader(HANDSHAKE_FRAME)
    this.writer = new FrameWriter(stream, (e) => this.fail(new XaeroError('E_STREAM_CLOSED', 'writing to the stream failed', { cause: e })), this.closing.signal)
    this.bucketIn = new TokenBucket(this.limits.pushRate, this.limits.pushBurst)
    this.syncsIn = new TokenBucket(this.limits.syncRate / 60, this.limits.syncBurst)
    this.announcedOut = new RecentIds(this.limits.pushQueue)
    this.ready.promise.catch(() => {})
  }

  /**
   * Runs the handshake on a fresh stream of protocol `ns.sync`; rejects with an XaeroError (and
   * closes/aborts the stream) if it fails: E_PROTOCOL (version, namespace), E_AUTH (secret
   * group), E_TIMEOUT (`limits.handshakeMs`), E_ABORTED (`signal`), E_STREAM_CLOSED.
   */
  static async open(stream: Stream, options: SessionOptions): Promise<PeerSession> {
    if (!options || typeof options !== 'object') throw new TypeError('PeerSession.open takes (stream, { role, host, ns, localPeer, remotePeer })')
    if (options.role !== 'dialer' && options.role !== 'listener') throw new TypeError("role is 'dialer' or 'listener'")
    const host = options.host
    if (!host || typeof host.reconcile !== 'function' || typeof host.envelopes !== 'function' || typeof host.envelopesBetween !== 'function' || typeof host.ingest !== 'function') throw new TypeError('host must implement SyncHost')
    if (!options.ns || typeof options.ns.ns !== 'string') throw new TypeError('ns must be a GroupNamespace')
    if (typeof options.localPeer !== 'string' || typeof options.remotePeer !== 'string' || options.localPeer === options.remotePeer) throw new TypeError('localPeer and remotePeer are two different peer ids')
    if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) throw new TypeError('signal must be an AbortSignal')
    const session = new PeerSession(stream, options)
    await session.start(options.signal)
    return session
  }

  private async start(signal?: AbortSignal): Promise<void> {
    const timer = setTimeout(() => this.fail(new XaeroError('E_TIMEOUT', `the handshake did not finish within ${this.limits.handshakeMs} ms`, { details: { limit: 'handshakeMs' } })), this.limits.handshakeMs)
    const onAbort = () => this.fail(new XaeroError('E_ABORTED', 'the handshake was aborted', { cause: signal?.reason }))
    signal?.addEventListener('abort', onAbort, { once: true })
    this.stream.addEventListener('message', (evt) => {
      const data = evt.data
      this.onData(data instanceof Uint8Array ? data : data.subarray())
    })
    this.stream.addEventListener('close', (evt) => {
      if (this.state !== 'closed') void this.shutdown(new XaeroError('E_STREAM_CLOSED', evt.error ? 'the stream was reset or failed' : 'the stream closed', { cause: evt.error }), false, true)
    })
    this.stream.addEventListener('remoteCloseWrite', () => {
      if (this.state !== 'closed') void this.shutdown(new XaeroError('E_STREAM_CLOSED', 'the peer closed the stream'), false, true)
    })
    try {
      if (signal?.aborted) onAbort()
      if (this.stream.status !== 'open') this.fail(new XaeroError('E_STREAM_CLOSED', `the stream is ${this.stream.status}`))
      const auth = this.ns.authKey !== undefined
      this.send(T.HELLO, 0, encodeHello(helloOf(this.limits, this.ns.ns, auth, this.nonce, this.full && !auth)))
      if (this.full && !auth) this.refuseFull()
      await this.ready.promise
    } catch (e) {
      await this.closed // the stream is closed or aborted when `open` rejects
      throw e
    } finally {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
    }
  }

  // --- reading and dispatch ---------------------------------------------------------------------

  private onData(chunk: Uint8Array): void {
    if (this.state === 'closed') return
    try {
      this.reader.push(chunk)
      let frame: Frame | undefined
      while ((this.state as State) !== 'closed' && (frame = this.reader.next())) this.dispatch(frame)
    } catch (e) {
      this.fail(e instanceof XaeroError ? e : protocol('a frame could not be handled', { cause: String(e) }))
    }
  }

  /** Handles one frame, synchronously and in bounded work: it checks the frame and queues it for the loop that acts on it. */
  private dispatch(f: Frame): void {
    this.stats.framesIn++
    this.stats.bytesIn += f.size
    this.stats.byType[f.type] = (this.stats.byType[f.type] ?? 0) + 1
    if (this.state === 'hello') {
      if (f.type !== T.HELLO) throw protocol('a frame before HELLO', { type: f.type })
      this.peer = checkHello(f.body, this.ns.ns, this.ns.authKey !== undefined)
      if (this.peer.full) {
        if (this.role !== 'dialer') throw protocol('a dialer\'s HELLO that says full')
        return this.peerFull()
      }
      if (!this.ns.authKey) return this.opened()
      this.state = 'auth'
      this.send(T.AUTH, 0, this.proofOf(this.full ? 'full' : this.role))
      if (this.full) this.refuseFull()
      return
    }
    if (this.state === 'auth') {
      if (f.type !== T.AUTH) throw new XaeroError('E_AUTH', 'the peer did not send its proof of the group secret', { details: { type: f.type } })
      if (constantTimeEqual(f.body, this.proofOf(this.role === 'dialer' ? 'listener' : 'dialer'))) return this.opened()
      if (this.role === 'dialer' && constantTimeEqual(f.body, this.proofOf('full'))) return this.peerFull()
      throw new XaeroError('E_AUTH', 'the peer failed the proof of the group secret')
    }
    switch (f.type) {
      case T.HELLO: case T.AUTH: throw protocol('a second handshake frame', { type: f.type })
      case T.ERROR: {
        const text = new TextDecoder().decode(f.body.subarray(0, 512))
        const [code, ...rest] = text.split('\n')
        const cause = new XaeroError(isCode(code) ? code : 'E_PROTOCOL', `the peer: ${rest.join(' ').slice(0, 256)}`)
        void this.shutdown(new XaeroError('E_STREAM_CLOSED', `the peer closed the session (${cause.code})`, { cause }), false, true)
        return
      }
      case T.PUSH: case T.HAVE: return this.onPush(f)
      case T.FETCH: return this.onFetch(f)
      case T.PUSH_ACK: {
        if (f.body.length !== 4) throw protocol('a PUSH_ACK is 4 bytes')
        const n = readU32(f.body)
        if (n > this.pushUnackedOut) throw protocol('a PUSH_ACK of more bytes than were pushed')
        this.pushUnackedOut -= n
        this.lastPushAck = performance.now()
        this.schedulePump()
        return
      }
      case T.SYNC: return this.onSyncOpen(f)
    }
    const req = this.requests.get(f.request)
    if (!req) {
      // A request this side ended (cancelled or finished) may still get frames the peer sent meanwhile.
      if (this.ownsId(f.request) || f.request <= this.lastPeerId) return
      throw protocol('a frame for a request never opened', { request: f.request, type: f.type })
    }
    req.bytesIn += f.size
    // In a sync this side opened, what arrives is what it asked for (each event is checked against
    // its wants, reconciliation messages against the reconciliation's budget): an honest catch-up
    // of more than syncBytes must not read as the peer breaking a limit. The peer's own syncs are bounded here.
    if (!req.local && req.bytesIn > this.limits.syncBytes) throw limit('syncBytes', `a sync received more than ${this.limits.syncBytes} bytes`, { request: req.id })
    if (f.type === T.PROGRESS) {
      // The peer is still at work on its message, or on reading the events it still owes: the
      // idle limit starts again, the busy limit does not.
      const owesEvents = req.spoke && !req.eventsEnded
      if ((req.turn !== 'peer' && !owesEvents) || f.body.length !== 0) throw protocol('a PROGRESS out of turn', { request: req.id })
      req.lastHeard = performance.now()
      return
    }
    req.touch()
    switch (f.type) {
      case T.RECON:
        if (req.turn !== 'peer') throw protocol('a reconciliation message out of turn', { request: req.id })
        req.turn = f.body.length > 0 ? 'local' : 'done'
        req.workingSince = performance.now()
        req.recon.push(f.body)
        req.reconReceived++
        break
      case T.WANT: {
        if (req.local || req.wantsEnded) throw protocol('a WANT out of place', { request: req.id })
        const ids = decodeIds(f.body)
        if (req.wants.length + ids.length > this.limits.wantWindow) throw limit('wantWindow', `the peer wants more than ${this.limits.wantWindow} ids at once`, { request: req.id })
        for (const id of ids) req.wants.push(id)
        break
      }
      case T.WANT_END:
        if (req.local || req.wantsEnded || f.body.length !== 0) throw protocol('a WANT_END out of place', { request: req.id })
        req.wantsEnded = true
        break
      case T.EVENTS: {
        if (req.eventsEnded || f.body.length < 4) throw protocol('an EVENTS frame out of place', { request: req.id })
        if (req.recvUnacked >= this.limits.window) throw limit('window', `the peer sent EVENTS past its window of ${this.limits.window} bytes`, { request: req.id })
        const served = readU32(f.body)
        if (req.local ? served > req.wantOutstanding : served !== 0) throw protocol('EVENTS account for ids never asked for', { request: req.id, served })
        const envelopes = decodeEnvelopes(f.body, 4)
        req.wantOutstanding -= served
        req.recvUnacked += f.size
        req.events.push({ envelopes, size: f.size, recon: req.reconReceived })
        break
      }
      case T.EVENTS_END:
        if (req.eventsEnded || f.body.length !== 0) throw protocol('an EVENTS_END out of place', { request: req.id })
        req.eventsEnded = true
        break
      case T.ACK: {
        if (f.body.length !== 4) throw protocol('an ACK is 4 bytes')
        const n = readU32(f.body)
        if (n > req.sentUnacked) throw protocol('an ACK of more bytes than were sent', { request: req.id })
        req.sentUnacked -= n
        break
      }
      case T.CANCEL:
        req.fail(new XaeroError('E_ABORTED', 'the peer cancelled the sync'))
        this.requests.delete(req.id)
        break
      default:
        throw protocol('an unexpected frame', { type: f.type })
    }
    req.wake()
  }

  private opened(): void {
    this.state = 'open'
    this.reader.maxFrame = this.limits.maxFrame
    const peer = this.peer!
    // Pace pushes a little under the peer's announced rate: its bucket starts when it reads our frames.
    this.bucketOut = new TokenBucket(Math.max(1, Math.floor(peer.pushRate * 0.95)), Math.max(1, Math.floor(peer.pushBurst * 0.95)))
    this.syncsOut = new TokenBucket((peer.syncRate * 0.95) / 60, Math.max(1, Math.floor(peer.syncBurst * 0.95)))
    // Often enough for this side's idle limit and for the PROGRESS the peer's needs (every third of it).
    this.watchdog = setInterval(() => this.checkIdle(), Math.max(50, Math.min(1000, this.limits.idleMs / 4, peer.idleMs / 6)))
    this.watchdog.unref?.()
    void this.pushLoop()
    this.ready.resolve()
  }

  /** This side is full: it ends the session once its HELLO (and, in a secret group, its proof) said so. */
  private refuseFull(): void {
    void this.shutdown(new XaeroError('E_PEER_FULL', `this side keeps as many sessions as it may: ${this.remotePeer} was refused`), false, false)
  }

  /** The peer refused the session in its handshake: it is full. Not a fault: try another peer. */
  private peerFull(): void {
    void this.shutdown(new XaeroError('E_PEER_FULL', `${this.remotePeer} keeps as many sessions as it may: try another peer`), false, true)
  }

  private proofOf(role: ProofRole): Uint8Array {
    const dialer = this.role === 'dialer' ? this.localPeer : this.remotePeer
    const listener = this.role === 'dialer' ? this.remotePeer : this.localPeer
    const dn = this.role === 'dialer' ? this.nonce : this.peer!.nonce
    const ln = this.role === 'dialer' ? this.peer!.nonce : this.nonce
    return proof(this.ns.authKey!, dialer, listener, dn, ln, role)
  }

  private ownsId(id: number): boolean { return (id & 1) === (this.role === 'dialer' ? 0 : 1) }

  /**
   * Idle limits not tied to one request's wait (unacknowledged pushes); and PROGRESS for each sync
   * whose reconciliation step this side has been at for a third of the peer's idle limit, so that
   * a step that is slow, not stuck, does not get this side cut off. A step of a process starved
   * of CPU (20 peers on 2 cores, each appending and indexing) took 6–25 s: its peers cut off
   * 100–120 honest sessions a run at the 30 s limit (docs/dev/latency.md, sessions 21 and 22).
   */
  private checkIdle(): void {
    const now = performance.now()
    if (this.pushUnackedOut > 0 && now - this.lastPushAck > this.limits.idleMs) {
      this.fail(new XaeroError('E_TIMEOUT', `the peer acknowledged no push for ${this.limits.idleMs} ms`, { details: { limit: 'idleMs' } }))
      return
    }
    const every = this.peer!.idleMs / 3
    for (const req of this.requests.values()) {
      if ((req.turn !== 'local' && req.reads === 0) || req.failure || now - req.workingSince < every) continue
      req.workingSince = now
      req.bytesOut += this.send(T.PROGRESS, req.id)
    }
  }

  private send(type: number, request: number, body?: Uint8Array): number {
    const frame = encodeFrame(type, request, body)
    this.writer.write(frame)
    return frame.length
  }

  // --- syncs ---------------------------------------------------------------------------------------

  /**
   * Reconciles with the peer over [from, to) and exchanges what each lacks, both ways; resolves
   * once this side has stored what it received and the peer acknowledged storing what it was
   * sent. Fails with the session's close reason if the session ends, E_ABORTED on `signal` or
   * when the peer cancels, or the store's error (E_CLOSED, E_BUDGET, E_IO).
   */
  async sync(options: { from?: number; to?: number; signal?: AbortSignal } = {}): Promise<SyncResult> {
    if (typeof options !== 'object' || options === null) throw new TypeError('sync options must be an object')
    const from = options.from ?? 0, to = options.to ?? Number.MAX_SAFE_INTEGER
    if (typeof from !== 'number' || typeof to !== 'number' || !(from >= 0) || !(to >= from)) throw new RangeError('sync needs 0 ≤ from ≤ to')
    if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) throw new TypeError('signal must be an AbortSignal')
    if (this.state !== 'open') throw this.closeReason ?? new XaeroError('E_STREAM_CLOSED', 'the session is not open')
    this.nextId += 2
    if (this.nextId > 0xfffffffd) throw new XaeroError('E_PEER_LIMIT', 'request ids are exhausted: open a new session', { details: { limit: 'requests' } })
    const req = new Request(this.nextId, true, from, to)
    this.requests.set(req.id, req)
    const onAbort = () => req.fail(new XaeroError('E_ABORTED', 'the sync was aborted', { cause: options.signal?.reason }))
    options.signal?.addEventListener('abort', onAbort, { once: true })
    if (options.signal?.aborted) onAbort()
    try {
      // Under the peer's announced sync rate: a sync over it would get this side cut off.
      for (let ms; (ms = this.syncsOut!.waitFor(1)) > 0;) {
        await req.wait(ms)
        if (req.failure) throw req.failure
      }
      this.syncsOut!.take(1)
      const rec = this.host.reconcile({ from, to, signal: req.controller.signal, subtrees: true })
      const first = await rec.open()
      req.bytesOut += this.send(T.SYNC, req.id, concat(f64(from), f64(to), first))
      // The peer's clock starts now, not when the request was made: under load, waiting for the
      // sync rate and opening (the Merkle tree taken back from index batches) took up to 24 s of
      // the 30 s idle limit in the 20-peer bench.
      req.turn = 'peer'
      req.spoke = true
      req.touch()
      // The events move while the reconciliation goes on: each id is asked for (or sent), and
      // each subtree sent, as soon as a message shows it missing (docs/NETWORK.md, Sync).
      const found = new Gathered()
      req.wanted = new Set()
      const moving = Promise.all([this.pull(req, found.need), this.give(req, found), this.receiveEvents(req)])
      moving.catch((e) => req.fail(asXaeroError(e))) // and awaited below: a failure there ends the reconciliation too
      const take = () => {
        const f = rec.takeFound()
        found.add(f)
        req.subtrees.add(f.needSubtrees)
        req.wake()
      }
      take()
      for (;;) {
        await this.until(req, () => req.recon.length > 0, 'a reconciliation message')
        const message = req.recon.shift()!
        if (message.length === 0) break
        const reply = await this.reconcileStep(rec, message)
        req.reconApplied++
        req.touch()
        req.bytesOut += this.send(T.RECON, req.id, reply) // empty: nothing more to say
        req.sentRecon(reply)
        take() // after the message that names its subtrees: their events follow it on the stream
        if (!reply) break
      }
      req.reconDone = true
      req.rounds = rec.stats.rounds
      req.wake()
      await moving
      if (req.wantOutstanding !== 0) throw this.fail(protocol('the peer ended its events with ids still unaccounted for', { request: req.id }))
      // The peer said it had these (its reconciliation messages) and did not send them: an honest
      // peer serves every id its own index gave it (events are never deleted).
      if (req.wanted.size > 0) throw this.fail(protocol(`the peer claimed ${req.wanted.size} events it did not send`, { request: req.id, missing: req.wanted.size }))
      const result = this.result(req)
      this.emit('sync', { result, initiator: 'local', from, to } satisfies SyncDetail)
      return result
    } catch (e) {
      throw this.endRequest(req, e)
    } finally {
      options.signal?.removeEventListener('abort', onAbort)
      this.requests.delete(req.id)
    }
  }

  /** A SYNC from the peer: opens its request (bounded by `maxRequests`) and serves it. */
  private onSyncOpen(f: Frame): void {
    if (this.ownsId(f.request) || f.request <= this.lastPeerId) throw protocol('a SYNC with a request id out of order', { request: f.request })
    let serving = 0
    for (const r of this.requests.values()) if (!r.local) serving++
    if (serving >= this.limits.maxRequests) throw limit('maxRequests', `the peer runs more than ${this.limits.maxRequests} syncs at once`)
    if (!this.syncsIn.take(1)) throw limit('syncRate', `the peer opened more than ${this.limits.syncRate} syncs a minute (burst ${this.limits.syncBurst})`)
    if (f.body.length < 16) throw protocol('a SYNC shorter than its range')
    const v = new DataView(f.body.buffer, f.body.byteOffset, f.body.length)
    const from = v.getFloat64(0), to = v.getFloat64(8)
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 0 || to < from) throw protocol('a SYNC with an invalid range', { from, to })
    this.lastPeerId = f.request
    const req = new Request(f.request, false, from, to)
    req.bytesIn += f.size
    this.requests.set(req.id, req)
    const outcome = this.serve(req, f.body.subarray(16))
    if (!this.firstPeerSync && from === 0 && to >= Number.MAX_SAFE_INTEGER) {
      this.firstPeerSync = outcome
      this.peerSyncOpened?.resolve()
    }
  }

  /**
   * The result of the first sync over everything the peer opens on this session, once it ends;
   * undefined if it fails, or if none opens within `waitMs` (or before the session closes).
   */
  async peerSyncOutcome(waitMs: number): Promise<SyncResult | undefined> {
    if (!this.firstPeerSync && this.state === 'open') {
      if (!this.peerSyncOpened) {
        let resolve!: () => void
        const promise = new Promise<void>((r) => { resolve = r })
        this.peerSyncOpened = { promise, resolve }
      }
      let timer: ReturnType<typeof setTimeout> | undefined
      await Promise.race([this.peerSyncOpened.promise, new Promise<void>((r) => { timer = setTimeout(r, waitMs) })])
      clearTimeout(timer)
    }
    return this.firstPeerSync
  }

  private async serve(req: Request, first: Uint8Array): Promise<SyncResult | undefined> {
    try {
      const rec = this.host.reconcile({ from: req.from, to: req.to, signal: req.controller.signal, subtrees: true })
      // The peer's WANTs are served, the subtrees it lacks sent, and its EVENTS taken, while the
      // reconciliation goes on (see sync). What this side lacks, the peer asks for or sends.
      const found = new Gathered()
      const moving = Promise.all([this.serveWants(req, found.haveSubtrees), this.receiveEvents(req)])
      moving.catch((e) => req.fail(asXaeroError(e))) // and awaited below: a failure there ends the reconciliation too
      let message = first
      for (;;) {
        const reply = await this.reconcileStep(rec, message)
        req.reconApplied++
        req.touch()
        req.bytesOut += this.send(T.RECON, req.id, reply) // empty: nothing more to say
        req.sentRecon(reply)
        found.add(rec.takeFound()) // after the message that names its subtrees: their events follow it on the stream
        req.wake()
        if (!reply) break
        await this.until(req, () => req.recon.length > 0, 'a reconciliation message')
        message = req.recon.shift()!
        if (message.length === 0) break
      }
      req.reconDone = true
      req.rounds = rec.stats.rounds
      req.wake()
      await moving
      const result = this.result(req)
      this.emit('sync', { result, initiator: 'remote', from: req.from, to: req.to } satisfies SyncDetail)
      return result
    } catch (e) {
      this.endRequest(req, e)
      return undefined
    } finally {
      this.requests.delete(req.id)
    }
  }

  /** One reconciliation step; a message the reconciliation refuses as malformed is the peer breaking the protocol. */
  private async reconcileStep(rec: Reconciliation, message: Uint8Array): Promise<Uint8Array | undefined> {
    try {
      return await rec.receive(message)
    } catch (e) {
      if (e instanceof XaeroError && e.code === 'E_BAD_MESSAGE') throw this.fail(new XaeroError('E_PROTOCOL', 'the peer sent a malformed reconciliation message', { cause: e }))
      // The peer's messages drove this side over a budget of the reconciliation (rounds, keys,
      // bytes, time, outbox): an honest exchange stays far below them (docs/SYNC.md, Budgets), so
      // the peer is cut off with the budget's E_BUDGET, not just this sync cancelled: a peer
      // that lies (fingerprints that never match, splits that never end) could otherwise start
      // the next sync at once and spend the whole budget again.
      if (e instanceof XaeroError && e.code === 'E_BUDGET') throw this.fail(e)
      throw e
    }
  }

  /** Turns a request's failure into the error its caller sees; tells the peer unless the whole session is ending. */
  private endRequest(req: Request, e: unknown): unknown {
    const error = req.failure ?? e
    if (this.state === 'open' && this.requests.has(req.id)) {
      req.bytesOut += this.send(T.CANCEL, req.id)
    }
    req.fail(asXaeroError(error))
    return error
  }

  private result(req: Request): SyncResult {
    return { rounds: req.rounds, bytesSent: req.bytesOut, bytesReceived: req.bytesIn, eventsSent: req.eventsSent, eventsReceived: req.eventsReceived, ms: performance.now() - req.started }
  }

  /**
   * Initiator: asks for `need` in WANT frames, keeping at most the peer's `wantWindow` ids
   * unanswered. `need` grows while the reconciliation goes on; WANT_END follows its end.
   */
  private async pull(req: Request, need: string[]): Promise<void> {
    const window = this.peer!.wantWindow
    for (let i = 0; ;) {
      await this.until(req, () => i < need.length || req.reconDone, 'the reconciliation')
      if (i === need.length) break
      await this.until(req, () => req.wantOutstanding < window, 'wanted events')
      const n = Math.min(MAX_WANT_IDS, window - req.wantOutstanding, need.length - i)
      const body = new Uint8Array(n * 32)
      for (let k = 0; k < n; k++) {
        req.wanted!.add(need[i + k])
        hexInto(need[i + k], body, k * 32)
      }
      req.wantOutstanding += n
      i += n
      req.bytesOut += this.send(T.WANT, req.id, body)
    }
    req.bytesOut += this.send(T.WANT_END, req.id)
  }

  /**
   * Initiator: sends the events the peer lacks; done once the peer acknowledged all of them.
   * `have` grows while the reconciliation goes on; EVENTS_END follows its end.
   */
  private async give(req: Request, found: Gathered): Promise<void> {
    const { have, haveSubtrees } = found
    let fetch = FETCH_IDS
    for (let i = 0, j = 0; ;) {
      await this.until(req, () => i < have.length || j < haveSubtrees.length || req.reconDone, 'the reconciliation')
      if (j < haveSubtrees.length) { await this.sendSubtrees(req, haveSubtrees.slice(j)); j = haveSubtrees.length; continue }
      if (i === have.length) break
      await this.until(req, () => req.sentUnacked < this.peer!.window, 'acknowledgements')
      const ids = have.slice(i, i + fetch)
      i += ids.length
      const envelopes = await this.reading(req, this.host.envelopes(ids))
      req.touch()
      fetch = this.nextFetch(envelopes)
      await this.sendEvents(req, envelopes, 0)
    }
    req.bytesOut += this.send(T.EVENTS_END, req.id)
    await this.until(req, () => req.sentUnacked === 0, 'the last acknowledgements')
  }

  /**
   * Responder: serves the peer's WANTs in order, each EVENTS frame saying how many wanted ids it
   * accounts for, and sends the events of `subtrees` (which grows until the reconciliation ends).
   */
  private async serveWants(req: Request, subtrees: Addr[]): Promise<void> {
    let fetch = FETCH_IDS
    for (let j = 0; ;) {
      await this.until(req, () => req.wants.length > 0 || j < subtrees.length || (req.wantsEnded && req.reconDone), 'a WANT')
      if (req.wants.length === 0 && j < subtrees.length) { await this.sendSubtrees(req, subtrees.slice(j)); j = subtrees.length; continue }
      if (req.wants.length === 0) break
      await this.until(req, () => req.sentUnacked < this.peer!.window, 'acknowledgements')
      const ids = req.wants.splice(0, fetch)
      const envelopes = await this.reading(req, this.host.envelopes(ids.map((id) => toHex(id))))
      req.touch()
      fetch = this.nextFetch(envelopes)
      await this.sendEvents(req, envelopes, ids.length)
    }
    req.bytesOut += this.send(T.EVENTS_END, req.id)
    await this.until(req, () => req.sentUnacked === 0, 'the last acknowledgements')
  }

  /**
   * Sends the events under subtrees the peer lacks (in the sync's range), in EVENTS frames that
   * account for no WANT, the subtrees of one message together: the newest 100 events of a
   * catch-up lay under 2–5 nodes, and a frame each made an ingest (and an fsync) each.
   */
  private async sendSubtrees(req: Request, subtrees: Addr[]): Promise<void> {
    const from = timeBound(req.from), to = timeBound(req.to), batch = this.limits.batchBytes
    let pending: Uint8Array[] = [], size = 0
    for (const addr of subtrees) {
      let { lo, hi } = nodeBounds(addr)
      if (compareKeys(lo, from) < 0) lo = from
      if (!hi || compareKeys(to, hi) < 0) hi = to
      // Step by step rather than `for await`, so that each read is marked (`reading`).
      const read = this.host.envelopesBetween(lo, hi, batch)
      try {
        for (let next; !(next = await this.reading(req, read.next())).done;) {
          req.touch()
          for (const e of next.value) {
            // A frame's worth goes out before it would overflow: sendEvents would cut the rest into a frame of its own.
            if (pending.length > 0 && size + 4 + e.length > batch) { await this.sendEvents(req, pending, 0); pending = []; size = 0 }
            pending.push(e)
            size += 4 + e.length
          }
        }
      } finally {
        await read.return(undefined) // closes the store's iterator when a send failed midway, as `for await` would
      }
    }
    if (pending.length > 0) await this.sendEvents(req, pending, 0)
  }

  /**
   * A read of envelopes the peer waits for. Slow, it is said with PROGRESS as a slow
   * reconciliation step is (checkIdle): in the 20-peer bench a responder's read for WANTs once
   * outlasted the peer's idle limit ("waiting for events") after PROGRESS covered the steps.
   */
  private async reading<T>(req: Request, read: Promise<T>): Promise<T> {
    if (req.reads++ === 0 && req.turn !== 'local') req.workingSince = performance.now()
    try {
      return await read
    } finally {
      req.reads--
    }
  }

  /** Ids to fetch next: about one batch of bytes, from the sizes just seen. */
  private nextFetch(envelopes: Uint8Array[]): number {
    if (envelopes.length === 0) return FETCH_IDS
    const avg = envelopes.reduce((s, e) => s + e.length, 0) / envelopes.length
    return Math.max(1, Math.min(1024, Math.floor(this.limits.batchBytes / (avg + 4))))
  }

  /** Sends envelopes in EVENTS frames of about `batchBytes`, each once the window has room; `served` rides on the first. */
  private async sendEvents(req: Request, envelopes: Uint8Array[], served: number): Promise<void> {
    const maxBody = Math.min(this.peer!.maxFrame, this.limits.maxFrame) - 9 - 8
    let i = 0
    do {
      let size = 0, j = i
      while (j < envelopes.length && j - i < MAX_FRAME_EVENTS && (j === i || size + 4 + envelopes[j].length <= this.limits.batchBytes)) { size += 4 + envelopes[j].length; j++ }
      if (size > maxBody) throw new RangeError('an envelope larger than any frame') // cannot happen: MIN_FRAME holds the largest envelope
      await this.until(req, () => req.sentUnacked < this.peer!.window, 'acknowledgements')
      const { body, view } = encodeEnvelopes(envelopes.slice(i, j), 4)
      view.setUint32(0, served)
      served = 0
      const n = this.send(T.EVENTS, req.id, body)
      req.sentUnacked += n
      req.bytesOut += n
      req.eventsSent += j - i
      i = j
    } while (i < envelopes.length)
  }

  /** Ingests the peer's EVENTS in order, acknowledging each frame once stored. */
  private async receiveEvents(req: Request): Promise<void> {
    // Up to INGESTS_IN_FLIGHT frames are ingested at once, acknowledged in order as each is
    // stored: one at a time left the workers idle while the main thread read, checked and
    // logged the next frame (measured: a 200 000-event sync at 0.58 of the receiver's own
    // ingestMany rate, all of it in one call).
    const inFlight: Array<{ done: Promise<number>; size: number; settled: boolean }> = []
    // Events are checked once the reconciliation messages before them are applied: a SUBTREE
    // item there is what lets them in.
    const ready = () => req.events.length > 0 && (req.reconDone || req.events[0].recon <= req.reconApplied)
    for (;;) {
      if (inFlight.length < INGESTS_IN_FLIGHT && ready()) {
        const batch = req.events.shift()!
        const ids = this.checkReceived(req, batch.envelopes)
        const entry = { done: this.ingest(batch.envelopes, ids), size: batch.size, settled: false }
        entry.done.catch(() => {}).finally(() => { entry.settled = true; req.wake() }) // awaited below, in order
        inFlight.push(entry)
        continue
      }
      if (inFlight.length > 0) {
        // A frame that comes while the oldest ingest runs starts beside it (its validation beside
        // that one's fsync): waiting for the oldest first held a catch-up's second frame 10 ms.
        if (!inFlight[0].settled && inFlight.length < INGESTS_IN_FLIGHT) {
          await req.wait(this.limits.idleMs)
          if (req.failure) throw req.failure
          if (!inFlight[0].settled) continue
        }
        const { done, size } = inFlight.shift()!
        req.eventsReceived += await done
        // A store validating on this thread may settle a whole run of ingests in microtasks alone:
        // yield, so that acknowledgements go out and the peer's frames come in meanwhile.
        await yieldToEventLoop()
        if (req.failure) throw req.failure
        req.touch()
        req.recvUnacked -= size
        req.bytesOut += this.send(T.ACK, req.id, u32(size))
        continue
      }
      if (req.eventsEnded && req.events.length === 0) break
      await this.until(req, () => ready() || (req.eventsEnded && req.events.length === 0), 'events')
    }
  }

  /**
   * Checks a frame's events before they are stored: in the sync's range and, in a sync this side
   * opened, each one it asked for. Returns their ids when it computed them (that second check).
   */
  private checkReceived(req: Request, envelopes: Uint8Array[]): Array<string | undefined> | undefined {
    // An envelope whose length does not add up has no id here; the ingest refuses it (E_TRUNCATED, E_TRAILING_BYTES).
    const ids = req.wanted ? envelopeIds(envelopes) : undefined
    for (let i = 0; i < envelopes.length; i++) {
      const e = envelopes[i]
      if (e.length < 12) continue // the ingest refuses it (E_TRUNCATED)
      const v = new DataView(e.buffer, e.byteOffset, e.length)
      const ts = v.getUint32(4) * 2 ** 32 + v.getUint32(8)
      if (ts < req.from || ts >= req.to) throw this.fail(protocol('the peer sent an event outside the sync range', { request: req.id, timestamp: ts }))
      // Initiator: what the peer sends answers our WANTs, so each event is one we asked for
      // (checked before it is stored, so an event sent in the place of another changes nothing).
      // Or it lies under a subtree the peer found this side without (counted: a peer could name the root).
      const id = ids?.[i]
      if (id !== undefined && !req.wanted!.delete(id)) {
        if (!req.subtrees.has(envelopeKeyHex(e, id))) throw this.fail(protocol('the peer sent an event that was not asked for', { request: req.id, id }))
        if (++req.subtreeEvents > DEFAULT_BUDGET.keys) throw this.fail(new XaeroError('E_PEER_LIMIT', `the peer sent more than ${DEFAULT_BUDGET.keys} events under subtrees in one sync`, { details: { limit: 'budget.keys', request: req.id } }))
      }
    }
    return ids
  }

  /** Ingests envelopes from the peer; an invalid one aborts the session (E_BAD_EVENT). Returns how many were valid or already held. */
  private async ingest(envelopes: Uint8Array[], ids?: Array<string | undefined>): Promise<number> {
    if (envelopes.length === 0) return 0
    const results = await this.host.ingest(envelopes, this.remotePeer, ids)
    let valid = 0
    for (const r of results) {
      if (!(r instanceof XaeroError)) { valid++; continue }
      if (PEER_FAULTS.has(r.code)) throw this.fail(new XaeroError('E_BAD_EVENT', `the peer sent an invalid event (${r.code})`, { cause: r, details: { code: r.code } }))
      if (!TOLERATED.has(r.code)) throw r // the store's own failure (E_CLOSED, E_IO, E_WORKER_FAILED): not the peer's
    }
    return valid
  }

  /**
   * Waits until `cond()` holds, woken by the request's frames. Rejects with the request's failure,
   * or, after `idleMs` without progress on the request, aborts the session with E_TIMEOUT.
   */
  private async until(req: Request, cond: () => boolean, what: string): Promise<void> {
    for (;;) {
      if (req.failure) throw req.failure
      if (cond()) return
      // While this side's own reconciliation message is due, a wait beside its step (serving
      // WANTs, say) waits on this side, not on the peer: no limit runs. In the 20-peer bench,
      // once the peers' waits on a slow step were covered by PROGRESS, 63 sessions a run were cut
      // off so by the slow side itself ("waiting for a WANT"). The step's end wakes the request.
      if (req.turn === 'local') { await req.wait(this.limits.idleMs); continue }
      // PROGRESS moves `lastHeard` only: the idle limit counts from it, the busy limit from the last real progress.
      const now = performance.now(), busyMs = Math.max(this.limits.busyMs, this.limits.idleMs)
      const idleEnds = req.lastHeard + this.limits.idleMs, busyEnds = req.lastProgress + busyMs
      if (now >= idleEnds) throw this.fail(new XaeroError('E_TIMEOUT', `the peer made no progress on a sync for ${this.limits.idleMs} ms (waiting for ${what})`, { details: { limit: 'idleMs', request: req.id, waiting: what } }))
      if (now >= busyEnds) throw this.fail(new XaeroError('E_TIMEOUT', `the peer kept a sync waiting ${busyMs} ms, saying it was still at work (waiting for ${what})`, { details: { limit: 'busyMs', request: req.id, waiting: what } }))
      await req.wait(Math.min(idleEnds, busyEnds) - now + 1)
    }
  }

  // --- live push -------------------------------------------------------------------------------------

  /**
   * Sends newly indexed events to the peer: queued (never blocking), sent in PUSH frames paced by
   * the peer's window and rate. When the queue (`limits.pushQueue` events) is full, further events
   * are dropped and the next PUSH skips a sequence number, so the peer sees a gap and syncs.
   * Pass only events the peer did not send (by their origin). A closed session ignores pushes.
   */
  push(events: readonly Event[]): void {
    this.enqueue(events, T.PUSH, 'push')
  }

  /**
   * Announces newly indexed events to the peer by id (HAVE), for it to fetch those it lacks
   * (FETCH, served as pushes): the lazy half of the relay (docs/NETWORK.md, Live push). Queued
   * and paced with the pushes, in the same sequence, so an overflow is a gap here too.
   */
  announce(events: readonly Event[]): void {
    this.enqueue(events, T.HAVE, 'announce')
  }

  /** Asks the peer for events it announced (ids in hex); served as pushes. What it never announced, or was asked for before, it ignores. */
  fetch(ids: readonly string[]): void {
    if (this.state !== 'open' || ids.length === 0) return
    for (let i = 0; i < ids.length; i += MAX_WANT_IDS) {
      const part = ids.slice(i, i + MAX_WANT_IDS), body = new Uint8Array(part.length * 32)
      part.forEach((id, k) => hexInto(id, body, k * 32))
      this.send(T.FETCH, 0, body)
    }
    this.stats.fetched += ids.length
  }

  private enqueue(events: readonly Event[], type: Outgoing['type'], what: string): void {
    if (!Array.isArray(events)) throw new TypeError(`${what} takes an array of events`)
    if (this.state !== 'open') return
    for (const e of events) {
      if (!e || !(e.bytes instanceof Uint8Array)) throw new TypeError(`${what} takes Events`)
      this.queue(type === T.PUSH ? { type, bytes: e.bytes } : { type, bytes: e.key.subarray(8), id: e.id })
    }
    this.schedulePump()
  }

  /** Queues one push, or drops it when the queue is full: the next frame then skips a sequence number (a gap). */
  private queue(item: Outgoing): void {
    if (this.pushQueue.length >= this.limits.pushQueue) { this.gapPending = true; this.stats.pushDropped++; return }
    this.pushQueue.push(item)
  }

  private schedulePump(): void {
    if (this.pumpScheduled || this.pushTimer || this.state !== 'open') return
    this.pumpScheduled = true
    queueMicrotask(() => { this.pumpScheduled = false; this.pump() })
  }

  private pump(): void {
    const peer = this.peer!
    while (this.state === 'open' && (this.pushQueue.length > 0 || this.gapPending)) {
      if (this.pushUnackedOut >= peer.pushWindow) return // resumed by a PUSH_ACK
      const tokens = Math.min(this.bucketOut!.available(), MAX_FRAME_EVENTS)
      if (this.pushQueue.length > 0 && tokens < 1) {
        this.pushTimer = setTimeout(() => { this.pushTimer = undefined; this.pump() }, this.bucketOut!.waitFor(1))
        return
      }
      // A frame is a run of one type: envelopes (PUSH) or ids (HAVE). With only a gap to tell, an empty PUSH.
      const type = this.pushQueue[0]?.type ?? T.PUSH, per = type === T.HAVE ? 0 : 4 // an envelope's length field; an id has none
      const most = Math.min(tokens, type === T.HAVE ? MAX_WANT_IDS : MAX_FRAME_EVENTS)
      let n = 0, size = 0
      while (n < this.pushQueue.length && n < most && this.pushQueue[n].type === type && (n === 0 || size + per + this.pushQueue[n].bytes.length <= this.limits.batchBytes)) { size += per + this.pushQueue[n].bytes.length; n++ }
      const batch = this.pushQueue.splice(0, n)
      this.bucketOut!.take(n)
      this.pushSeq += this.gapPending ? 2 : 1
      this.gapPending = false
      if (this.pushSeq > 0xffffffff) { this.fail(new XaeroError('E_PEER_LIMIT', 'push sequence numbers are exhausted: open a new session')); return }
      if (this.pushUnackedOut === 0) this.lastPushAck = performance.now()
      if (type === T.HAVE) {
        for (const item of batch) this.announcedOut.add(item.id!)
        this.pushUnackedOut += this.send(T.HAVE, this.pushSeq, concat(...batch.map((item) => item.bytes)))
        this.stats.announced += n
      } else {
        this.pushUnackedOut += this.send(T.PUSH, this.pushSeq, encodeEnvelopes(batch.map((item) => item.bytes)).body)
        this.stats.pushedEvents += n
      }
    }
    // Out now, not on the writer's next turn of the event loop: the indexing of the same events
    // runs in between, ~0.5 ms of a live push measured (docs/dev/latency.md). The pushes queued
    // so far go out together, in this one send.
    this.writer.flush()
  }

  /** A PUSH or a HAVE: one sequence, one window and one rate (an announced id counts as an event). */
  private onPush(f: Frame): void {
    const seq = f.request, name = f.type === T.HAVE ? 'HAVE' : 'PUSH'
    if (seq <= this.pushSeqIn) throw protocol(`a ${name} with a sequence number already seen`, { seq, last: this.pushSeqIn })
    if (this.pushUnackedIn >= this.limits.pushWindow) throw limit('pushWindow', `the peer pushed past its window of ${this.limits.pushWindow} bytes`)
    const have = f.type === T.HAVE ? decodeIds(f.body, name) : undefined
    const envelopes = have ? [] : decodeEnvelopes(f.body, 0)
    if (!this.bucketIn.take(have?.length ?? envelopes.length)) throw limit('pushRate', `the peer pushed over ${this.limits.pushRate} events/s (burst ${this.limits.pushBurst})`)
    const missed = seq - this.pushSeqIn - 1
    this.pushSeqIn = seq
    if (missed > 0) {
      this.stats.gapsSeen++
      queueMicrotask(() => this.emit('gap', { missed, seq } satisfies GapDetail))
    }
    this.pushUnackedIn += f.size
    this.pushInbox.push({ envelopes, size: f.size, seq, have })
    this.pushWake?.()
  }

  /** The peer asks for events this side announced: served as pushes, each id at most once; any other id is ignored. */
  private onFetch(f: Frame): void {
    const ids: string[] = []
    for (const id of decodeIds(f.body, 'FETCH')) {
      const hex = toHex(id)
      if (this.announcedOut.delete(hex)) ids.push(hex)
    }
    if (ids.length === 0) return
    this.fetchInbox.push(ids)
    void this.serveFetches()
  }

  private async serveFetches(): Promise<void> {
    if (this.serving) return
    this.serving = true
    try {
      while (this.state === 'open' && this.fetchInbox.length > 0) {
        const ids = this.fetchInbox.shift()!
        // The store closing or failing: not the peer's fault. Its fetch expires and goes elsewhere.
        const envelopes = await this.host.envelopes(ids).catch(() => [] as Uint8Array[])
        if (this.state !== 'open') return
        this.stats.served += envelopes.length
        for (const bytes of envelopes) this.queue({ type: T.PUSH, bytes })
        this.schedulePump()
      }
    } finally {
      this.serving = false
    }
  }

  /** Ingests pushes in order, acknowledging each once stored. */
  private async pushLoop(): Promise<void> {
    while (this.state === 'open') {
      const item = this.pushInbox.shift()
      if (!item) { await new Promise<void>((resolve) => { this.pushWake = resolve }); this.pushWake = undefined; continue }
      try {
        if (item.have) this.fetchAnnounced(item.have)
        else this.stats.pushReceived += await this.ingest(item.envelopes)
      } catch (e) {
        if (this.state === 'open') this.fail(e instanceof XaeroError ? e : new XaeroError('E_ABORTED', 'ingesting a push failed', { cause: e }))
        return
      }
      await yieldToEventLoop()
      if (this.state !== 'open') return
      this.pushUnackedIn -= item.size
      this.send(T.PUSH_ACK, item.seq, u32(item.size))
    }
  }

  /** The ids the peer announced, in order after its earlier pushes were stored: those the host wants are fetched. */
  private fetchAnnounced(ids: Uint8Array[]): void {
    const hex = ids.map(toHex)
    this.stats.announcedIn += hex.length
    this.fetch(this.host.announced ? this.host.announced(hex, this.remotePeer) : hex)
  }

  // --- closing ---------------------------------------------------------------------------------------

  private closeReason?: XaeroError

  /** Ends the session because the peer broke a rule (or the stream failed); returns the error, for `throw`. */
  private fail(error: XaeroError): XaeroError {
    if (this.state === 'closed') return this.closeReason ?? error
    void this.shutdown(error, true, false)
    return error
  }

  /**
   * Closes the session: pending syncs reject (with `reason` if it is an XaeroError, else
   * E_STREAM_CLOSED), the stream is closed (with an ERROR frame first and an abort after, when
   * `reason` is an XaeroError), and 'close' is emitted once.
   */
  close(reason?: unknown): Promise<void> {
    return this.shutdown(reason instanceof XaeroError ? reason : new XaeroError('E_STREAM_CLOSED', 'the session was closed', reason === undefined ? undefined : { cause: reason }), reason instanceof XaeroError, false)
  }

  /** `fault`: tell the peer why (ERROR frame) and abort; `byPeer`: the peer or its stream ended the session. */
  private shutdown(reason: XaeroError, fault: boolean, byPeer: boolean): Promise<void> {
    if (this.closed) return this.closed
    this.state = 'closed'
    this.closeReason = reason
    this.ready.reject(reason)
    for (const req of this.requests.values()) req.fail(reason)
    this.requests.clear()
    this.pushQueue = []
    this.pushInbox = []
    this.fetchInbox = []
    this.pushWake?.()
    this.peerSyncOpened?.resolve()
    clearInterval(this.watchdog)
    clearTimeout(this.pushTimer)
    this.closed = (async () => {
      try {
        if (fault && this.stream.writeStatus === 'writable') {
          this.writer.write(encodeFrame(T.ERROR, 0, new TextEncoder().encode(`${reason.code}\n${reason.message}`.slice(0, 400))))
        }
        this.writer.flush()
        if (this.stream.status === 'open') await this.stream.close({ signal: AbortSignal.timeout(1000) }).catch(() => {})
        // An honest peer closes its end when it sees ours end; a faulty one is not waited for.
        if (!fault && this.stream.status !== 'closed' && this.stream.status !== 'aborted' && this.stream.status !== 'reset') {
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, 1000)
            this.stream.addEventListener('close', () => { clearTimeout(t); resolve() }, { once: true })
          })
        }
      } catch {}
      if (this.stream.status === 'open' || this.stream.status === 'closing') this.stream.abort(reason)
      this.closing.abort(reason)
      this.emit('close', { reason, byPeer } satisfies CloseDetail)
    })()
    return this.closed
  }

  private emit(type: 'sync' | 'gap' | 'close', detail: SyncDetail | GapDetail | CloseDetail): void {
    this.dispatchEvent(new CustomEvent(type, { detail }))
  }

  /** True once the handshake is over and until the session closes. */
  get open(): boolean { return this.state === 'open' }
}

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } {
  let resolve!: () => void, reject!: (e: unknown) => void
  const promise = new Promise<void>((res, rej) => { resolve = res; reject = rej })
  return { promise, resolve, reject }
}

function isCode(code: string): code is XaeroErrorCode {
  return Object.hasOwn(ErrorCodes, code)
}
