// A store's place on the network (docs/NETWORK.md): its libp2p node (its own, or the app's),
// the group's DHT, one sync session per connected group peer, live push of indexed events, and
// anti-entropy. src/db.ts starts it when `open` is given `network`.
import type { IdentifyResult, Libp2p } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { XaeroError } from '../errors.js'
import type { Event } from '../event.js'
import type { Origin } from '../store/feed.js'
import { GATER_HINT, isGaterRefusal } from './addresses.js'
import { groupNamespace, type GroupNamespace } from './namespace.js'
import { createNode } from '#net-node'
import { Deduplicator } from './dedup.js'
import { Fetches } from './fetches.js'
import type { GroupDht, XaerofluxService } from './service.js'
import { PeerSession, type SyncHost, type SyncResult } from './session.js'
import { resolveLimits, type PeerLimits } from './limits.js'
import { DEFAULT_BUDGET, type Reconciliation, type ReconcileBudget } from '../sync/session.js'

/** The `network` option of `Xaeroflux.open`: without it, a store starts no node. */
export interface NetworkOptions {
  /** Multiaddrs to listen on (own node only). @default TCP and WebSockets on 127.0.0.1, ports chosen by the system */
  listen?: string[]
  /** Multiaddrs of peers to start from, each ending in /p2p/<peer id>. */
  bootstrap?: string[]
  /** The group's secret: peers prove they know it on every stream; outsiders learn nothing. At least 16 bytes. */
  secret?: string | Uint8Array
  /**
   * Group peers to keep connections to. Sessions other peers open are accepted while this store
   * has fewer than 4 × maxPeers in all; beyond that they are refused as full (E_PEER_FULL), which
   * the dialer takes as "try another peer", not as a fault. @default 8
   */
  maxPeers?: number
  /**
   * Browsers: let the page's node dial loopback and LAN addresses (127.0.0.0/8, ::1, localhost,
   * RFC 1918, link-local, fc00::/7), also over plain ws://, which libp2p's browser default
   * refuses. Every other address keeps libp2p's default. In Node, every address is dialable
   * already: no effect. Own node only. @default false
   */
  allowPrivateAddresses?: boolean
  /** The app's own libp2p node (with `services.xaeroflux: xaerofluxService()`), shared by many groups; the store leaves it running when it closes. */
  libp2p?: Libp2p<{ xaeroflux: XaerofluxService }>
  /** Per-peer limits of every sync session (docs/NETWORK.md, Limits per peer). @default DEFAULT_LIMITS */
  limits?: Partial<PeerLimits>
  /** Budget of each reconciliation run with a peer (docs/SYNC.md, Budgets); going over it cuts the peer off (E_BUDGET). @default DEFAULT_BUDGET */
  budget?: ReconcileBudget
}

/** What the network needs of its store. */
export interface NetworkStore {
  groupBytes: Uint8Array
  reconcile(options: { from?: number; to?: number; signal?: AbortSignal; budget?: ReconcileBudget; subtrees?: boolean }): Reconciliation
  /** The stored events with these ids (hex), undefined for each one not stored; in batched reads. */
  getMany(ids: readonly string[]): Promise<Array<Event | undefined>>
  /** The envelopes of the stored events with keys in [lo, hi) (no upper bound without `hi`), in key order. */
  envelopesBetween(lo: Uint8Array, hi: Uint8Array | undefined): AsyncGenerator<Uint8Array>
  /** Resolves once the index batch being committed, if any, is readable (reconciliation may see its keys a little before `get` does). */
  committed(): Promise<void>
  ingestMany(envelopes: readonly Uint8Array[], origin: Origin): Promise<Array<Event | XaeroError>>
  onIndexed(listener: (events: readonly Event[], origins: readonly Origin[]) => void): () => void
  /** Calls `listener` with the store's own appends once they are durable (with a write-ahead log, before they are indexed). */
  onAppended(listener: (events: readonly Event[]) => void): () => void
}

/** A connected group peer, as `db.peers()` lists it. */
export interface PeerInfo {
  /** Its libp2p peer id. */
  id: string
  /** Its multiaddrs. */
  addrs: string[]
}

