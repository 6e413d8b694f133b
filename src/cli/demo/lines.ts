// A peer in a child process, driven by JSON lines over stdio: the demo's peers (peer.ts, driven by
// peers.ts) and the tests' peer fixture speak the same protocol through this module.
//
// The child prints one JSON object a line: first { ready: true, … }, then an answer to each
// command, { id, ok: true, … } or { id, ok: false, code, message }, and events { event, … } at any
// time. The parent writes commands, one a line: { id, cmd, … }. The child exits when its stdin
// ends: its parent is gone, and nothing else would stop it.
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'

/** A line: JSON, checked by its reader. */
export type Message = Record<string, any>
/** A command handler: its result (an object) is spread into the answer; any other value is its `value`. */
export type Handler = (command: Message) => unknown

/** Kept of a child's stderr, to explain its failure. */
const STDERR_KEPT = 4000

// The child's side ------------------------------------------------------------------------------

/** Prints one JSON line on stdout. */
export function say(line: unknown): void {
  process.stdout.write(JSON.stringify(line) + '\n')
}

/**
 * Runs each command line from stdin through `commands` and prints its answer; commands run
 * concurrently (a long one must not hold up polls meant to watch it). Calls `end` when stdin ends.
 */
export function serve(commands: Record<string, Handler>, end: () => unknown): void {
  const lines = createInterface({ input: process.stdin })
  lines.on('close', () => { void end() })
  lines.on('line', (line) => {
    let c: Message
    try { c = JSON.parse(line) } catch { return }
    const run = commands[c.cmd]
    Promise.resolve().then(() => {
      if (!run) throw new TypeError(`unknown command ${String(c.cmd)}`)
      return run(c)
    }).then(
      (r) => say({ id: c.id, ok: true, ...(r !== null && typeof r === 'object' && !Array.isArray(r) ? r : r === undefined ? {} : { value: r }) }),
      (e: unknown) => say({ id: c.id, ok: false, code: (e as { code?: string })?.code, message: String((e as Error)?.message ?? e) }),
    )
  })
}

// The parent's side -----------------------------------------------------------------------------

export interface ChildOptions {
  /** Names the child in errors. */
  name: string
  /** The error every failure becomes: a failed answer (with its code), an early exit. */
  error: (message: string, code?: string) => Error
  /** Its own process group (Ctrl-C then reaches the parent only, which closes the child). */
  detached?: boolean
}

/** A child process that speaks JSON lines. Its waits are unbounded: its owner bounds them. */
export class LineChild {
  /** The ready line. */
  ready: Message = {}
  /** Every event it printed, in order. */
  readonly events: Message[] = []
  /** The tail of its stderr. */
  stderr = ''
  exited = false
  /** Resolves once the process has exited. */
  readonly gone: Promise<void>
  private next = 1
  private readonly answers = new Map<number, { resolve: (a: Message) => void; reject: (e: Error) => void }>()
  private readonly checks = new Set<() => void>()
  private readonly child: ChildProcess

  constructor(script: string, config: unknown, private readonly options: ChildOptions) {
    this.child = spawn(process.execPath, [script, JSON.stringify(config)], { stdio: ['pipe', 'pipe', 'pipe'], detached: options.detached })
    // A child that died makes writes to its stdin fail: its exit is what reports that.
    this.child.stdin!.on('error', () => {})
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => { this.stderr = (this.stderr + d).slice(-STDERR_KEPT) })
    this.gone = new Promise((resolve) => this.child.once('exit', (code, signal) => {
      this.exited = true
      const lost = this.error(`exited (${code ?? signal})${this.tail()}`)
      for (const a of this.answers.values()) a.reject(lost)
      this.answers.clear()
      this.changed()
      resolve()
    }))
    createInterface({ input: this.child.stdout! }).on('line', (text) => {
      let line: Message
      try { line = JSON.parse(text) } catch { return }
      if (line.ready) this.ready = line
      else if (typeof line.event === 'string') this.events.push(line)
      else {
        const a = this.answers.get(line.id)
        this.answers.delete(line.id)
        if (line.ok) a?.resolve(line)
        else a?.reject(this.error(`${line.code ? `${line.code}: ` : ''}${line.message}`, line.code))
      }
      this.changed()
    })
  }

  /** Sends a command; resolves with its answer, rejects if it failed or the process exits. */
  request(cmd: string, args: object = {}): Promise<Message> {
    if (this.exited) return Promise.reject(this.error(`has exited: cannot ${cmd}`))
    const id = this.next++
    const answer = new Promise<Message>((resolve, reject) => this.answers.set(id, { resolve, reject }))
    this.child.stdin!.write(JSON.stringify({ id, cmd, ...args }) + '\n')
    return answer
  }

  /** Resolves with what `check()` returns once that is not undefined (checked at every line); rejects if the process exits first. */
  when<T>(check: () => T | undefined, what: string): Promise<NonNullable<T>> {
    let test = () => {}
    return new Promise<NonNullable<T>>((resolve, reject) => {
      test = () => {
        const value = check()
        if (value !== undefined && value !== null && value !== false) { this.checks.delete(test); resolve(value as NonNullable<T>) }
        else if (this.exited) { this.checks.delete(test); reject(this.error(`exited before ${what}${this.tail()}`)) }
      }
      this.checks.add(test)
      test()
    })
  }

  /** Once it is ready (rejects if it exits first). */
  started(): Promise<Message> { return this.when(() => (this.ready.ready ? this.ready : undefined), 'it was ready') }

  /** The first event, already printed or to come, that matches. */
  event(match: (e: Message) => boolean, what = 'the event'): Promise<Message> { return this.when(() => this.events.find(match), what) }

  /** Kills the process at once (SIGKILL); resolves once it has exited. */
  kill(): Promise<void> {
    if (!this.exited) this.child.kill('SIGKILL')
    return this.gone
  }

  /** Runs every pending check of `when`. */
  private changed(): void { for (const c of [...this.checks]) c() }

  /** The last lines of its stderr, to explain a failure. */
  private tail(): string { return this.stderr ? `: ${this.stderr.trim().split('\n').slice(-5).join('\n')}` : '' }

  private error(message: string, code?: string): Error { return this.options.error(`${this.options.name}: ${message}`, code) }
}
