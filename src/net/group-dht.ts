// One group's own kad-dht on a running libp2p node, and what the group does with it
// (docs/NETWORK.md "Group DHT"): peers find each other by providing and looking up the group's
// CID, keep connections to up to `maxPeers` of them, and find holders of time buckets.
// The service (service.ts) owns one GroupDhtCore per `<ns>` and hands out reference-counted handles.
import { start as startAll, stop as stopAll, type PeerId, type PeerInfo } from '@libp2p/interface'
import { kadDHT, passthroughMapper, type KadDHT, type KadDHTComponents, type QueryEvent } from '@libp2p/kad-dht'
import type { CID } from 'multiformats/cid'
import { XaeroError } from '../errors.js'
import { gateRoutingTable, gatedComponents, safeAllow, type Allow } from './gate.js'
import { BUCKET_MS, MAX_RANGE_BUCKETS, bucketCid, bucketOf, groupCid } from './keys.js'
import type { GroupNamespace } from './namespace.js'

/** A group peer: its peer id and the multiaddrs it is known at. */
export interface GroupPeer {
  /** Its libp2p peer id. */
  id: string
  /** Its multiaddrs. */
  addrs: string[]
}

/** The options of `joinGroup`. */
export interface GroupDhtOptions {
  /**
   * Group peers to keep connections to: discovery dials providers of the group's CID until this
   * many are connected, and a lost one keeps its slot while it is being redialed.
   * @default 8
   */
  maxPeers?: number
  /**
   * Secret groups: only peers for which this returns true may use this group's DHT. Their kad
   * streams are refused, we never open one to them, and they never enter the routing table nor
   * the group's peers. Asked at each use (cheap and synchronous), so a peer the sync handshake
   * admits later is served from then on; call `refresh()` after admitting one. A predicate that
   * throws refuses.
   */
  allow?: (peerId: string) => boolean
  /**
   * Filters the addresses of the peers in this DHT's routing table and answers.
   * @default passthroughMapper: keeps every address, as loopback and LAN groups need. A public
   * deployment passes `removePrivateAddressesMapper` (from @libp2p/kad-dht) so that private
   * addresses are neither stored nor handed to other peers.
   */
  peerInfoMapper?: (peer: PeerInfo) => PeerInfo
  /**
   * Run the group's kad-dht as a client: it queries, never answers (its protocol is not handled,
   * so peers do not put it in their routing tables), and provides no record (neither the group's
   * CID nor buckets: `announce` does nothing). For a peer nobody can dial, such as a browser
   * page (node-browser.ts sets it).
   * @default false
   */
  clientMode?: boolean
}

/** A handle on one group's own kad-dht on a node (`XaerofluxService.joinGroup`). */
export interface GroupDht {
  /** The group's namespace and protocol ids. */
  readonly ns: GroupNamespace
  /** Called with each group peer found through the DHT (a provider of the group's CID) and connected to, up to maxPeers, and again when one is reconnected. Returns the unsubscribe function. */
  onPeer(listener: (peer: GroupPeer) => void): () => void
  /** Group peers currently known and connected (at most maxPeers). */
  peers(): GroupPeer[]
  /**
   * Content discovery: provide the bucket (one UTC day) of each timestamp, once per bucket.
   * Resolves when every new bucket's provider record reached at least one group peer; rejects
   * with E_DHT_QUERY when some did not (no peer yet, timeout): those are kept and sent again at
   * each discovery round, so a caller may ignore that error. E_ABORTED through `signal`.
   */
  announce(timestamps: Iterable<number>, options?: { signal?: AbortSignal }): Promise<void>
  /** Peers holding events in [from, to] (ms, inclusive): the providers of each bucket the range touches, each peer once, not ourselves. */
  findHolders(range: { from: number; to: number }, options?: { signal?: AbortSignal }): AsyncIterable<GroupPeer>
  /** Runs a discovery round now (e.g. after the sync handshake admitted a peer of a secret group). */
  refresh(): void
  /**
   * The peer refused our sync session because it is full (E_PEER_FULL): its slot is freed, a
   * lookup round looks for another peer, and rounds pass it over for PASS_OVER_MS. Its
   * connection is left to the connection manager.
   */
  passOver(peerId: string): void
  /** Peer ids in this group's kad routing table (diagnostics, tests). */
  routingPeers(): string[]
  /** Discovery rounds so far (diagnostics, tests): full rounds run, full rounds skipped (maxPeers kept and nothing to provide), lookup rounds. */
  rounds(): { full: number; skipped: number; lookups: number }
  /** Leaves the group's DHT: this handle becomes unusable; the kad-dht stops when the last handle leaves. Never stops the node. Idempotent. */
  leave(): Promise<void>
}

