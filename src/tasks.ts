// The next turn of the event loop, in Node and in browsers: a macrotask, so that I/O callbacks
// and timers get their turn (a resolved promise would not). setImmediate in Node; browsers lack
// it, and nest setTimeout(0) to ≥ 4 ms, so a MessageChannel there (one, its callbacks in order).

/** Runs `fn` in a macrotask soon. */
export const nextTask: (fn: () => void) => void = typeof setImmediate === 'function'
  ? (fn) => { setImmediate(fn) }
  : typeof MessageChannel === 'function'
    ? (() => {
        const channel = new MessageChannel(), waiting: Array<() => void> = []
        channel.port1.onmessage = () => waiting.shift()?.()
        return (fn: () => void) => { waiting.push(fn); channel.port2.postMessage(0) }
      })()
    : (fn) => { setTimeout(fn, 0) }

/** Resolves in a macrotask soon: lets the event loop run. */
export const yieldToEventLoop = (): Promise<void> => new Promise<void>((resolve) => nextTask(resolve))
