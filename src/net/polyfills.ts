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

// @libp2p/websockets dials through the global WebSocket, which Node 20 does not have (listening
// works without it).
if (typeof (globalThis as { WebSocket?: unknown }).WebSocket !== 'function') {
  Object.defineProperty(globalThis, 'WebSocket', { configurable: true, writable: true, value: WebSocket })
}

export {}