export const DEFAULT_MAX_PEERS = 8
/** Discovery rounds: the first at join, then after 1 s, 2 s, 4 s … capped at 5 min; back to 1 s when a group peer is lost. */
export const ROUND_FIRST_DELAY_MS = 1_000
export const ROUND_MAX_DELAY_MS = 300_000
/** Rounds asked for "soon" (a new routing-table peer, a lost peer, refresh()) start at least this long after the previous one. */
export const ROUND_MIN_SPACING_MS = 250
/**
 * A lookup round asked for "soon" (a new routing-table peer, a provider record of the group's CID)
 * starts no sooner than this: the peer that caused it has just connected, and the first sync
 * with it is running. The round's streams, peer records and routing updates on both sides took
 * the network bench's catch-up from 73–93 ms to 90–115 ms when the round started at once.
 */
export const LOOKUP_DELAY_MS = 1_000
/** A lost group peer is redialed after 1 s, 2 s, 4 s … (cap 5 min); after this many failed dials its slot is freed. */
export const MAX_REDIALS = 8
/** A peer that refused our session as full is not taken as a group peer again for this long. */
export const PASS_OVER_MS = 60_000
/** Bound of one discovery round (its provide, lookup and dials). */
export const ROUND_TIMEOUT_MS = 20_000
/** Bound of one provider lookup of findHolders, and of one bucket's provide in announce. */
export const LOOKUP_TIMEOUT_MS = 10_000
const DIAL_TIMEOUT_MS = 5_000
/** Keeps our group peers' connections from being pruned by the connection manager. */
const PEER_TAG_VALUE = 50

type Components = KadDHTComponents

interface Member { id: PeerId; addrs: string[]; connected: boolean; redials: number; timer?: NodeJS.Timeout }

/** Internals of KadDHT we use: its routing table (to inspect and gate it) and onPeerConnect (to seed it). */
interface KadInternals {
  routingTable: EventTarget & { size: number; add(peer: PeerId, options?: unknown): Promise<void>; kb?: { toIterable(): Iterable<{ peerId: PeerId }> } }
  onPeerConnect(peer: PeerInfo): Promise<void>
  providers: { addProvider(cid: CID, provider: PeerId, options?: unknown): Promise<void> }
}

/** Diagnostics and tests: the kad-dht under a handle (undefined once left). */
export function kadOf(handle: GroupDht): KadDHT | undefined {
  const core = cores.get(handle)
  return core?.running ? core.kad : undefined
}
const cores = new WeakMap<GroupDht, GroupDhtCore>()

const abortedError = (signal: AbortSignal) => new XaeroError('E_ABORTED', undefined, { cause: signal.reason })

/** The running DHT of one group on one node, shared by the handles joined to it. */
export class GroupDhtCore {
  readonly ns: GroupNamespace
  private readonly components: Components
  private readonly maxPeers: number
  private readonly allow?: Allow
  private readonly clientMode: boolean
  private readonly mapper: (peer: PeerInfo) => PeerInfo
  private readonly cid: CID
  private readonly tag: string
  private dht?: KadDHT
  private readonly stopper = new AbortController()
  private readonly members = new Map<string, Member>()
  /** Peers that refused our session as full (passOver), and until when they are passed over. */
  private readonly passedOver = new Map<string, number>()
  private readonly listeners = new Set<(peer: GroupPeer) => void>()
  private readonly announced = new Set<number>()
  private readonly pending = new Set<number>()
  private roundDelay = ROUND_FIRST_DELAY_MS
  private fullTimer?: NodeJS.Timeout
  private fullDue = 0
  private lookupTimer?: NodeJS.Timeout
  private lookupWaiting = false
  private lastRoundEnd = 0
  private provided = false
  readonly rounds = { full: 0, skipped: 0, lookups: 0 }
  private queue: Promise<void> = Promise.resolve()
  private refs = 0
  private stopped = false

