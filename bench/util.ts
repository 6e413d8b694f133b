// Time-boxed measurement: a short warm-up (so V8 and the WASM tiers settle), then three rounds
// of at least `roundMs` each; the best round is reported. Other work on the machine can only
// slow a round down, never speed it up, so the best round is the least disturbed one.
import { spawn } from 'node:child_process'
import { randomFillSync } from 'node:crypto'
import { fileURLToPath } from 'node:url'

export interface MeasureOptions {
  warmupMs?: number
  roundMs?: number
  rounds?: number
}

/** Keeps results alive so that no engine can drop the work as dead code. */
export let sink: unknown

/** Runs `fn` (doing `opsPerCall` operations per call) in timed rounds; returns the best round's ops/s. */
export function measure(fn: () => unknown, opsPerCall: number, options: MeasureOptions = {}): number {
  const { warmupMs = 150, roundMs = 600, rounds = 3 } = options
  runFor(fn, warmupMs)
  let best = 0
  for (let r = 0; r < rounds; r++) {
    const { calls, ms } = runFor(fn, roundMs)
    best = Math.max(best, (calls * opsPerCall) / (ms / 1000))
  }
  return best
}

/** Calls `fn` until `ms` have passed (at least once); the clock is read between calls only. */
function runFor(fn: () => unknown, ms: number): { calls: number; ms: number } {
  const start = performance.now()
  let calls = 0, now = start
  do {
    sink = fn()
    calls++
    now = performance.now()
  } while (now - start < ms)
  return { calls, ms: now - start }
}

export function randomBytes(n: number): Uint8Array {
  return randomFillSync(new Uint8Array(n))
}

/** `n` views of `size` bytes into one random buffer: callers iterate them without allocating. */
export function randomMessages(n: number, size: number): { flat: Uint8Array; list: Uint8Array[] } {
  const flat = randomBytes(n * size)
  return { flat, list: Array.from({ length: n }, (_, i) => flat.subarray(i * size, (i + 1) * size)) }
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

/** Fails the run loudly: a benchmark of a kernel that computes the wrong thing is worthless. */
export function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`benchmark self-check failed: ${what}`)
}

/** Rates as integers, ratios and times with three significant digits: enough for a table. */
export function round(x: number): number {
  return Math.abs(x) >= 1000 ? Math.round(x) : Number(x.toPrecision(3))
}

/** A target met when `value` ≥ `threshold`, or < `threshold` when `below`. */
export function target(value: number, threshold: number, basis: string, below = false) {
  return { value: round(value), threshold, pass: below ? value < threshold : value >= threshold, basis }
}

/** Runs `node bench/index.js ...args` and parses the one JSON value it prints. */
export function inChild<T>(...args: string[]): Promise<T> {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./index.js', import.meta.url)), ...args],
    { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { out += chunk })
  return new Promise((resolve, reject) => child.once('error', reject).once('close', (code) =>
    code === 0 ? resolve(JSON.parse(out) as T) : reject(new Error(`${args[0]} exited with ${code}`))))
}

export function median(xs: readonly number[]): number {
  const s = xs.slice().sort((a, b) => a - b)
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
