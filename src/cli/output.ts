// Standard output for both audiences: text for people, JSON for scripts (one document, or one
// per line for streams). Writes wait for the pipe to drain, so a query of millions of events
// piped to a slow reader holds a few lines in memory, not all of them.
import type { Writable } from 'node:stream'

/** The reader of standard output went away (`xaeroflux query | head`): the command stops quietly. */
export class OutputClosed extends Error {
  constructor() {
    super('standard output was closed')
    this.name = 'OutputClosed'
  }
}

export class Output {
  constructor(readonly json: boolean, private readonly stream: Writable = process.stdout) {}

  /** A line of text (human mode). */
  async line(text = ''): Promise<void> {
    await this.write(text + '\n')
  }

  /** One JSON value on a line of its own: the whole output, or one line of a stream. */
  async value(value: unknown): Promise<void> {
    await this.write(JSON.stringify(value) + '\n')
  }

  private async write(text: string): Promise<void> {
    const stream = this.stream
    if (stream.destroyed || stream.writableEnded) throw new OutputClosed()
    if (stream.write(text)) return
    // Settles however the stream ends: waiting for 'drain' alone would hang on a closed pipe.
    await new Promise<void>((resolve, reject) => {
      const settle = (error?: unknown) => {
        stream.off('drain', settle).off('error', settle).off('close', settle)
        if (error === undefined && !stream.destroyed) resolve()
        else reject(new OutputClosed())
      }
      stream.on('drain', settle).on('error', settle).on('close', settle)
    })
  }
}
