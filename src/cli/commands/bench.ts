// `bench`: runs the benchmarks (bench/index.ts, what `npm run bench` runs) in a child process,
// turns their phase lines on stderr into a progress bar, and prints their figures: the JSON as
// it is with --json, else the targets and the figures as text.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { Command } from '../command.js'
import { CliError, UsageError, interrupted } from '../errors.js'
import { progress } from '../progress.js'
import { JSON_OPTION } from '../store.js'

/**
 * The areas `--only` selects, as the bench entry's own flags, and the phases it announces on
 * stderr (`bench: <phase>`) for the bar's total. `all` runs everything (a few minutes).
 */
const AREAS: Record<string, { flags: string[]; phases: number }> = {
  all: { flags: [], phases: 8 },
  core: { flags: ['--core'], phases: 4 },
  store: { flags: ['--store-only'], phases: 0 },
  reconcile: { flags: ['--reconcile-only'], phases: 0 },
}

/**
 * The compiled bench entry: dist/bench/index.js of the checkout this command runs from (the
 * package does not ship it), or the file XAEROFLUX_BENCH names.
 */
function benchEntry(): string {
  const entry = process.env.XAEROFLUX_BENCH || fileURLToPath(new URL('../../../bench/index.js', import.meta.url))
  if (!existsSync(entry)) throw new CliError('E_NO_BENCH', `no benchmarks at ${entry} (they run from a built checkout: npm run build)`)
  return entry
}

/** Target rows ({ value, threshold, pass, basis }) anywhere in the bench's JSON, by path. */
function targets(value: unknown, path: string[] = []): Array<[string, { value: number; threshold: number; pass: boolean }]> {
  if (typeof value !== 'object' || value === null) return []
  const v = value as Record<string, unknown>
  if (typeof v.pass === 'boolean' && 'threshold' in v) return [[path.join('.'), v as never]]
  return Object.entries(v).flatMap(([k, child]) => targets(child, [...path, k]))
}

/** Every number in the figures, as `path  value` lines. */
function figures(value: unknown, path: string[] = []): string[] {
  if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') return [`${path.join('.')}  ${value}`]
  if (typeof value !== 'object' || value === null) return []
  return Object.entries(value).flatMap(([k, child]) => figures(child, [...path, k]))
}

export const bench: Command = {
  name: 'bench',
  summary: 'run the benchmarks (npm run bench) and print their figures',
  description: 'Runs from a built checkout only. Areas: all (the core, the store end to end, the\n' +
    'browser, reconciliation: many minutes), core (SHA-256, Merkle pages and root, event decoding),\n' +
    'store, reconcile. --json prints the benchmarks\' JSON as it is.',
  options: {
    only: { type: 'string', value: '<area>', description: `one area: ${Object.keys(AREAS).join(', ')}`, default: 'all' },
    quick: { type: 'boolean', description: 'shorter runs of the store and reconciliation benchmarks' },
    json: JSON_OPTION,
  },
  interruptible: true,
  examples: ['xaeroflux bench --only core', 'xaeroflux bench --quick --json > figures.json'],
  async run({ values, out, signal }) {
    const area = AREAS[values.only as string]
    if (!area) throw new UsageError(`--only must be one of ${Object.keys(AREAS).join(', ')}, not '${values.only}'`)
    const args = [benchEntry(), ...area.flags, ...(values.quick ? ['--quick'] : [])]
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], signal })
    const bar = progress('bench', area.phases || undefined)
    let phase = 0, stdout = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
    // `bench: <phase>` starts a phase; `bench <area>: …` is news within one; anything else is
    // the benchmark's own output (a warning, a failure) and passes through.
    createInterface({ input: child.stderr }).on('line', (line) => {
      const news = /^bench( \w+)?: (.*)$/.exec(line)
      if (!news) { bar.clear(); process.stderr.write(line + '\n'); return }
      if (!news[1]) phase++
      bar.update(Math.max(0, phase - 1), `bench: ${news[2]}`)
    })
    const exit = await new Promise<number | null>((resolve) => {
      child.once('error', () => {})  // an abort (SIGINT) kills the child; its exit is handled below
      child.once('close', (code) => resolve(code))
    })
    bar.end()
    if (signal.aborted) throw interrupted()
    if (exit !== 0) throw new CliError('E_BENCH_FAILED', `the benchmark process exited with ${exit}`)
    let result: unknown
    try {
      result = JSON.parse(stdout)
    } catch {
      throw new CliError('E_BENCH_FAILED', 'the benchmark printed no JSON')
    }
    if (out.json) return out.value(result)
    const rows = targets((result as { targets?: unknown }).targets ?? {})
    if (rows.length) await out.line('targets:')
    for (const [name, t] of rows) await out.line(`  ${t.pass ? 'pass' : 'FAIL'}  ${name}: ${t.value} (threshold ${t.threshold})`)
    await out.line('figures:')
    for (const line of figures((result as { results?: unknown }).results ?? result)) await out.line(`  ${line}`)
  },
}
