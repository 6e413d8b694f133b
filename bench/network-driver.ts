// Drives the peers of the network benches (bench/network.ts, bench/browser-net.ts): each a
// bench/network-peer.ts process on 127.0.0.1, spoken to in JSON lines (see its header). Also the
// waits and summaries those benches share: bounded waits and polls, a full sync timed to its last
// event, latency percentiles, and the offset of another process's clock from this one's.
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { median, round } from './util.js'

const PEER = fileURLToPath(new URL('./network-peer.js', import.meta.url))
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const debug = (what: string) => process.stderr.write(`bench: ${what}\n`)

export type Answer = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

/** A bench/network-peer.ts process: `ask` sends a command and resolves with its answer; `event` waits for an event it printed. */
export class Peer {
  private next = 1
  private readonly waiting = new Map<number, { resolve: (a: Answer) => void; reject: (e: Error) => void }>()
  private readonly watchers: Array<{ match: (e: Answer) => boolean; resolve: (e: Answer) => void }> = []
  private readonly seen: Answer[] = []
  /** Sessions this peer lost, with their reasons (its 'peer:disconnect' events). */
  readonly disconnects: Answer[] = []
  private stderr = ''
  readonly exited: Promise<void>

  private constructor(readonly name: string, private readonly child: ChildProcess) {
    child.stdin!.on('error', () => {})
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      this.stderr = (this.stderr + d).slice(-4000)
      if (process.env.NETBENCH_DEBUG) process.stderr.write(d.replace(/^(?=.)/gm, `${name}: `))
    })
    this.exited = new Promise((resolve) => child.once('exit', (code) => {
      for (const w of this.waiting.values()) w.reject(new Error(`${name} exited (${code}): ${this.stderr.trim()}`))
      this.waiting.clear()
      resolve()
    }))
  }

  static async start(name: string): Promise<Peer> {
    const child = spawn(process.execPath, [PEER], { stdio: ['pipe', 'pipe', 'pipe'] })
    const peer = new Peer(name, child)
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const msg = JSON.parse(line) as Answer
        if (msg.ready) resolve()
        else if (typeof msg.event === 'string') {
          const i = peer.watchers.findIndex((w) => w.match(msg))
          if (msg.event === 'disconnect') {
            peer.disconnects.push(msg)
            if (process.env.NETBENCH_DEBUG) process.stderr.write(`${name}: ${line}\n`)
            return
          }
          if (i >= 0) peer.watchers.splice(i, 1)[0].resolve(msg)
          else peer.seen.push(msg)
        } else {
          const w = peer.waiting.get(msg.id)
          peer.waiting.delete(msg.id)
          if (msg.ok) w?.resolve(msg)
          else w?.reject(new Error(`${name}: ${msg.message}`))
        }
      })
      void peer.exited.then(() => reject(new Error(`${name} exited before it was ready: ${peer.stderr}`)))
    })
    return peer
  }

  ask(cmd: string, args: Answer = {}, ms = 600_000): Promise<Answer> {
    const id = this.next++
    const answer = new Promise<Answer>((resolve, reject) => this.waiting.set(id, { resolve, reject }))
    this.child.stdin!.write(JSON.stringify({ id, cmd, ...args }) + '\n')
    return within(answer, ms, `${this.name}: ${cmd}`)
  }

  event(match: (e: Answer) => boolean): Promise<Answer> {
    const i = this.seen.findIndex(match)
    if (i >= 0) return Promise.resolve(this.seen.splice(i, 1)[0])
    return new Promise((resolve) => this.watchers.push({ match, resolve }))
  }

  async close(): Promise<void> {
    if (this.child.exitCode === null) {
      this.child.stdin!.write(JSON.stringify({ id: this.next++, cmd: 'close' }) + '\n')
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000)
      await this.exited
      clearTimeout(timer)
    }
  }

  kill(): void { if (this.child.exitCode === null) this.child.kill('SIGKILL') }
}

/** `promise`, or a rejection naming `what` after `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: not done after ${ms / 1000} s`)), ms) })
  return Promise.race([promise, late]).finally(() => clearTimeout(timer))
}

/** Polls `check` every `every` ms until it holds; resolves with the epoch ms (performance clock) when it did. */
export async function until(check: () => Promise<boolean>, ms: number, what: string, every = 100): Promise<number> {
  const deadline = performance.now() + ms
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`network bench: ${what}: not after ${ms / 1000} s`)
    await sleep(every)
  }
  return performance.timeOrigin + performance.now()
}

/** Median, p99, min and max of latencies in ms. */
export function latency(ms: number[]) {
  const s = ms.slice().sort((a, b) => a - b)
  return { samples: s.length, medianMs: round(median(s)), p99Ms: round(s[Math.min(s.length - 1, Math.ceil(0.99 * s.length) - 1)]), minMs: round(s[0]), maxMs: round(s[s.length - 1]) }
}

/** Events per second. */
export const rate = (n: number, ms: number) => Math.round(n / (ms / 1000))

/** Long enough for a sync cut off by the peer to have come back (its ban is 30 s), were it going to. */
export const STALL_MS = 45_000

/**
 * Runs `syncWith` on `peer` and waits for `n` events from others to be indexed there; gives up
 * when its count has not moved for STALL_MS (a sync that was cut off): `completed` says which,
 * and `at` is then the time of the last progress.
 */
export async function syncAndWait(peer: Peer, addr: string, n: number) {
  const got = peer.ask('expect', { n })
  const sync = peer.ask('syncWith', { addr })
  let done: Answer | undefined
  void got.then((a) => { done = a }, () => {})
  let held = -1, movedAt = performance.timeOrigin + performance.now()
  while (!done) {
    await sleep(500)
    if (done) break
    const p = await peer.ask('progress')
    if (process.env.NETBENCH_DEBUG) debug(`${peer.name} holds ${p.count}, ${p.peers} peers`)
    if (p.count !== held) { held = p.count; movedAt = performance.timeOrigin + performance.now() }
    else if (performance.timeOrigin + performance.now() - movedAt > STALL_MS) break
  }
  const syncAnswer = await Promise.race([sync, sleep(5_000).then(() => undefined)]).catch((e: Error) => ({ error: e.message }))
  const state = await peer.ask('state')
  return { completed: done !== undefined, at: done ? done.at as number : movedAt, held: state.count as number, sync: syncAnswer as Answer | undefined }
}

/**
 * The offset of another clock from this process's `performance.timeOrigin + performance.now()`:
 * `read` returns the other side's reading of the same clock kind, and the sample with the shortest
 * round trip is taken, assuming the reading happened halfway (so the offset is right to within
 * ±`uncertaintyMs`, half that round trip). Subtract `offsetMs` from the other side's times.
 */
export async function clockOffset(read: () => Promise<number>, samples = 20): Promise<{ offsetMs: number; uncertaintyMs: number }> {
  let best = { offsetMs: 0, uncertaintyMs: Infinity }
  for (let i = 0; i < samples; i++) {
    const t0 = performance.timeOrigin + performance.now()
    const other = await read()
    const t1 = performance.timeOrigin + performance.now()
    if ((t1 - t0) / 2 < best.uncertaintyMs) best = { offsetMs: other - (t0 + t1) / 2, uncertaintyMs: (t1 - t0) / 2 }
  }
  return best
}
