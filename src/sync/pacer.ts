// How the reconciliations of one store share its thread.

/**
 * Work (ms) that reconciliation steps may run since the event loop last had a turn. 512 steps
 * of a descent through cached pages ran ~10 ms without a yield, and a live push from the same
 * store waited behind them (test/net-hostile.test.ts, a liar whose fingerprints never match:
 * 13 ms against 2.6 ms).
 */
export const PACE_MS = 2

/**
 * Longest a pause waits for the store's own work to end (ms). Then the reconciliations get a
 * PACE_MS slice whatever is waiting, so a store that appends without end still syncs, at about
 * PACE_MS in every LOCAL_WAIT_MS + PACE_MS.
 */
export const LOCAL_WAIT_MS = 10

/**
 * Share of the thread's time, at most, that it is busy while reconciliations run (measured from
 * pause to pause; see `rest`): BUSY_SHARE for their first STREAK_MS of it, LONG_SHARE after, as
 * a scheduler lowers a task that keeps the CPU. A catch-up's few ms of steps keep the first;
 * a descent of a whole tree (a peer whose set shares nothing with this one's, or a liar) goes on
 * at the second. With only the steps paced (PACE_MS on, 1 ms off), a liar's descent kept a
 * store's thread ~100 % busy: the steps' own 2/3, plus decrypting, parsing, encoding and GC
 * outside them, ~250 ms of CPU a descent. Beside one busy core, the store's pushes then reached
 * their peer 3–17 ms late for half of them, the peer's process waiting for a core
 * (test/net-hostile.test.ts, "fingerprints never match").
 */
export const BUSY_SHARE = 2 / 3
export const LONG_SHARE = 1 / 2
/** Busy time (ms) of the reconciliations, with no quiet stretch of STREAK_GAP_MS, after which LONG_SHARE applies. */
export const STREAK_MS = 50
const STREAK_GAP_MS = 100
/** Longest rest a pause takes for the share (ms). */
const MAX_REST_MS = 20

type Utilization = (since?: { idle: number; active: number }) => { idle: number; active: number }
/** performance.eventLoopUtilization (Node), bound; undefined in browsers. */
const utilization: Utilization | undefined = (performance as { eventLoopUtilization?: Utilization }).eventLoopUtilization?.bind(performance)

/**
 * One per store, shared by all its reconciliations: after PACE_MS of their steps together, or as
 * soon as the store's own work waits, all of them pause together (until the thread was busy at
 * most its share of the time, or until that work is done), however many peers they serve
 * (yielding for one turn of the event loop instead, a liar's descents held a store's pushes to
 * 2.2× in CI). With a pause per session, each on its own clock, K sessions could work
 * K × PACE_MS in a row: their timers come due in the same timers phase.
 */
export class Pacer {
  /**
   * `contended`: whether others share this thread, so that the reconciliations must pause when
   * their time is spent. A store on the network says so when more than one peer session is open
   * in the process (GroupNetwork.shared); a store without one, always. With one peer and no
   * appends of its own (`startLocal`, which still pauses them), nobody waits for the thread, and
   * the steps run on. A catch-up (100 events of 200 000, the network bench) rested 5–40 ms of its
   * 90–170 ms in the pauses of the holder and the reader, each with its only peer; and with the
   * rests cut to one turn of the event loop, libp2p's work on the new connection (identify, the
   * peer store, the DHT) came in at each turn, 5–10 ms at a time. Catch-ups without the pauses,
   * against with them, in 4 alternating runs of 7: medians 122, 141, 132, 140 ms against 144,
   * 145, 158, 161 (docs/dev/latency.md, session 18).
   */
  constructor(private readonly contended: () => boolean = () => true) {}

  private since = performance.now()
  private pausing?: Promise<void>
  /** When the last pause ended, and the event loop's utilization then. */
  private resumed = performance.now()
  private mark = utilization?.()
  /** When a step last started or resumed (`turned`). */
  private lastTurn = -Infinity
  private busyInStreak = 0
  private decidedRest = 0
  /** The thread's busy time (ms) over the pauses of the current streak of reconciliation work: past STREAK_MS, LONG_SHARE applies. */
  get streak(): number { return this.busyInStreak }
  /** The rest (ms) the last pause took for the share, as decided: its timer may fire later on a busy machine. */
  get lastRest(): number { return this.decidedRest }
  /** The store's own work under way (appends not yet acknowledged). */
  private local = 0
  /** Ends the pause that waits for the store's own work, when the last of it ends. */
  private localEnded?: () => void
  /** The last pause ran out waiting for the store's own work: this slice runs regardless of it. */
  private overdue = false

