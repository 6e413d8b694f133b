// Bytes on the wire of one libp2p node, for the demo's table: libp2p hands every new connection
// to its metrics hook before upgrading it, and a TCP connection keeps its net.Socket, whose
// bytesRead and bytesWritten count what the kernel took and gave (Noise, Yamux, identify, the
// DHT and the sync protocol alike). Every other metric libp2p registers is a no-op.
import type { Metrics, MultiaddrConnection } from '@libp2p/interface'

interface Counted { bytesRead: number; bytesWritten: number }

const noop = { update() {}, increment() {}, decrement() {}, reset() {}, observe() {}, timer: () => () => {} }
// A metric registered with `calculate` is polled by the registry, and there is none: nothing to return.
const register = (_name: string, options?: object) => (options && 'calculate' in options ? undefined : noop)

export class WireCounter {
  private readonly sockets = new Set<Counted>()
  /** Connections that had no socket to count (a transport other than TCP). */
  uncounted = 0

  /** The hook for createNode's `metrics`. */
  metrics(): Metrics {
    return {
      trackMultiaddrConnection: (maConn: MultiaddrConnection) => {
        const socket = (maConn as unknown as { socket?: Counted }).socket
        if (socket && typeof socket.bytesRead === 'number') this.sockets.add(socket)
        else this.uncounted++
      },
      trackProtocolStream: () => {},
      registerMetric: register,
      registerMetricGroup: register,
      registerCounter: register,
      registerCounterGroup: register,
      registerHistogram: register,
      registerHistogramGroup: register,
      registerSummary: register,
      registerSummaryGroup: register,
      traceFunction: (_name: string, fn: unknown) => fn,
      createTrace: () => undefined,
    } as unknown as Metrics
  }

  /** Bytes sent and received over every connection so far, closed ones included. */
  totals(): { sent: number; received: number; connections: number; uncounted: number } {
    let sent = 0, received = 0
    for (const s of this.sockets) { sent += s.bytesWritten; received += s.bytesRead }
    return { sent, received, connections: this.sockets.size, uncounted: this.uncounted }
  }
}