/** Anti-entropy: every connected peer is synced this often (with ±20 % jitter), besides on connect and on a gap. */
const ANTI_ENTROPY_MS = 30_000
/** A peer that broke a rule is refused for this long, doubling on each offence up to BAN_MAX_MS. */
const BAN_MS = 30_000
const BAN_MAX_MS = 30 * 60_000
/** How long syncWith waits for the peer's sync on connect to open before it runs its own (see syncWith). */
const PEER_SYNC_WAIT_MS = 2000
/** How long syncWith waits for the peer's own session when ours was closed as it opened (both opened at once). */
const THEIR_SESSION_MS = 5_000
/**
 * Within THEIR_SESSION_MS, syncWith opens a session again itself after this long, then twice as
 * long, and so on: the peer's session may never come (both were dropped as they opened, or the
 * peer reset ours and has the larger id, so it opens none). Longer than INBOUND_GRACE_MS, so a
 * peer about to open its session on identify is not raced. One catch-up of 20 in the network
 * bench waited the whole 5 s and failed before this (docs/dev/benchmarks-journal.md, session 22).
 */
const REDIAL_MS = 250
/** A lost session is reopened after this long (or when the peer's ban ends), doubling on each loss without a sync in between, up to REOPEN_MAX_MS. */
const REOPEN_MS = 1_000
const REOPEN_MAX_MS = 60_000
/**
 * On identify, the side that opens sessions (the smaller id) waits this long before dialing a
 * peer that dialed the connection: that peer may be opening a session itself (`syncWith`, a peer
 * found in the DHT). Two sessions opened at once cost two handshakes and two syncs on connect, of
 * which one is dropped: 35 ms of the network bench's 90 ms catch-up.
 */
const INBOUND_GRACE_MS = 200
/**
 * Sessions a store holds at most, as a multiple of maxPeers: it opens up to maxPeers and accepts
 * others' until it holds this many. Without a cap, the peers every lookup finds first would be
 * asked for thousands of sessions among 10 000 peers (docs/NETWORK.md, Scale). Not 2: in the
 * 20-peer bench (maxPeers 8) the first 8 peers hold 17–19 sessions each, and capping them at 16
 * sent the last peers to ones that held less, where syncs moved what the pushes were bringing:
 * bytes received per event 2 360–2 662 against 1 283–1 432, all held after 149–163 s against
 * 124–142 (3 runs against 3, alternating).
 */
const SESSIONS_PER_PEER_SLOT = 4

/** The group networks running in this process (one per store with `network`): their sessions share its thread. */
const running = new Set<GroupNetwork>()

export class GroupNetwork extends EventTarget {
  private readonly sessions = new Map<string, PeerSession>()
  private readonly opening = new Map<string, Promise<PeerSession>>()
  /** Peers whose session to us is in its handshake. */
  private readonly accepting = new Set<string>()
  /** Background syncs in flight, one per session at most: each one's result (undefined if it failed). */
  private readonly syncing = new Map<PeerSession, Promise<SyncResult | undefined>>()
  private readonly banned = new Map<string, { until: number; strikes: number }>()
  /** Lost sessions to reopen: the delay of the next attempt, and its timer. */
  private readonly reopening = new Map<string, { delay: number; timer?: ReturnType<typeof setTimeout> }>()
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()
  private readonly host: SyncHost
  private readonly dedup: Deduplicator
  private readonly fetches: Fetches
  private fetchTimer?: ReturnType<typeof setInterval>
  private stopped = false
  private stopFeed?: () => void
  private stopAppended?: () => void
  private stopPeers?: () => void
  private dht?: GroupDht
  private readonly onIdentify = (e: globalThis.Event) => this.identified((e as CustomEvent<IdentifyResult>).detail)

