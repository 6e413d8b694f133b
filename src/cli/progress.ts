// Progress bars for long work, drawn on stderr when it is a terminal and not at all otherwise
// (a pipe or a file gets no control characters). A bar redraws at most every 100 ms; one
// without a total is a spinner with a count, redrawn on a timer so that it moves while the work
// gives no news (a rebuild).

/** What a progress bar is drawn on: a terminal, or anything else (then nothing is drawn). */
export interface ProgressStream {
  readonly isTTY?: boolean
  readonly columns?: number
  write(text: string): unknown
}

export interface Progress {
  /** Sets how much is done (and optionally what is being done). */
  update(done: number, label?: string): void
  /** Erases the bar, so that lines can be written to the terminal; the next update redraws it. */
  clear(): void
  /** Erases the bar for good and stops its timer. */
  end(): void
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏']
const REDRAW_MS = 100
const ERASE = '\r\x1b[K'

const inactive: Progress = { update() {}, clear() {}, end() {} }

/**
 * A bar for work of `total` units (a spinner if it is unknown), or one that draws nothing when
 * `stream` is not a terminal. `now` is the clock (tests pass their own).
 */
export function progress(label: string, total?: number, stream: ProgressStream = process.stderr, now = () => performance.now()): Progress {
  if (!stream.isTTY) return inactive
  const start = now()
  let done = 0, drawnAt = -Infinity, shown = false, frame = 0, ended = false
  const draw = () => {
    drawnAt = now()
    const seconds = ((drawnAt - start) / 1000).toFixed(1)
    // A terminal of unknown size reports 0 columns (script(1), some CI consoles): assume 80.
    const columns = stream.columns || 80
    const width = Math.max(10, Math.min(30, columns - label.length - 40))
    let line: string
    if (total !== undefined && total > 0) {
      const fraction = Math.min(1, done / total)
      const filled = Math.round(fraction * width)
      line = `${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${Math.floor(fraction * 100)}% ${done}/${total} ${seconds}s`
    } else {
      line = `${label} ${SPINNER[frame++ % SPINNER.length]} ${done > 0 ? `${done} ` : ''}${seconds}s`
    }
    stream.write(ERASE + line.slice(0, columns - 1))
    shown = true
  }
  // A spinner turns while nothing is reported; unref'd, it never keeps the process alive.
  const timer = total === undefined ? setInterval(draw, REDRAW_MS) : undefined
  timer?.unref()
  draw()
  return {
    update(value, newLabel) {
      if (ended) return
      done = value
      if (newLabel !== undefined) label = newLabel
      if (!shown || newLabel !== undefined || now() - drawnAt >= REDRAW_MS) draw()
    },
    clear() {
      if (shown) stream.write(ERASE)
      shown = false
    },
    end() {
      if (ended) return
      ended = true
      clearInterval(timer)
      if (shown) stream.write(ERASE)
      shown = false
    },
  }
}
