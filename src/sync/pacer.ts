// How the reconciliations of one store share its thread.

/**
 * Work (ms) that reconciliation steps may run since the event loop last had a turn. 512 steps
 * of a descent through cached pages ran ~10 ms without a yield, and a live push from the same
 * store waited behind them (test/net-hostile.test.ts, a liar whose fingerprints never match:
 * 13 ms against 2.6 ms).
 */
export const PACE_MS = 2

/**
 * One per store, shared by all its reconciliations: after PACE_MS of their steps together, all of
 * them pause for the same timer's turn (≥ 1 ms), so reconciliation takes at most about two thirds
 * of the thread however many peers it serves (yielding for one turn of the event loop instead, a
 * liar's descents held a store's pushes to 2.2× in CI). With a pause per session, each on its own clock,
 * K sessions could work K × PACE_MS in a row: their timers come due in the same timers phase.
 */
export class Pacer {
  private since = performance.now()
  private pausing?: Promise<void>

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
    if (!this.pausing) this.since = performance.now()
  }

  /** Whether the steps since the last turn have used up PACE_MS. */
  get spent(): boolean {
    return performance.now() - this.since >= PACE_MS
  }

  /** The pause every session over PACE_MS waits for: one timer's turn, shared. */
  pause(): Promise<void> {
    return (this.pausing ??= new Promise<void>((resolve) => setTimeout(resolve, 1)).then(() => {
      this.pausing = undefined
      this.turned()
    }))
  }
}