  private constructor(private readonly node: Libp2p<{ xaeroflux: XaerofluxService }>, private readonly own: boolean, private readonly ns: GroupNamespace,
    private readonly store: NetworkStore, private readonly maxPeers: number, private readonly limits: Partial<PeerLimits> | undefined, budget: ReconcileBudget | undefined) {
    super()
    this.host = {
      reconcile: (o) => store.reconcile({ ...o, budget }),
      envelopes: async (ids) => {
        const read = () => store.getMany(ids)
        let got = await read()
        // An id reconciliation just gave may belong to the batch being committed: read again after it.
        if (got.includes(undefined)) { await store.committed(); got = await read() }
        return got.flatMap((e) => (e ? [e.bytes] : []))
      },
      envelopesBetween: async function* (lo, hi, bytes) {
        await store.committed() // a subtree reconciliation just named may hold keys of the batch being committed
        let batch: Uint8Array[] = [], size = 0
        for await (const envelope of store.envelopesBetween(lo, hi)) {
          if (batch.length > 0 && size + 4 + envelope.length > bytes) { yield batch; batch = []; size = 0 }
          batch.push(envelope)
          size += 4 + envelope.length
        }
        if (batch.length > 0) yield batch
      },
      ingest: (envelopes, peer, ids) => this.dedup.ingestMany(envelopes, (fresh) => store.ingestMany(fresh, { peer }), ids),
      announced: (ids, peer) => this.fetches.claim(ids, peer),
    }
    this.dedup = new Deduplicator()
    this.fetches = new Fetches((id) => this.dedup.has(id))
  }

  /** Starts the node (unless the app passed one), joins the group's DHT and serves the sync protocol. */
  static async start(store: NetworkStore, options: NetworkOptions): Promise<GroupNetwork> {
    const ns = groupNamespace(store.groupBytes, options.secret)
    if (options.limits !== undefined) resolveLimits(options.limits) // TypeError/RangeError now, not at the first peer
    if (options.budget !== undefined) {
      if (typeof options.budget !== 'object' || options.budget === null) throw new TypeError('network.budget must be an object')
      for (const [name, v] of Object.entries(options.budget)) {
        if (!(name in DEFAULT_BUDGET)) throw new TypeError(`unknown budget ${name}`)
        if (v !== undefined && (typeof v !== 'number' || !(v > 0) || (v !== Infinity && !Number.isSafeInteger(v)))) throw new RangeError(`network.budget.${name} must be a whole number > 0 or Infinity`)
      }
    }
    const node = options.libp2p ?? await createNode({ listen: options.listen, bootstrap: options.bootstrap, allowPrivateAddresses: options.allowPrivateAddresses })
    const own = options.libp2p === undefined
    if (!node.services?.xaeroflux) throw new TypeError('the libp2p node passed as network.libp2p needs services: { xaeroflux: xaerofluxService() }')
    const net = new GroupNetwork(node, own, ns, store, options.maxPeers ?? 8, options.limits, options.budget)
    try {
      await net.begin(options.bootstrap ?? [])
      return net
    } catch (e) {
      await net.stop()
      throw e
    }
  }

  private async begin(bootstrap: string[]): Promise<void> {
    const { node, ns } = this
    running.add(this)
    await node.handle(ns.sync, (stream, connection) => { void this.accept(stream, connection.remotePeer.toString()) }, { maxInboundStreams: 4, maxOutboundStreams: 4 })
    // Appends are pushed once written to the log, before its fsync and before they are indexed:
    // they are new by construction (signed just now), and indexing them first (the Merkle insert
    // and the LevelDB batch) took ~1 ms of the ~5.5 ms from an append to its peer's subscription,
    // the fsync ~1 ms more at durability 'batch' (docs/dev/latency.md).
    // Events from elsewhere wait for the indexer, which tells which are new: so none is pushed
    // twice, and pushes never loop.
    this.stopAppended = this.store.onAppended((events) => this.push(events, events.map(() => 'append' as const)))
    this.stopFeed = this.store.onIndexed((events, origins) => {
      this.dedup.stored(events)
      if (this.fetches.size > 0) this.fetches.arrived(events.map((e) => e.id))
      this.push(events, origins, true)
    })
    // Fetches of announced events that did not come go to another peer that announced them.
    this.fetchTimer = setInterval(() => { if (this.fetches.size > 0) this.refetch() }, 1000)
    this.fetchTimer.unref?.()
    node.addEventListener('peer:identify', this.onIdentify)
    this.dht = await node.services.xaeroflux.joinGroup(ns, {
      maxPeers: this.maxPeers,
      allow: ns.authKey ? (id) => this.sessions.has(id) : undefined,
    })
    this.stopPeers = this.dht.onPeer((peer) => { void this.connect(peer.id).catch(() => {}) })
    // With the app's node, or peers already connected: they may have been identified before we listened.
    for (const addr of bootstrap) void node.dial(multiaddr(addr)).catch(() => {})
    for (const connection of node.getConnections()) void this.connect(connection.remotePeer.toString()).catch(() => {})
  }