  constructor(components: Components, ns: GroupNamespace, options: GroupDhtOptions) {
    this.components = components
    this.ns = ns
    this.maxPeers = options.maxPeers ?? DEFAULT_MAX_PEERS
    this.allow = options.allow
    this.clientMode = options.clientMode === true
    this.mapper = options.peerInfoMapper ?? passthroughMapper
    this.cid = groupCid(ns.ns)
    this.tag = `xaeroflux-group-${ns.ns.slice(0, 16)}`
  }

  async start(): Promise<void> {
    const short = this.ns.ns.slice(0, 16)
    const components = this.allow ? gatedComponents(this.components, this.ns.kad, this.allow) : this.components
    const dht = kadDHT({
      protocol: this.ns.kad,
      // Answer queries: every group peer is a server of its group's DHT, also behind NAT on a LAN;
      // a browser page, which nobody can dial, is a client.
      clientMode: this.clientMode,
      peerInfoMapper: this.mapper,
      // kad-dht's first self-query starts this long after the DHT, or when the first peer enters
      // the routing table if that is later: with 0 it ran at once on the first connection, beside
      // the first sync (a FIND_NODE stream each way; catch-ups of the network bench, 3 alternating
      // runs of 7: medians 134, 130, 119 ms against 114, 122, 91 with 1 s). Every query waits for
      // it, but the group's first lookup is LOOKUP_DELAY_MS after that peer anyway.
      initialQuerySelfInterval: LOOKUP_DELAY_MS,
      // Per-group keys in the node's datastore and metrics, so that groups sharing a node share no provider records.
      datastorePrefix: `/xaeroflux/${this.ns.ns}/dht`,
      logPrefix: `xaeroflux:dht:${short}`,
      metricsPrefix: `xaeroflux_dht_${short}`,
    })(components)
    if (this.allow) gateRoutingTable((dht as unknown as KadInternals).routingTable, this.allow)
    this.watchProviderRecords(dht as unknown as KadInternals)
    this.dht = dht
    await startAll(dht)
    this.components.events.addEventListener('peer:disconnect', this.onDisconnect)
    this.components.events.addEventListener('peer:connect', this.onConnect)
    ;(dht as unknown as KadInternals).routingTable.addEventListener('peer:add', this.onRoutingPeer)
    this.seedRoutingTable()
    this.scheduleFull(0)
  }

  /** A new handle (reference). */
  handle(): GroupDht {
    this.refs++
    let left = false
    const own = new Set<(peer: GroupPeer) => void>()
    const check = () => { if (left) throw new XaeroError('E_LEFT') }
    const core = this
    const handle: GroupDht = {
      ns: this.ns,
      onPeer(listener) {
        check()
        if (typeof listener !== 'function') throw new TypeError('listener is a function')
        const wrapped = (peer: GroupPeer) => listener(peer)
        own.add(wrapped)
        core.listeners.add(wrapped)
        return () => { own.delete(wrapped); core.listeners.delete(wrapped) }
      },
      peers() { check(); return core.peers() },
      async announce(timestamps, options) { check(); return core.announce(timestamps, options?.signal) },
      findHolders(range, options) { check(); return core.findHolders(range, options?.signal) },
      refresh() { check(); core.refresh() },
      passOver(peerId) { check(); core.passOver(peerId) },
      routingPeers() { check(); return core.routingPeers() },
      rounds() { check(); return { ...core.rounds } },
      async leave() {
        if (left) return
        left = true
        for (const l of own) core.listeners.delete(l)
        own.clear()
        if (--core.refs === 0) await core.stop()
      },
    }
    cores.set(handle, this)
    return handle
  }

