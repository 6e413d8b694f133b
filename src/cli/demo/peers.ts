// The demo's side of its peer processes (peer.ts): starts one, sends it commands and waits for
// the answers, watches its events, and kills it. Every wait is bounded, and also ends when the
// demo is interrupted; a peer that fails, exits or is late is E_DEMO_FAILED.
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { CliError, interrupted } from '../errors.js'

const PEER = fileURLToPath(new URL('./peer.js', import.meta.url))
/** Kept of a peer's stderr, to explain its failure. */
const STDERR_KEPT = 2000

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
  private next = 1
  private readonly waiting = new Map<number, { resolve: (a: Answer) => void; reject: (e: Error) => void }>()
  /** Every event the peer reported, in order (a few dozen in a demo). */
  readonly events: PeerEvent[] = []
  private readonly watchers = new Set<{ match: (e: PeerEvent) => boolean; resolve: (e: PeerEvent) => void }>()
  private readonly exited: Promise<void>
  private stderr = ''

  private constructor(readonly name: string, private readonly child: ChildProcess, private readonly signal: AbortSignal) {
    // A peer that died makes writes to its stdin fail: its exit is what reports that.
    child.stdin!.on('error', () => {})
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { this.stderr = (this.stderr + d).slice(-STDERR_KEPT) })
    this.exited = new Promise((resolve) => child.once('exit', (code, sig) => {
      const gone = failed(`${name} exited (${code ?? sig})${this.stderr ? `: ${this.stderr.trim().split('\n').at(-1)}` : ''}`)
      for (const w of this.waiting.values()) w.reject(gone)
      this.waiting.clear()
      resolve()
    }))
  }

  /** Starts a peer process; resolves once it is on the network. */
  static async start(config: PeerConfig, signal: AbortSignal, ms = 20_000): Promise<DemoPeer> {
    // detached: its own process group, so that Ctrl-C reaches the demo only, which then closes
    // it; if the demo itself dies, the peer sees its stdin end and exits.
    const child = spawn(process.execPath, [PEER, JSON.stringify(config)], { stdio: ['pipe', 'pipe', 'pipe'], detached: true })
    const peer = new DemoPeer(config.name, child, signal)
    const ready = new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        let msg: Record<string, unknown>
        try { msg = JSON.parse(line) } catch { return }
        if (msg.ready) {
          peer.peerId = msg.peerId as string; peer.addrs = msg.addrs as string[]; peer.author = msg.author as string; peer.readyAt = msg.at as number
          resolve()
        } else if (typeof msg.event === 'string') {
          peer.events.push(msg as PeerEvent)
          for (const w of peer.watchers) if (w.match(msg as PeerEvent)) { peer.watchers.delete(w); w.resolve(msg as PeerEvent) }
        } else {
          const w = peer.waiting.get(msg.id as number)
          peer.waiting.delete(msg.id as number)
          if (msg.ok) w?.resolve(msg)
          else w?.reject(failed(`${config.name}: ${msg.code}: ${msg.message}`))
        }
      })
      void peer.exited.then(() => reject(failed(`${config.name} exited before it was ready${peer.stderr ? `: ${peer.stderr.trim().split('\n').at(-1)}` : ''}`)))
    })
    try {
      await bounded(ready, ms, `${config.name} to start`, signal)
    } catch (e) {
      peer.kill()
      await peer.exited
      throw e
    }
    return peer
  }

  /** Sends a command; resolves with its answer. */
  ask<T extends Answer>(cmd: string, args: Answer = {}, ms = 30_000): Promise<T> {
    const id = this.next++
    const answer = new Promise<Answer>((resolve, reject) => this.waiting.set(id, { resolve, reject }))
    this.child.stdin!.write(JSON.stringify({ id, cmd, ...args }) + '\n')
    return bounded(answer, ms, `${this.name}: ${cmd}`, this.signal) as Promise<T>
  }

  /** The first event, already reported or to come, that matches. Bounded by the caller (`bounded`). */
  event(match: (e: PeerEvent) => boolean): Promise<PeerEvent> {
    const seen = this.events.find(match)
    if (seen) return Promise.resolve(seen)
    return new Promise((resolve) => this.watchers.add({ match, resolve }))
  }

  /** The TCP address ending in /p2p/<id>, for others to bootstrap from. */
  get addr(): string { return this.addrs[0] }

  /** Asks the peer to close its store and exit; kills it if it has not after `ms`. */
  async close(ms = 5_000): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.stdin!.write(JSON.stringify({ id: this.next++, cmd: 'close' }) + '\n')
      const timer = setTimeout(() => this.kill(), ms)
      await this.exited
      clearTimeout(timer)
    }
  }

  /** Kills the process at once (SIGKILL); it never outlives the demo. */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL')
  }

  /** Resolves once the process has exited. */
  gone(): Promise<void> {
    return this.exited
  }
}