  /**
   * The store's own work has started: an append, which is pushed to the peers before it is
   * acknowledged. Until the returned function is called, reconciliations pause at their next
   * look (every 32 steps) and stay paused until the store's work is done (at most LOCAL_WAIT_MS),
   * with the Merkle tree let go (ReconcileSource.hold), so its index batch goes first.
   * Why: an append goes through several turns of the event loop (the Batcher's, the workers',
   * the WAL's or the index batch's, the frame's), and a slice of steps could come before each.
   * Measured with a liar whose fingerprints never match, beside a busy core
   * (test/net-hostile.test.ts, 8 attacks each): A's pushes to B at a median 1.54 × their usual
   * latency with the pauses alone, 1.09 × with this.
   */
  startLocal(): () => void {
    this.local++
    let ended = false
    return () => {
      if (ended) return
      ended = true
      if (--this.local === 0) this.localEnded?.()
    }
  }

  /**
   * The event loop has just had a turn (a message came in: a step starts). While a pause
   * is under way this changes nothing: the sessions that start or resume meanwhile join it at their
   * next look.
   *
   * A read waited for is not such a turn. The event loop turns while the read is out, but one
   * turn is not room enough for a push, which needs several (the Batcher's, the WAL write's, the
   * frame's); the timer's pause gives it a millisecond. With reads counted as turns (607ec36 to
   * 620068d, or at a read's return before its pages were decoded), a liar's descent held a store's
   * pushes at 8–15 ms against 1.6 ms (test/net-hostile.test.ts, "fingerprints never match": 3 of
   * 4 and 5 of 5 runs failed; 15 of 15 passed without).
   */
  turned(): void {
    const now = performance.now()
    if (!this.pausing) {
      this.since = now
      // The first step after a quiet stretch starts the window of the share: the thread's work
      // before it is not the reconciliations'. A catch-up's first step in a process that had
      // just opened its store and set up the connection (~90 % busy, under STREAK_GAP_MS) rested
      // 20 + 3 + 3 ms for it; its sync took 72–77 ms in the network bench, and 70–73 ms with this.
      if (now - this.lastTurn > STREAK_GAP_MS) { this.resumed = now; this.mark = utilization?.(); this.busyInStreak = 0 }
    }
    this.lastTurn = now
  }

  /** Whether the steps since the last turn have used up PACE_MS. */
  get spent(): boolean {
    return performance.now() - this.since >= PACE_MS
  }

  /** Whether reconciliations should pause now: their time is spent and others share the thread, or the store's own work is waiting. */
  get due(): boolean {
    return (this.spent && this.contended()) || (this.local > 0 && !this.overdue)
  }

  /**
   * The pause every session that is due waits for, shared: until the store's own work is done
   * (at most LOCAL_WAIT_MS), or else for its `rest`.
   */
  pause(): Promise<void> {
    return (this.pausing ??= this.wait().then(() => {
      this.pausing = undefined
      this.turned()
      this.resumed = performance.now()
      this.mark = utilization?.()
    }))
  }

  /**
   * How long a pause rests (ms): enough for the thread to have been busy at most its share of
   * the time since the last pause ended (BUSY_SHARE, or LONG_SHARE once the streak is long),
   * whatever kept it busy (steps, and what they cost outside them: a message's decryption and
   * parsing, its reply's encryption, page reads, GC), and at least one timer's turn. Where the
   * event loop's utilization is not measured (browsers), one timer's turn.
   */
  private rest(): number {
    if (!this.mark) return 1
    const active = utilization!(this.mark).active, wall = performance.now() - this.resumed
    // After a quiet stretch the window is not the reconciliations' own: the thread's work since
    // (a connection's set-up, other stores) made a catch-up's first pause rest ~20 ms.
    if (wall > STREAK_GAP_MS) { this.busyInStreak = 0; return 1 }
    this.busyInStreak += active
    const share = this.busyInStreak > STREAK_MS ? LONG_SHARE : BUSY_SHARE
    return Math.min(MAX_REST_MS, Math.max(1, Math.ceil(active / share - wall)))
  }

  private wait(): Promise<void> {
    this.overdue = false
    if (this.local === 0) return new Promise<void>((resolve) => setTimeout(resolve, (this.decidedRest = this.rest())))
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => { this.localEnded = undefined; this.overdue = true; resolve() }, LOCAL_WAIT_MS)
      this.localEnded = () => { clearTimeout(timer); this.localEnded = undefined; resolve() }
    })
  }
}