  /** The node's addresses, each ending in /p2p/<peer id>. */
  multiaddrs(): string[] {
    return this.node.getMultiaddrs().map((a) => a.toString())
  }

  /**
   * Whether another peer's session shares this process's thread with this store's syncs: more
   * than one session open, over every store's network. The store's Pacer rests only then
   * (src/sync/pacer.ts, `contended`).
   */
  shared(): boolean {
    let sessions = 0
    for (const net of running) if ((sessions += net.sessions.size) > 1) return true
    return false
  }

  /** Group peers with an open sync session. */
  peers(): PeerInfo[] {
    return [...this.sessions.keys()].map((id) => ({ id, addrs: this.node.getConnections(peerIdFromString(id)).map((c) => c.remoteAddr.toString()) }))
  }

  /** Syncs with a peer (a multiaddr ending in /p2p/<id>, or a peer id), connecting first if need be. */
  async syncWith(target: string, options: { from?: number; to?: number; signal?: AbortSignal } = {}): Promise<SyncResult> {
    if (typeof target !== 'string' || target.length === 0) throw new TypeError('syncWith takes a multiaddr or a peer id')
    const addr = target.startsWith('/') ? multiaddr(target) : undefined
    const id = addr ? addr.getComponents().findLast((c) => c.name === 'p2p')?.value ?? '' : target
    if (!id) throw new TypeError('the multiaddr must end in /p2p/<peer id>')
    // No session yet, none being opened: the session's sync on connect is still to come.
    const opened = !this.sessions.has(id) && !this.opening.has(id)
    if (addr) {
      await this.node.dial(addr, { signal: options.signal }).catch((cause) => {
        // A browser's connection gater: say why, and what would allow it.
        throw new XaeroError('E_PEER_UNREACHABLE', isGaterRefusal(cause) ? `the connection gater refuses ${target}: ${GATER_HINT}` : `cannot reach ${target}`, { cause })
      })
    }
    const session = await this.connect(id).catch((e) => this.theirSession(id, e))
    // After the background sync under way, if any: two at once would move the same events twice.
    const ours = await abortable(this.syncing.get(session) ?? Promise.resolve(undefined), options.signal)
    // A session this call opened is synced on connect by the peer with the smaller id
    // (backgroundSync): that sync, once it ended well, is the one asked for. Ours beside the
    // peer's moved every missing event twice (the full-sync bench: 154 MB received for 77 MB of
    // envelopes, 14 333 events/s against 15 468 when one sync ran), and ours after this side's
    // own cost one more round (7–8 ms of a catch-up of 100 events).
    if (opened && options.from === undefined && options.to === undefined) {
      if (this.node.peerId.toString() < id) {
        if (ours) return ours
      } else {
        // On the session kept: when both sides opened one at once, the peer's replaces ours
        // (`preferred`), and its sync on connect runs there.
        for (let waited = session; ;) {
          const theirs = await abortable(waited.peerSyncOutcome(PEER_SYNC_WAIT_MS), options.signal)
          if (theirs) return theirs
          const kept = this.sessions.get(id)
          if (!kept || kept === waited) break
          waited = kept
        }
      }
    }
    try {
      return await session.sync(options)
    } catch (e) {
      // The peer opened a session to us at the same moment, and the rule kept its one: go on there.
      return (await this.theirSession(id, e, session)).sync(options)
    }
  }

