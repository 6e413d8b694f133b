// Drives test/fixtures/peer.ts processes (one per peer, in the role a test needs) over the demo's
// JSON lines (src/cli/demo/lines.ts): starts them, sends commands, waits for answers and events,
// and kills them. Every wait is bounded; `killAll` (each suite's `after`) kills every one still
// alive, and so does this process's exit.
import { fileURLToPath } from 'node:url'
import { LineChild, type Message } from '../../src/cli/demo/lines.js'
import { within } from './watchdog.js'

const FIXTURE = fileURLToPath(new URL('../fixtures/peer.js', import.meta.url))

/** What the fixture holds: see its header. */
export type Role = 'store' | 'session' | 'dht'
export type PeerEvent = Message
export interface StartOptions { role?: Role; name?: string; ms?: number }

const alive = new Set<PeerProcess>()

export class PeerProcess {
  readonly name: string
  peerId = ''
  addrs: string[] = []
  /** Date.now() when its node listened. */
  readyAt = 0
  private readonly child: LineChild

  /** Spawns a fixture; `role` defaults to 'session'. Await `ready()` before anything else. */
  constructor(config: object, options: Omit<StartOptions, 'ms'> = {}) {
    const role = options.role ?? 'session'
    this.name = options.name ?? role
    this.child = new LineChild(FIXTURE, { role, ...config }, { name: this.name, error: (message, code) => Object.assign(new Error(message), { code }) })
    alive.add(this)
    void this.child.gone.then(() => alive.delete(this))
  }

  /** Spawns a fixture and waits until it is ready. */
  static start(config: object, options: StartOptions = {}): Promise<PeerProcess> {
    return new PeerProcess(config, options).ready(options.ms)
  }

  /** Waits for the process's ready line. */
  async ready(ms = 20_000): Promise<this> {
    const r = await within(this.child.started(), `${this.name} to start`, ms)
    this.peerId = r.peerId
    this.addrs = r.addrs
    this.readyAt = r.t
    return this
  }

  /** Every event it printed, in order. */
  get events(): PeerEvent[] { return this.child.events }
  get exited(): boolean { return this.child.exited }
  get stderr(): string { return this.child.stderr }

  /** Sends a command; resolves with its answer, rejects (with the answer's `code`) if it failed, or after `ms`. */
  call(cmd: string, args: object = {}, ms = 30_000): Promise<Message> {
    return within(this.child.request(cmd, args), `${this.name}: ${cmd} ${JSON.stringify(args)}`, ms)
  }

  /** A command's `value` (the 'dht' role's answers). */
  async value<T = unknown>(cmd: string, args: object = {}, ms = 20_000): Promise<T> {
    return (await this.call(cmd, args, ms)).value as T
  }

  /** The first event (already printed or to come) that matches, or a rejection after `ms`. */
  waitFor(match: (e: PeerEvent) => boolean, ms: number, what: string): Promise<PeerEvent> {
    return within(this.child.event(match, what), `${this.name}: ${what}`, ms)
  }

  /** Resolves when `check()` holds (re-checked at every line and at the exit); fails after `ms` or if the process exits first. */
  async until(check: () => boolean, what: string, ms: number): Promise<void> {
    await within(this.child.when(() => check() || undefined, what), `${this.name}: ${what}`, ms)
  }

  /** Its TCP address (with /p2p/<id>), for another peer's bootstrap. */
  get addr(): string {
    const a = this.addrs.find((x) => /\/tcp\/\d+\/p2p\//.test(x) && !x.includes('/ws'))
    if (!a) throw new Error(`${this.name}: no TCP address in ${this.addrs.join(' ')}`)
    return a
  }

  /** 'dht' role: peer id → Date.now() of its first onPeer in `group`. */
  found(group: string): Map<string, number> {
    const first = new Map<string, number>()
    for (const e of this.events) if (e.event === 'peer' && e.group === group && !first.has(e.id)) first.set(e.id, e.t)
    return first
  }

  /** 'dht' role: the ids onPeer reported in `group`. */
  peersOf(group: string): string[] { return [...this.found(group).keys()] }

  /** Asks it to stop and exit; kills it if it has not after 10 s. */
  async close(): Promise<void> {
    await this.call('exit', {}, 10_000).catch(() => {})
    await this.kill()
  }

  /** Kills the process (SIGKILL), even if it hangs; resolves once it has exited. */
  kill(): Promise<void> { return within(this.child.kill(), `${this.name} to exit`, 5_000).catch(() => {}) }
}

/** Kills every fixture process still alive and waits for their exits (bounded). */
export async function killAll(): Promise<void> {
  await Promise.all([...alive].map((p) => p.kill()))
}

/** Kills the fixtures even if the test runner dies. */
process.once('exit', () => { for (const p of alive) void p.kill() })

/** Polls `check` every 100 ms until it returns true; fails after `ms`. */
export async function until(check: () => Promise<boolean>, ms: number, what: string): Promise<number> {
  const start = Date.now()
  for (;;) {
    if (await check()) return Date.now() - start
    if (Date.now() - start > ms) throw new Error(`${what}: not after ${ms} ms`)
    await new Promise((r) => setTimeout(r, 100))
  }
}
