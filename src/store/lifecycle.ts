// The store's status (as abstract-level has it: opening → open → closing → closed) and the calls
// in flight, so that `flush` covers every call made before it and `close` settles them all.
import { XaeroError } from '../errors.js'

/** A store's status: `open` resolves with an 'open' store; `close` makes it 'closing', then 'closed'. */
export type Status = 'opening' | 'open' | 'closing' | 'closed'

export class Lifecycle {
  status: Status = 'opening'
  private readonly calls = new Set<Promise<unknown>>()
  private readonly closing = new AbortController()

  /** Aborted, with E_CLOSED as its reason, when the store starts closing: long operations (iterators, reconciliations) end with it. */
  get signal(): AbortSignal { return this.closing.signal }

  /** Throws E_CLOSED unless the store is open. */
  assertOpen(): void {
    if (this.status !== 'open') throw new XaeroError('E_CLOSED', `the store is ${this.status}`)
  }

  /** Keeps `call` in flight until it settles; returns it. */
  track<T>(call: Promise<T>): Promise<T> {
    this.calls.add(call)
    const done = () => { this.calls.delete(call) }
    call.then(done, done)
    return call
  }

  /** Resolves once every call tracked so far has settled, whatever its outcome. */
  async settled(): Promise<void> {
    if (this.calls.size > 0) await Promise.allSettled([...this.calls])
  }

  /** Marks the store closing: new calls fail with E_CLOSED, and `signal` aborts. */
  beginClose(): void {
    this.status = 'closing'
    this.closing.abort(new XaeroError('E_CLOSED', 'the store closed'))
  }

  /**
   * What a failure during or after close is to the caller: E_CLOSED (with the original as its
   * cause) once the store is closing, the error itself before.
   */
  closedOr(e: unknown): unknown {
    if (this.status === 'open' || this.status === 'opening' || (e instanceof XaeroError && e.code === 'E_CLOSED')) return e
    return new XaeroError('E_CLOSED', 'the store closed during the call', { cause: e })
  }
}