  /**
   * When our session to a peer failed as it opened (E_STREAM_CLOSED), the peer may have opened
   * one to us at the same moment and kept its own (the rule of `preferred`): that one is
   * registered once its handshake ends. Waits for it (a session other than `failed`), and opens
   * one again itself after REDIAL_MS, 2 × REDIAL_MS, …; THEIR_SESSION_MS at most, then throws
   * `error`. Measured before: 1 `xaeroflux sync` in 10 against a running node failed so.
   */
  private async theirSession(id: string, error: unknown, failed?: PeerSession): Promise<PeerSession> {
    if (!(error instanceof XaeroError && error.code === 'E_STREAM_CLOSED')) throw error
    const start = Date.now()
    for (let redial = REDIAL_MS; Date.now() - start < THEIR_SESSION_MS && !this.stopped; await new Promise((r) => setTimeout(r, 20))) {
      const session = this.sessions.get(id)
      if (session && session !== failed) return session
      if (Date.now() - start < redial || this.opening.has(id) || this.accepting.has(id)) continue
      redial *= 2
      // Ours again. If the peer's comes meanwhile, the rule of `preferred` keeps one of the two.
      const again = await this.connect(id).catch((e: unknown) => {
        if (e instanceof XaeroError && e.code === 'E_STREAM_CLOSED') return undefined
        throw e
      })
      if (again && again !== failed) return again
    }
    throw error
  }

  // --- sessions ------------------------------------------------------------------------------

  /** The open session with a group peer, or a new one (this side dials). */
  private connect(id: string): Promise<PeerSession> {
    const open = this.sessions.get(id)
    if (open) return Promise.resolve(open)
    let pending = this.opening.get(id)
    if (pending) return pending
    if (this.stopped) return Promise.reject(new XaeroError('E_CLOSED'))
    if (this.isBanned(id)) return Promise.reject(new XaeroError('E_PEER_REFUSED', `${id} is refused for a while: it broke a rule`))
    pending = (async () => {
      const stream = await this.node.dialProtocol(peerIdFromString(id), this.ns.sync).catch((cause) => {
        throw (cause as Error)?.name === 'UnsupportedProtocolError'
          ? new XaeroError('E_NOT_IN_GROUP', `${id} does not serve this group (another group, or another secret)`, { cause })
          : new XaeroError('E_PEER_UNREACHABLE', isGaterRefusal(cause) ? `the connection gater refuses every known address of ${id}: ${GATER_HINT}` : `cannot open a sync stream to ${id}`, { cause })
      })
      const session = await PeerSession.open(stream, { role: 'dialer', host: this.host, ns: this.ns, localPeer: this.node.peerId.toString(), remotePeer: id, limits: this.limits })
      return this.register(session)
    })()
    this.opening.set(id, pending)
    const done = () => { this.opening.delete(id) }
    pending.then(done, (e: unknown) => {
      done()
      if (isFull(e)) this.dht?.passOver(id) // the DHT finds another peer for the slot
    })
    return pending
  }

  private async accept(stream: Parameters<typeof PeerSession.open>[0], id: string): Promise<void> {
    if (this.stopped || this.isBanned(id) || (this.sessions.has(id) && !this.preferred('listener', id))) {
      stream.abort(new XaeroError('E_PEER_REFUSED'))
      return
    }
    // Full: the handshake says so, and the dialer goes to another peer. A session replacing one
    // with the same peer takes no new place.
    const options = { role: 'listener' as const, host: this.host, ns: this.ns, localPeer: this.node.peerId.toString(), remotePeer: id, limits: this.limits }
    if (!this.sessions.has(id) && this.sessions.size + this.accepting.size >= SESSIONS_PER_PEER_SLOT * this.maxPeers) {
      await PeerSession.open(stream, { ...options, full: true }).catch(() => {}) // rejects with E_PEER_FULL
      return
    }
    this.accepting.add(id)
    try {
      const session = await PeerSession.open(stream, options)
      this.register(session)
    } catch (e) {
      this.punish(id, e)
    } finally {
      this.accepting.delete(id)
    }
  }

  /**
   * Two peers that open a session to each other at once must keep the same one: the session
   * opened by the smaller peer id. Both sides apply this rule, so they agree without a word.
   */
  private preferred(role: 'dialer' | 'listener', remote: string): boolean {
    const dialer = role === 'dialer' ? this.node.peerId.toString() : remote
    const other = role === 'dialer' ? remote : this.node.peerId.toString()
    return dialer < other
  }

