// Lines that events produce at any time (a node's log): written one after another in the order
// they were asked for, each a text line prefixed with the time, or a JSON line with `at`. A line
// whose producer fails (the store closed meanwhile) is dropped: a log must never bring down what
// it reports on. When stdout is closed (`xaeroflux node | head`), `onClosed` is called once.
import { OutputClosed, type Output } from './output.js'

export type LogLine = string | Record<string, unknown>

export class Log {
  private queue: Promise<void> = Promise.resolve()

  private closed = false

  constructor(private readonly out: Output, private readonly onClosed: () => void = () => {}) {}

  /** Queues a line; `produce` runs when the lines before it are written. */
  write(produce: () => Promise<LogLine>): void {
    this.queue = this.queue.then(async () => {
      const line = await produce()
      const at = new Date().toISOString()
      await (typeof line === 'string' ? this.out.line(`${at}  ${line}`) : this.out.value({ at, ...line }))
    }).catch((e) => {
      if (e instanceof OutputClosed && !this.closed) { this.closed = true; this.onClosed() }
    })
  }

  /** Resolves when every line queued so far is written (or dropped). */
  drained(): Promise<void> {
    return this.queue
  }
}
