// The demo's side of its peer processes (peer.ts, over lines.ts): starts one, sends it commands
// and waits for the answers, watches its events, and kills it. Every wait is bounded, and also
// ends when the demo is interrupted; a peer that fails, exits or is late is E_DEMO_FAILED.
import { fileURLToPath } from 'node:url'
import { CliError, interrupted } from '../errors.js'
import { LineChild, type Message } from './lines.js'

const PEER = fileURLToPath(new URL('./peer.js', import.meta.url))

export interface PeerConfig { name: string; path: string; group: string; bootstrap: string[] }
export interface Answer { [k: string]: unknown }
export interface PeerEvent { event: string; [k: string]: unknown }

const failed = (message: string) => new CliError('E_DEMO_FAILED', message)

/** `promise`, or E_DEMO_FAILED naming `what` after `ms`, or E_INTERRUPTED when `signal` aborts. */
export function bounded<T>(promise: Promise<T>, ms: number, what: string, signal: AbortSignal): Promise<T> {
  let timer: NodeJS.Timeout | undefined, onAbort: (() => void) | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(failed(`${what}: not done after ${(ms / 1000).toFixed(0)} s`)), ms)
    onAbort = () => reject(interrupted())
    if (signal.aborted) onAbort()
    else signal.addEventListener('abort', onAbort, { once: true })
  })
  return Promise.race([promise, late]).finally(() => {
    clearTimeout(timer)
    signal.removeEventListener('abort', onAbort!)
  })
}

export class DemoPeer {
  peerId = ''
  addrs: string[] = []
  author = ''
  /** When it was ready, in epoch ms (its clock: see peer.ts). */
  readyAt = 0

  private constructor(readonly name: string, private readonly child: LineChild, private readonly signal: AbortSignal) {}

  /** Starts a peer process; resolves once it is on the network. */
  static async start(config: PeerConfig, signal: AbortSignal, ms = 20_000): Promise<DemoPeer> {
    // detached: its own process group, so that Ctrl-C reaches the demo only, which then closes
    // it; if the demo itself dies, the peer sees its stdin end and exits.
    const child = new LineChild(PEER, config, { name: config.name, error: (message) => failed(message), detached: true })
    const peer = new DemoPeer(config.name, child, signal)
    try {
      const ready = await bounded(child.started(), ms, `${config.name} to start`, signal)
      peer.peerId = ready.peerId; peer.addrs = ready.addrs; peer.author = ready.author; peer.readyAt = ready.at
    } catch (e) {
      await child.kill()
      throw e
    }
    return peer
  }

  /** Sends a command; resolves with its answer. */
  ask<T extends Answer>(cmd: string, args: Answer = {}, ms = 30_000): Promise<T> {
    return bounded(this.child.request(cmd, args), ms, `${this.name}: ${cmd}`, this.signal) as Promise<T>
  }

  /** The first event, already reported or to come, that matches. Bounded by the caller (`bounded`). */
  event(match: (e: PeerEvent) => boolean): Promise<PeerEvent> {
    return this.child.event(match as (e: Message) => boolean) as Promise<PeerEvent>
  }

  /** The TCP address ending in /p2p/<id>, for others to bootstrap from. */
  get addr(): string { return this.addrs[0] }

  /** Asks the peer to close its store and exit; kills it if it has not after `ms`. */
  async close(ms = 5_000): Promise<void> {
    if (this.child.exited) return
    this.child.request('close').catch(() => {})
    const timer = setTimeout(() => this.kill(), ms)
    await this.child.gone
    clearTimeout(timer)
  }

  /** Kills the process at once (SIGKILL); it never outlives the demo. */
  kill(): void {
    void this.child.kill()
  }

  /** Resolves once the process has exited. */
  gone(): Promise<void> {
    return this.child.gone
  }
}
