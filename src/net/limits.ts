// Per-peer limits of a sync session (docs/NETWORK.md, "Limits per peer"), and the token bucket
// that paces live pushes and the syncs a side opens. A peer that breaks a limit has its stream aborted with E_PEER_LIMIT
// (E_TIMEOUT for the idle limits); the integrator then refuses it for a backoff period.

/** What a peer may do before it is cut off (docs/NETWORK.md, Limits); each field has a default. */
export interface PeerLimits {
  /** Largest frame accepted (header included); an envelope is up to ~2 MiB, so at least 2.5 MiB. @default 4 MiB */
  maxFrame: number
  /** Bytes of EVENTS a peer may have unacknowledged per sync and direction (flow control window, announced in HELLO). @default 8 MiB */
  window: number
  /** Ids a peer may have asked for (WANT) and not yet been served, per sync. @default 16 384 */
  wantWindow: number
  /** Syncs the peer may run on this side at once (requests in flight). @default 4 */
  maxRequests: number
  /**
   * Syncs per minute the peer may open on this side (token bucket, announced in HELLO so an
   * honest peer paces itself). Each sync may cost this side one descent of its Merkle tree
   * whatever the peer's fingerprints say; this bounds how often. @default 30
   */
  syncRate: number
  /** Burst of the sync token bucket, in syncs. @default 10 */
  syncBurst: number
  /** Bytes received from the peer within one sync (its reconciliation, wants and events); then E_PEER_LIMIT. @default 1 GiB */
  syncBytes: number
  /**
   * Milliseconds without progress (a frame received, an acknowledgement, a drain) while waiting on
   * the peer; then E_TIMEOUT and the stream is aborted. It bounds idleness, not the length of a
   * sync: a sync that keeps moving runs as long as it needs. @default 30 000
   */
  idleMs: number
  /**
   * Milliseconds the peer may keep this side waiting for its next reconciliation message, or for
   * events it owes, while it says it is still at work (PROGRESS frames, each of which resets `idleMs`); then
   * E_TIMEOUT. An honest but starved process (20 peers on 2 cores, each appending and indexing)
   * took 6–25 s for one step, past the idle limit; this bounds a peer that only says it works.
   * Never less than `idleMs`. @default 120 000
   */
  busyMs: number
  /** Milliseconds for the whole handshake (HELLO, and AUTH in a secret group). @default 10 000 */
  handshakeMs: number
  /** Events per second the peer may push live (token bucket, announced in HELLO so an honest sender paces itself). @default 2 000 */
  pushRate: number
  /** Burst of the push token bucket, in events. @default 4 000 */
  pushBurst: number
  /** Events queued for this peer's live push before dropping (and marking a gap). @default 4 096 */
  pushQueue: number
  /** Bytes of PUSH a peer may have unacknowledged (announced in HELLO). @default 4 MiB */
  pushWindow: number
  /** Target size of an EVENTS or PUSH frame this side sends (a single larger envelope goes alone). @default 256 KiB */
  batchBytes: number
}

export const DEFAULT_LIMITS: Readonly<PeerLimits> = Object.freeze({
  maxFrame: 4 << 20,
  window: 8 << 20,
  wantWindow: 16_384,
  maxRequests: 4,
  syncRate: 30,
  syncBurst: 10,
  syncBytes: 1 << 30,
  idleMs: 30_000,
  busyMs: 120_000,
  handshakeMs: 10_000,
  pushRate: 2_000,
  pushBurst: 4_000,
  pushQueue: 4_096,
  pushWindow: 4 << 20,
  batchBytes: 256 << 10,
})

/** Smallest values a side accepts from itself or announces; below them an honest envelope would not fit. */
export const MIN_FRAME = (2 << 20) + (512 << 10)
export const MIN_WINDOW = 64 << 10

export function resolveLimits(limits: Partial<PeerLimits> = {}): PeerLimits {
  if (typeof limits !== 'object' || limits === null) throw new TypeError('limits must be an object')
  const out: PeerLimits = { ...DEFAULT_LIMITS }
  for (const [name, v] of Object.entries(limits)) {
    if (!(name in DEFAULT_LIMITS)) throw new TypeError(`unknown limit ${name}`)
    if (v === undefined) continue
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) throw new RangeError(`limits.${name} must be a whole number > 0`)
    ;(out as unknown as Record<string, number>)[name] = v
  }
  if (out.maxFrame < MIN_FRAME || out.maxFrame > 0xffffffff) throw new RangeError(`limits.maxFrame must be in ${MIN_FRAME}..2^32-1`)
  if (out.window < MIN_WINDOW || out.pushWindow < MIN_WINDOW) throw new RangeError(`limits.window and pushWindow must be at least ${MIN_WINDOW}`)
  if (out.window > 0xffffffff || out.pushWindow > 0xffffffff || out.idleMs > 0xffffffff || out.pushRate > 0xffffffff || out.pushBurst > 0xffffffff || out.syncRate > 0xffffffff || out.syncBurst > 0xffffffff) {
    throw new RangeError('window, pushWindow, idleMs, pushRate, pushBurst, syncRate and syncBurst fit in 32 bits')
  }
  if (out.batchBytes > out.maxFrame / 2) throw new RangeError('limits.batchBytes must be at most maxFrame / 2')
  return out
}

/** `rate` tokens a second, at most `burst` held; starts full. */
export class TokenBucket {
  private tokens: number
  private at = performance.now()
  constructor(readonly rate: number, readonly burst: number) { this.tokens = burst }

  private refill(): void {
    const now = performance.now()
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) * this.rate) / 1000)
    this.at = now
  }

  /** Takes `n` tokens if there are that many. */
  take(n: number): boolean {
    this.refill()
    if (this.tokens < n) return false
    this.tokens -= n
    return true
  }

  /** Tokens available now (whole ones). */
  available(): number {
    this.refill()
    return Math.floor(this.tokens)
  }

  /** Milliseconds until `n` tokens (≤ burst) are available. */
  waitFor(n: number): number {
    this.refill()
    return this.tokens >= n ? 0 : Math.ceil(((n - this.tokens) * 1000) / this.rate)
  }
}
