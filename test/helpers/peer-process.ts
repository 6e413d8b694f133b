// Drives a test/fixtures/sync-peer.ts process: JSON-line commands, answers and events.
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'

const FIXTURE = new URL('../fixtures/sync-peer.js', import.meta.url).pathname

export interface PeerEvent { event: string; [k: string]: any }

export class PeerProcess {
  readonly events: PeerEvent[] = []
  readonly child: ChildProcess
  peer = ''
  addrs: string[] = []
  private nextId = 1
  private pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>()
  private watchers: Array<{ match: (e: PeerEvent) => boolean; resolve: (e: PeerEvent) => void }> = []
  private exited = false
  stderr = ''

  constructor(config: object) {
    this.child = spawn(process.execPath, [FIXTURE, JSON.stringify(config)], { stdio: ['pipe', 'pipe', 'pipe'] })
    this.child.stderr!.on('data', (d) => { this.stderr += d; if (this.stderr.length > 20_000) this.stderr = this.stderr.slice(-10_000) })
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      let msg: any
      try { msg = JSON.parse(line) } catch { return }
      if (msg.id !== undefined) {
        const p = this.pending.get(msg.id)
        this.pending.delete(msg.id)
        if (msg.ok) p?.resolve(msg)
        else p?.reject(Object.assign(new Error(`${msg.error}`), { code: msg.code }))
        return
      }
      this.events.push(msg)
      this.watchers = this.watchers.filter((w) => { if (w.match(msg)) { w.resolve(msg); return false } return true })
    })
    this.child.on('exit', (code, signal) => {
      this.exited = true
      for (const p of this.pending.values()) p.reject(new Error(`the peer process exited (${code ?? signal}): ${this.stderr.slice(-2000)}`))
      this.pending.clear()
    })
  }

  /** Waits for the process's 'ready'. */
  async ready(ms = 20_000): Promise<this> {
    const r = await this.waitFor((e) => e.event === 'ready', ms, 'ready')
    this.peer = r.peer
    this.addrs = r.addrs
    return this
  }

  /** Sends a command; rejects on an error answer, or after `ms`. */
  call(cmd: string, args: object = {}, ms = 30_000): Promise<any> {
    if (this.exited) return Promise.reject(new Error(`the peer process has exited: ${this.stderr.slice(-2000)}`))
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => { this.pending.delete(id); reject(new Error(`${cmd}: no answer after ${ms} ms`)) }, ms)
      this.pending.set(id, { resolve: (v) => { clearTimeout(t); resolve(v) }, reject: (e) => { clearTimeout(t); reject(e) } })
      this.child.stdin!.write(JSON.stringify({ id, cmd, ...args }) + '\n')
    })
  }

  /** The first event (already seen or to come) that matches, or a rejection after `ms`. */
  waitFor(match: (e: PeerEvent) => boolean, ms: number, what: string): Promise<PeerEvent> {
    const seen = this.events.find(match)
    if (seen) return Promise.resolve(seen)
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no ${what} event after ${ms} ms`)), ms)
      this.watchers.push({ match, resolve: (e) => { clearTimeout(t); resolve(e) } })
    })
  }

  /** Kills the process (always, even if it hangs). */
  async kill(): Promise<void> {
    if (this.exited) return
    const gone = new Promise((r) => this.child.once('exit', r))
    this.child.kill('SIGKILL')
    await gone
  }
}
