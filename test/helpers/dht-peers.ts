// Drives test/fixtures/dht-peer.ts processes: spawns them, reads their JSON lines, sends
// commands, and kills every one still alive at the end (killAll in each suite's `after`).
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { within } from './watchdog.js'

const FIXTURE = fileURLToPath(new URL('../fixtures/dht-peer.js', import.meta.url))

export interface GroupSpec { name: string; secret?: string; deny?: string[]; maxPeers?: number }
export interface PeerConfig { bootstrap?: string[]; listen?: string[]; seed?: string; groups: GroupSpec[] }
interface Line { type: string; [k: string]: any }

const alive = new Set<DhtPeer>()

export class DhtPeer {
  readonly child: ChildProcess
  id = ''
  addrs: string[] = []
  readyAt = 0
  /** group → peer id → Date.now() of its first onPeer. */
  readonly found = new Map<string, Map<string, number>>()
  readonly lines: Line[] = []
  private seq = 0
  private readonly waiters = new Set<() => void>()
  private readonly replies = new Map<number, (line: Line) => void>()
  private stderr = ''
  exited = false

  private constructor(config: PeerConfig) {
    this.child = spawn(process.execPath, [FIXTURE, JSON.stringify(config)], { stdio: ['pipe', 'pipe', 'pipe'] })
    alive.add(this)
    this.child.stderr!.on('data', (d) => { this.stderr = (this.stderr + d).slice(-4000) })
    this.child.on('exit', () => { this.exited = true; alive.delete(this); this.wake() })
    createInterface({ input: this.child.stdout! }).on('line', (text) => {
      let line: Line
      try { line = JSON.parse(text) } catch { return }
      this.lines.push(line)
      if (line.type === 'ready') { this.id = line.id; this.addrs = line.addrs; this.readyAt = line.t }
      if (line.type === 'peer') {
        const m = this.found.get(line.group) ?? new Map<string, number>()
        if (!m.has(line.id)) m.set(line.id, line.t)
        this.found.set(line.group, m)
      }
      if (line.type === 'reply') this.replies.get(line.seq)?.(line)
      this.wake()
    })
  }

  /** Starts a peer and waits until it has joined all its groups. */
  static async start(config: PeerConfig, ms = 15_000): Promise<DhtPeer> {
    const peer = new DhtPeer(config)
    await peer.until(() => peer.lines.filter((l) => l.type === 'joined').length === config.groups.length, `peer joined ${config.groups.length} groups`, ms)
    return peer
  }

  /** Its TCP address with /p2p/<id>, for another peer's bootstrap. */
  get tcpAddr(): string {
    const a = this.addrs.find((x) => /\/tcp\/\d+\/p2p\//.test(x) && !x.includes('/ws'))
    if (!a) throw new Error(`no TCP address in ${this.addrs.join(' ')}`)
    return a
  }

  private wake() { for (const w of [...this.waiters]) w() }

  /** Resolves when `check()` holds (re-checked at every line), fails after `ms` or if the process exits first. */
  until(check: () => boolean, what: string, ms: number): Promise<void> {
    let test = () => {}
    return within(new Promise<void>((resolve, reject) => {
      test = () => {
        if (check()) { this.waiters.delete(test); resolve() } else if (this.exited) { this.waiters.delete(test); reject(new Error(`peer exited before: ${what}\n${this.stderr}`)) }
      }
      this.waiters.add(test)
      test()
    }), what, ms).finally(() => this.waiters.delete(test))
  }

  async cmd<T = unknown>(cmd: Record<string, unknown>, ms = 20_000): Promise<T> {
    const seq = ++this.seq
    const reply = new Promise<Line>((resolve) => this.replies.set(seq, resolve))
    this.child.stdin!.write(JSON.stringify({ ...cmd, seq }) + '\n')
    const line = await within(reply, `reply to ${JSON.stringify(cmd)}`, ms).finally(() => this.replies.delete(seq))
    if (!line.ok) throw Object.assign(new Error(line.error.message), { code: line.error.code })
    return line.value as T
  }

  peersOf(group: string): string[] { return [...(this.found.get(group)?.keys() ?? [])] }

  kill(): void { if (!this.exited) this.child.kill('SIGKILL') }
}

/** Kills every fixture process still alive and waits for their exits (bounded). */
export async function killAll(): Promise<void> {
  const all = [...alive]
  for (const p of all) p.kill()
  await within(Promise.all(all.map((p) => (p.exited ? undefined : new Promise((r) => p.child.once('exit', r))))), 'fixture processes exit', 5_000)
}

/** Kills the fixtures even if the test runner dies. */
process.once('exit', () => { for (const p of alive) p.kill() })
