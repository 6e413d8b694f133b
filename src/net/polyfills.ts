// What libp2p 3.3 needs from the runtime and Node 20 lacks. Idempotent: each is installed only
// when missing, so importing this module twice, or on Node 22+ or in a browser, changes nothing.
import WebSocket from 'ws'

// libp2p 3.3 calls Promise.withResolvers (Node 22+); Node 20 has no such method.
if (typeof (Promise as { withResolvers?: unknown }).withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers<T>(this: PromiseConstructor) {
      let resolve!: (value: T | PromiseLike<T>) => void
      let reject!: (reason?: unknown) => void
      const promise = new this<T>((res, rej) => { resolve = res; reject = rej })
      return { promise, resolve, reject }
    },
  })
}

/**
 * `ws`'s WebSocket, made safe as a browser-style global: `ws` emits 'error' as a Node
 * EventEmitter, which throws (and ends the process) when no listener is left, and libp2p removes
 * its listeners once a dial is given up. A refused dial whose error came after that crashed a
 * peer in the test suite (ECONNREFUSED from an unhandled 'error' event). The listener added here
 * only keeps the emitter from throwing; libp2p's own listeners still see every error.
 */
class ListenedWebSocket extends WebSocket {
  constructor(...args: ConstructorParameters<typeof WebSocket>) {
    super(...args)
    this.on('error', () => {})
  }
}

// @libp2p/websockets dials through the global WebSocket, which Node 20 does not have (listening
// works without it).
if (typeof (globalThis as { WebSocket?: unknown }).WebSocket !== 'function') {
  Object.defineProperty(globalThis, 'WebSocket', { configurable: true, writable: true, value: ListenedWebSocket })
}

export {}