  get kad(): KadDHT | undefined { return this.dht }

  get running(): boolean { return !this.stopped }

  /** Called once this core is stopped (the service forgets it). */
  onStopped?: () => void

  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    this.stopper.abort(new XaeroError('E_LEFT'))
    clearTimeout(this.fullTimer)
    clearTimeout(this.lookupTimer)
    this.components.events.removeEventListener('peer:disconnect', this.onDisconnect)
    this.components.events.removeEventListener('peer:connect', this.onConnect)
    for (const m of this.members.values()) clearTimeout(m.timer)
    await this.queue
    if (this.dht) {
      ;(this.dht as unknown as KadInternals).routingTable.removeEventListener('peer:add', this.onRoutingPeer)
      await stopAll(this.dht)
      // KadDHT.stop() leaves its protocol handled; unhandle it so the node stops advertising it.
      await this.components.registrar.unhandle(this.ns.kad).catch(() => {})
    }
    await Promise.all([...this.members.values()].map((m) => this.untag(m.id)))
    this.members.clear()
    this.listeners.clear()
    this.onStopped?.()
  }

  peers(): GroupPeer[] {
    return [...this.members.values()].filter((m) => m.connected).map((m) => ({ id: m.id.toString(), addrs: [...m.addrs] }))
  }

  routingPeers(): string[] {
    const kb = (this.dht as unknown as KadInternals | undefined)?.routingTable.kb
    return kb ? [...kb.toIterable()].map((c) => c.peerId.toString()) : []
  }

  refresh(): void {
    if (this.stopped) return
    this.roundDelay = ROUND_FIRST_DELAY_MS
    this.scheduleFull(Math.max(0, this.lastRoundEnd + ROUND_MIN_SPACING_MS - Date.now()))
  }

  passOver(peerId: string): void {
    if (typeof peerId !== 'string') throw new TypeError('passOver takes a peer id')
    if (this.stopped) return
    this.passedOver.set(peerId, Date.now() + PASS_OVER_MS)
    const m = this.members.get(peerId)
    if (!m) return
    clearTimeout(m.timer)
    this.members.delete(peerId)
    void this.untag(m.id)
    this.nudge()
  }

  private isPassedOver(peerId: string): boolean {
    const until = this.passedOver.get(peerId)
    if (until === undefined) return false
    if (until > Date.now()) return true
    this.passedOver.delete(peerId)
    return false
  }

  private allowed(peer: { toString(): string }): boolean {
    return this.allow === undefined || safeAllow(this.allow, peer)
  }

  private isSelf(peer: PeerId): boolean { return peer.equals(this.components.peerId) }

  private isConnected(peer: PeerId): boolean { return this.components.connectionManager.getConnections(peer).length > 0 }

  // --- discovery rounds -------------------------------------------------------------------

  // Two kinds of rounds, never two at once (they run one after the other on `queue`):
  // - full rounds, on the backoff schedule: provide the group's CID (and pending bucket records),
  //   look up its providers, connect to new ones;
  // - lookup rounds, "soon" when something suggests a new group peer (a new routing-table peer, a
  //   provider record of the group's CID sent to us, refresh()): look up and connect only, at
  //   least ROUND_MIN_SPACING_MS apart, without touching the backoff.

  /** Runs the next full round after `delay` ms, unless one is due sooner. */
  private scheduleFull(delay: number): void {
    if (this.stopped) return
    const due = Date.now() + delay
    if (this.fullTimer !== undefined && this.fullDue <= due) return
    clearTimeout(this.fullTimer)
    this.fullDue = due
    this.fullTimer = setTimeout(() => {
      this.fullTimer = undefined
      this.enqueue(async () => {
        // With maxPeers kept and our records out, a round would only provide again what kad-dht's
        // reprovider keeps alive anyway, and look up peers we would not dial: skip it (the
        // schedule goes on; a lost peer brings the rounds back at 1 s). With every peer of a
        // group running rounds every 5 min, the ~20 peers nearest the group's CID would take
        // N / 300 s provides and lookups each (docs/NETWORK.md, Scale).
        if (this.members.size >= this.maxPeers && this.provided && this.pending.size === 0) this.rounds.skipped++
        else { this.rounds.full++; await this.round(true) }
        this.roundDelay = Math.min(this.roundDelay * 2, ROUND_MAX_DELAY_MS)
        this.scheduleFull(this.roundDelay)
      })
    }, delay)
  }

  /** Asks for a lookup round soon (LOOKUP_DELAY_MS; coalesced: at most one waiting), while fewer than maxPeers are kept. */
  private nudge(): void {
    if (this.stopped || this.lookupWaiting || this.members.size >= this.maxPeers) return
    this.lookupWaiting = true
    this.lookupTimer = setTimeout(() => this.enqueue(async () => {
      this.lookupWaiting = false
      this.rounds.lookups++
      await this.round(false)
    }), Math.max(LOOKUP_DELAY_MS, this.lastRoundEnd + ROUND_MIN_SPACING_MS - Date.now()))
  }

  private enqueue(job: () => Promise<void>): void {
    this.queue = this.queue.then(() => (this.stopped ? undefined : job())).catch(() => {}).finally(() => { this.lastRoundEnd = Date.now() })
  }

  /** A discovery round (full: provide too); failures (timeout, no answer) wait for the next round. */
  private async round(full: boolean): Promise<void> {
    const dht = this.dht
    if (!dht || this.stopped) return
    const signal = AbortSignal.any([this.stopper.signal, AbortSignal.timeout(ROUND_TIMEOUT_MS)])
    this.seedRoutingTable()
    if ((dht as unknown as KadInternals).routingTable.size === 0) return // nobody to ask yet: a query would wait for a peer
    try {
      // Until our record has reached a peer, every round provides: the first peers of a group
      // otherwise learn of each other only at a later backoff step.
      if (!this.clientMode && (full || !this.provided)) {
        if (await this.provideOnce(this.cid, signal)) this.provided = true
        for (const bucket of [...this.pending]) {
          if (await this.provideOnce(bucketCid(this.ns.ns, bucket), signal)) { this.pending.delete(bucket); this.announced.add(bucket) }
        }
      }
      const candidates: PeerInfo[] = []
      for await (const event of dht.findProviders(this.cid, { signal })) {
        if (event.name !== 'PROVIDER') continue
        for (const p of event.providers) if (!this.isSelf(p.id) && this.allowed(p.id)) candidates.push(p)
      }
      await this.admit(candidates, signal)
    } catch {
      // retried at the next round
    }
  }

  /** Keep up to maxPeers candidates: the connected ones first (free), then dial the others. */
  private async admit(candidates: PeerInfo[], signal: AbortSignal): Promise<void> {
    const fresh = new Map<string, PeerInfo>()
    for (const c of candidates) if (!this.members.has(c.id.toString()) && !this.isPassedOver(c.id.toString())) fresh.set(c.id.toString(), c)
    const ordered = [...fresh.values()].sort((a, b) => Number(this.isConnected(b.id)) - Number(this.isConnected(a.id)))
    for (const c of ordered) {
      if (this.members.size >= this.maxPeers || signal.aborted || this.stopped) return
      const addrs = c.multiaddrs.map(String)
      const member: Member = { id: c.id, addrs, connected: false, redials: 0 }
      this.members.set(c.id.toString(), member) // holds the slot while dialing
      if (await this.dial(member, c, signal)) this.connected(member)
      else this.members.delete(c.id.toString())
    }
  }

  private async dial(member: Member, info: PeerInfo | undefined, signal: AbortSignal): Promise<boolean> {
    if (this.isConnected(member.id)) return true
    try {
      if (info && info.multiaddrs.length > 0) await this.components.peerStore.merge(member.id, { multiaddrs: info.multiaddrs })
      await this.components.connectionManager.openConnection(member.id, { signal: AbortSignal.any([signal, AbortSignal.timeout(DIAL_TIMEOUT_MS)]) })
      return true
    } catch {
      return false
    }
  }

  private connected(member: Member): void {
    if (this.stopped || member.connected) return
    member.connected = true
    member.redials = 0
    clearTimeout(member.timer)
    void this.tagPeer(member.id)
    const peer = { id: member.id.toString(), addrs: [...member.addrs] }
    for (const l of [...this.listeners]) {
      try { l(peer) } catch { /* a listener's failure is its own */ }
    }
  }

  /**
   * A new routing-table peer is a new group peer (it runs this group's DHT): while we keep fewer
   * than maxPeers, look it up soon rather than at the next backoff step (rounds at least
   * ROUND_MIN_SPACING_MS apart). Without this, the first peers of a group wait up to a whole backoff
   * step to see the ones that join after them.
   */
  private readonly onRoutingPeer = (): void => { this.nudge() }

  /**
   * A peer that joins provides the group's CID to the peers closest to it, maybe us: a provider
   * record of it stored here is the first sign of a new group peer, so look it up soon.
   */
  private watchProviderRecords(dht: KadInternals): void {
    const providers = dht.providers
    const add = providers.addProvider.bind(providers)
    const mine = this.cid.multihash.bytes
    providers.addProvider = async (cid, provider, options) => {
      await add(cid, provider, options)
      const mh = cid.multihash.bytes
      if (mh.length === mine.length && mh.every((b, i) => b === mine[i]) && !this.isSelf(provider) && !this.members.has(provider.toString())) this.nudge()
    }
  }

  private readonly onConnect = (evt: CustomEvent<PeerId>): void => {
    const m = this.members.get(evt.detail.toString())
    if (m && !m.connected && this.allowed(m.id)) this.connected(m)
  }

  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const m = this.members.get(evt.detail.toString())
    if (!m || this.stopped) return
    m.connected = false
    this.scheduleRedial(m)
    // Look for a replacement soon, in case this one is gone for good.
    this.roundDelay = ROUND_FIRST_DELAY_MS
    this.scheduleFull(ROUND_FIRST_DELAY_MS) // not sooner: give its redial a chance first
  }

  private scheduleRedial(m: Member): void {
    clearTimeout(m.timer)
    if (m.redials >= MAX_REDIALS || !this.allowed(m.id)) {
      this.members.delete(m.id.toString())
      void this.untag(m.id)
      return
    }
    const delay = Math.min(ROUND_FIRST_DELAY_MS * 2 ** m.redials, ROUND_MAX_DELAY_MS)
    m.redials++
    m.timer = setTimeout(() => {
      if (this.stopped || m.connected) return
      void this.dial(m, undefined, this.stopper.signal).then((ok) => {
        if (this.stopped || m.connected) return
        if (ok) this.connected(m)
        else this.scheduleRedial(m)
      })
    }, delay)
  }

  private async tagPeer(peer: PeerId): Promise<void> {
    await this.components.peerStore.merge(peer, { tags: { [this.tag]: { value: PEER_TAG_VALUE } } }).catch(() => {})
  }

  private async untag(peer: PeerId): Promise<void> {
    await this.components.peerStore.merge(peer, { tags: { [this.tag]: undefined } }).catch(() => {})
  }

  /**
   * Offers the connected peers that advertise this group's kad protocol to the routing table
   * (through the gate of a secret group). The kad-dht's topology only hears of peers identified
   * after it started; this covers connections made before the join, and peers admitted later.
   */
  private seedRoutingTable(): void {
    const dht = this.dht as unknown as KadInternals | undefined
    if (!dht || this.stopped) return
    for (const conn of this.components.connectionManager.getConnections()) {
      const id = conn.remotePeer
      if (!this.allowed(id)) continue
      void this.components.peerStore.get(id).then((peer) => {
        if (this.stopped || !peer.protocols.includes(this.ns.kad)) return
        return dht.onPeerConnect({ id, multiaddrs: peer.addresses.map((a) => a.multiaddr) })
      }).catch(() => {})
    }
  }

  /** Provides `cid`; true if the record reached at least one peer. */
  private async provideOnce(cid: CID, signal: AbortSignal): Promise<boolean> {
    let reached = 0
    for await (const event of this.dht!.provide(cid, { signal }) as AsyncIterable<QueryEvent>) {
      if (event.name === 'PEER_RESPONSE' && event.messageName === 'ADD_PROVIDER') reached++
    }
    return reached > 0
  }

  // --- content discovery ------------------------------------------------------------------

  async announce(timestamps: Iterable<number>, signal?: AbortSignal): Promise<void> {
    if (timestamps == null || typeof (timestamps as Iterable<number>)[Symbol.iterator] !== 'function') throw new TypeError('timestamps is an iterable of numbers')
    const buckets = new Set<number>()
    for (const ts of timestamps) buckets.add(bucketOf(ts))
    const todo = [...buckets].filter((b) => !this.announced.has(b))
    if (todo.length === 0 || this.clientMode) return // a client provides nothing
    if (signal?.aborted) throw abortedError(signal)
    for (const b of todo) this.pending.add(b)
    if ((this.dht as unknown as KadInternals).routingTable.size === 0) {
      throw new XaeroError('E_DHT_QUERY', 'no group peer in the routing table yet: the records are kept and sent at the next discovery rounds', { details: { pending: todo.length } })
    }
    let failed = 0
    let lastError: unknown
    for (const b of todo) {
      const stepSignal = AbortSignal.any([this.stopper.signal, AbortSignal.timeout(LOOKUP_TIMEOUT_MS), ...(signal ? [signal] : [])])
      try {
        if (await this.provideOnce(bucketCid(this.ns.ns, b), stepSignal)) {
          this.pending.delete(b)
          this.announced.add(b)
        } else failed++
      } catch (e) {
        if (signal?.aborted) throw abortedError(signal)
        if (this.stopped) throw new XaeroError('E_LEFT', undefined, { cause: e })
        failed++
        lastError = e
      }
    }
    if (failed > 0) throw new XaeroError('E_DHT_QUERY', `${failed} of ${todo.length} bucket records reached no group peer: kept and sent again at the next discovery rounds`, { cause: lastError, details: { pending: failed } })
  }

  /** Checks the range at the call (misuse throws there, not at the first next()). */
  findHolders(range: { from: number; to: number }, signal?: AbortSignal): AsyncIterable<GroupPeer> {
    if (range == null || typeof range !== 'object') throw new TypeError('range is { from, to }')
    const first = bucketOf(range.from)
    const last = bucketOf(range.to)
    if (range.to < range.from) throw new RangeError('range.to is before range.from')
    if (last - first + 1 > MAX_RANGE_BUCKETS) throw new RangeError(`a range spans at most ${MAX_RANGE_BUCKETS} buckets of ${BUCKET_MS} ms`)
    return this.holders(first, last, signal)
  }

  private async *holders(first: number, last: number, signal?: AbortSignal): AsyncIterable<GroupPeer> {
    const seen = new Set<string>()
    for (let b = first; b <= last; b++) {
      if (signal?.aborted) throw abortedError(signal)
      if (this.stopped) throw new XaeroError('E_LEFT')
      if ((this.dht as unknown as KadInternals).routingTable.size === 0) return // nobody to ask
      const stepSignal = AbortSignal.any([this.stopper.signal, AbortSignal.timeout(LOOKUP_TIMEOUT_MS), ...(signal ? [signal] : [])])
      try {
        for await (const event of this.dht!.findProviders(bucketCid(this.ns.ns, b), { signal: stepSignal })) {
          if (event.name !== 'PROVIDER') continue
          for (const p of event.providers) {
            const id = p.id.toString()
            if (seen.has(id) || this.isSelf(p.id) || !this.allowed(p.id)) continue
            seen.add(id)
            yield { id, addrs: p.multiaddrs.map(String) }
          }
        }
      } catch (e) {
        if (signal?.aborted) throw abortedError(signal)
        if (this.stopped) throw new XaeroError('E_LEFT', undefined, { cause: e })
        // This bucket's lookup timed out or failed: its holders are missed, the others are still asked.
      }
    }
  }
}