  // A new session: kept (one per peer), synced now and then periodically, and dropped on close.
  private register(session: PeerSession): PeerSession {
    const id = session.remotePeer
    if (this.stopped) { session.close().catch(() => {}); throw new XaeroError('E_CLOSED') }
    const existing = this.sessions.get(id)
    if (existing) {
      if (!this.preferred(session.role, id)) { session.close().catch(() => {}); return existing }
    }
    this.sessions.set(id, session) // before the old one closes: its 'close', and syncWith's retry, see the new one
    existing?.close().catch(() => {})
    session.addEventListener('gap', () => this.backgroundSync(session, true))
    session.addEventListener('sync', (e: globalThis.Event) => {
      this.reopening.delete(id) // a sync went through: the next loss starts the backoff again
      this.dispatchEvent(new CustomEvent('sync', { detail: { peer: id, ...(e as CustomEvent).detail } }))
    })
    session.addEventListener('close', (e: globalThis.Event) => {
      const reason = (e as CustomEvent).detail?.reason
      this.punish(id, reason)
      if (this.sessions.get(id) !== session) return // replaced by the preferred session
      this.sessions.delete(id)
      this.refetch(id)
      this.dispatchEvent(new CustomEvent('peer:disconnect', { detail: { id, reason } }))
      this.reopenLater(id)
    })
    if (this.ns.authKey) this.dht?.refresh() // a member now: its DHT traffic is let through
    if (!existing) this.dispatchEvent(new CustomEvent('peer:connect', { detail: { id, addrs: this.peers().find((p) => p.id === id)?.addrs ?? [] } }))
    this.backgroundSync(session)
    this.schedule(session)
    return session
  }

  /**
   * Syncs a session in the background, one sync at a time. A sync moves events both ways, so on
   * connect and for anti-entropy only the peer with the smaller id starts one (both starting one
   * measured three overlapping syncs of the same events, each validated again); a gap is
   * repaired by the side that saw it (`always`).
   */
  private backgroundSync(session: PeerSession, always = false): void {
    if (!always && this.node.peerId.toString() > session.remotePeer) return
    if (this.syncing.has(session)) return
    const done = session.sync().then((r) => r, () => undefined) // its outcome is also the 'sync' event; a failure closes the session
      .finally(() => this.syncing.delete(session))
    this.syncing.set(session, done)
  }

