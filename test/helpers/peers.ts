// Peers in processes of their own (test/fixtures/peer.ts), driven by JSON lines: every test that
// uses them kills them all at the end, and every wait is bounded.
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const PEER = fileURLToPath(new URL('../fixtures/peer.js', import.meta.url))

export interface PeerConfig { path?: string; groups: Array<{ group: string; secret?: string }>; bootstrap?: string[]; shared?: boolean; seed?: string; limits?: object; budget?: object }
export interface Answer { id: number; ok: boolean; code?: string; message?: string; [k: string]: unknown }

export class Peer {
  addrs: string[] = []
  peerId = ''
  readonly events: Array<{ event: string; group: string; detail: unknown }> = []
  private next = 1
  private readonly waiting = new Map<number, (a: Answer) => void>()
  private readonly exited: Promise<number | null>
  stderr = ''

  private constructor(readonly name: string, private readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)))
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { this.stderr += d })
  }

  static async start(name: string, config: PeerConfig, ms = 20_000): Promise<Peer> {
    const child = spawn(process.execPath, [PEER, JSON.stringify(config)], { stdio: ['pipe', 'pipe', 'pipe'] })
    const peer = new Peer(name, child)
    const ready = new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const msg = JSON.parse(line)
        if (msg.ready) { peer.addrs = msg.addrs; peer.peerId = msg.peerId; resolve() } else if (msg.event) peer.events.push(msg)
        else peer.waiting.get(msg.id)?.(msg)
      })
      void peer.exited.then((code) => reject(new Error(`${name} exited (${code}) before it was ready: ${peer.stderr}`)))
    })
    await bounded(ready, ms, `${name} to start`)
    return peer
  }

  /** Sends a command; resolves with its answer (rejects if it failed, or after `ms`). */
  async ask(cmd: Record<string, unknown>, ms = 30_000): Promise<Answer> {
    const id = this.next++
    const answer = new Promise<Answer>((resolve) => this.waiting.set(id, resolve))
    this.child.stdin!.write(JSON.stringify({ id, ...cmd }) + '\n')
    const a = await bounded(answer, ms, `${this.name}: ${JSON.stringify(cmd)}`)
    this.waiting.delete(id)
    if (!a.ok) throw Object.assign(new Error(`${this.name}: ${a.message}`), { code: a.code })
    return a
  }

  /** The first address, the TCP one, for others to bootstrap from. */
  get addr(): string { return this.addrs.find((a) => a.includes('/tcp/') && !a.includes('/ws')) ?? this.addrs[0] }

  async close(): Promise<void> {
    await this.ask({ cmd: 'close' }, 10_000).catch(() => {})
    this.kill()
    await bounded(this.exited, 5_000, `${this.name} to exit`).catch(() => {})
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL')
  }
}

export function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([p, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms`)), ms) })]).finally(() => clearTimeout(timer))
}

/** Polls `check` every 100 ms until it returns true; fails after `ms`. */
export async function until(check: () => Promise<boolean>, ms: number, what: string): Promise<number> {
  const start = Date.now()
  for (;;) {
    if (await check()) return Date.now() - start
    if (Date.now() - start > ms) throw new Error(`${what}: not after ${ms} ms`)
    await new Promise((r) => setTimeout(r, 100))
  }
}