  private schedule(session: PeerSession): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      if (this.sessions.get(session.remotePeer) !== session) return
      this.backgroundSync(session)
      this.schedule(session)
    }, ANTI_ENTROPY_MS * (0.8 + 0.4 * Math.random()))
    timer.unref?.()
    this.timers.add(timer)
  }

  /**
   * Reopens a lost session later: after REOPEN_MS, doubling while sessions with the peer keep
   * failing, and not before a ban ends. Without this, a session lost while the connection stayed
   * up (an idle limit passed on an overloaded machine, a stream reset) was never reopened: the
   * DHT reports a peer again only when it reconnects, and 10 peers on the loaded 2-core machine
   * ended with 0–2 sessions each. A peer that cannot be reached is left to the DHT's redials.
   */
  private reopenLater(id: string): void {
    if (this.stopped || this.sessions.size >= this.maxPeers) return
    const state = this.reopening.get(id) ?? { delay: REOPEN_MS }
    clearTimeout(state.timer)
    const ban = this.banned.get(id)
    const wait = Math.max(state.delay * (0.8 + 0.4 * Math.random()), ban ? ban.until - Date.now() : 0)
    state.delay = Math.min(state.delay * 2, REOPEN_MAX_MS)
    state.timer = setTimeout(() => {
      this.timers.delete(state.timer!)
      if (this.stopped || this.sessions.has(id) || this.node.getConnections(peerIdFromString(id)).length === 0) return
      void this.connect(id).catch((e: unknown) => { if (!isFull(e)) this.reopenLater(id) })
    }, wait)
    state.timer.unref?.()
    this.timers.add(state.timer)
    this.reopening.set(id, state)
  }

  // A peer that identified itself as speaking this group's protocol: one side opens the session
  // (the smaller peer id), so two peers that find each other at once do not open two.
  private identified(detail: IdentifyResult): void {
    const id = detail.peerId.toString()
    if (!detail.protocols.includes(this.ns.sync) || this.node.peerId.toString() > id) return
    const open = () => {
      if (this.sessions.has(id) || this.accepting.has(id) || this.sessions.size >= this.maxPeers) return
      void this.connect(id).catch(() => {})
    }
    if (detail.connection?.direction !== 'inbound') return open()
    const timer = setTimeout(() => { this.timers.delete(timer); open() }, INBOUND_GRACE_MS)
    this.timers.add(timer)
  }

  // Each new event goes to every peer but the one it came from (and, from an index batch, appends
  // are left out: they went when durable). This store's own events go whole (PUSH); events it
  // received from a peer are announced by id (HAVE), and each neighbour fetches those it lacks
  // from one peer (`fetches`). Pushed whole by every neighbour that had it, an event reached a
  // peer of the 20-peer bench 4–5 times (1 580–1 677 bytes received per 344-byte event; 711–844
  // with the relay: docs/NETWORK.md, Live push). A peer's session drops what its queue cannot
  // hold and tells the peer there is a gap (sync repairs it).
  private push(events: readonly Event[], origins: readonly Origin[], indexed = false): void {
    for (const session of this.sessions.values()) {
      const peer = session.remotePeer
      const whole: Event[] = [], ids: Event[] = []
      for (let i = 0; i < events.length; i++) {
        const o = origins[i]
        if (typeof o === 'object') { if (o.peer !== peer) ids.push(events[i]) } else if (!(indexed && o === 'append')) whole.push(events[i])
      }
      if (whole.length > 0) session.push(whole)
      if (ids.length > 0) session.announce(ids)
    }
  }

  /**
   * Sends again the fetches that will not come (those from `lost`, whose session closed, else
   * those past their time) to other peers that announced them; where none is left, syncs with
   * the peer asked last.
   */
  private refetch(lost?: string): void {
    const { fetch, repair } = this.fetches.reassign((p) => this.sessions.get(p)?.open === true, lost)
    for (const [peer, ids] of fetch) this.sessions.get(peer)!.fetch(ids)
    for (const peer of repair) this.backgroundSync(this.sessions.get(peer)!, true)
  }

  // --- refusing peers that broke a rule ------------------------------------------------------

  private punish(id: string, reason: unknown): void {
    if (!(reason instanceof XaeroError) || !PEER_FAULTS.has(reason.code)) return
    const strikes = (this.banned.get(id)?.strikes ?? 0) + 1
    this.banned.set(id, { until: Date.now() + Math.min(BAN_MAX_MS, BAN_MS * 2 ** (strikes - 1)), strikes })
    // A peer that sent something it must not is cut off entirely. One that only fell silent may
    // be overloaded: its session is closed and refused for the ban, and the connection (its DHT
    // streams, other groups' sessions on a shared node) stays up.
    if (reason.code !== 'E_TIMEOUT') void this.node.hangUp(peerIdFromString(id)).catch(() => {})
  }

  private isBanned(id: string): boolean {
    const ban = this.banned.get(id)
    return ban !== undefined && ban.until > Date.now()
  }

  /** Leaves the group: closes the sessions, the DHT, and the node if the store started it. */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    running.delete(this)
    for (const t of this.timers) clearTimeout(t)
    clearInterval(this.fetchTimer)
    this.stopFeed?.()
    this.stopAppended?.()
    this.stopPeers?.()
    this.node.removeEventListener('peer:identify', this.onIdentify)
    await Promise.allSettled([...this.opening.values()])
    await Promise.allSettled([...this.sessions.values()].map((s) => s.close(new XaeroError('E_CLOSED'))))
    await this.node.unhandle(this.ns.sync).catch(() => {})
    await this.dht?.leave().catch(() => {})
    if (this.own) await this.node.stop()
  }
}

/** `promise`, or E_ABORTED as soon as `signal` aborts (the work behind `promise` goes on). */
function abortable<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise
  if (signal.aborted) return Promise.reject(new XaeroError('E_ABORTED', 'the sync was aborted', { cause: signal.reason }))
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new XaeroError('E_ABORTED', 'the sync was aborted', { cause: signal.reason }))
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}

const isFull = (e: unknown) => e instanceof XaeroError && e.code === 'E_PEER_FULL'

/** The codes that mean the peer broke a rule (docs/NETWORK.md, Limits per peer). */
const PEER_FAULTS = new Set<string>(['E_PROTOCOL', 'E_AUTH', 'E_PEER_LIMIT', 'E_TIMEOUT', 'E_BAD_EVENT', 'E_BAD_MESSAGE', 'E_BUDGET'])
