// `npm test`'s runner: the compiled test files (dist/test/*.test.js), each in a uvu process of its
// own, two at a time, then one summary that names what failed and the slowest files.
//
// Why two at once: most of the suite's time is spent waiting (child processes, peers on loopback,
// fsyncs, Chromium). Why a queue of files, longest first, rather than two fixed shards: the fixed
// shards, balanced on stale figures, ended 135 s apart (413 and 548 s, 2026-12-07); a queue ends
// its two runners at most one file apart.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const DIR = fileURLToPath(new URL('.', import.meta.url))
const UVU = fileURLToPath(new URL('../../node_modules/uvu/bin.js', import.meta.url))
const RUNNERS = 2

/** Seconds each file took in a run of the suite here (2026-12-07; the summary lists the slowest), to start the longest first; a file not listed counts 5 s. */
const SECONDS: Record<string, number> = {
  'reconcile.test.js': 71, 'net-sync.test.js': 70, 'reconcile-hostile.test.js': 59, 'net-dht.test.js': 56, 'cli.test.js': 53, 'browser.test.js': 52,
  'net.test.js': 47, 'store.test.js': 46, 'net-hostile.test.js': 35, 'ed25519.test.js': 32, 'crash.test.js': 29, 'cli-net.test.js': 28,
  'browser-net.test.js': 25, 'demo.test.js': 19, 'pack.test.js': 18, 'browser-bundle.test.js': 17, 'net-relay.test.js': 16, 'ed25519-browser.test.js': 15,
  'example-app.test.js': 15, 'lifecycle.test.js': 13, 'docs.test.js': 12, 'browser-vite.test.js': 10, 'readme.test.js': 10, 'pool.test.js': 8, 'pacer.test.js': 8,
}

// The browser tests drive Debian's Chromium: installed here when missing and possible (as root,
// or with sudo that asks no password); otherwise the run stops with one line saying what to run.
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium'
if (!existsSync(CHROMIUM)) {
  const sudo = process.getuid?.() === 0 ? [] : ['sudo', '-n']
  const apt = (...args: string[]) => {
    const [command, ...rest] = [...sudo, 'apt-get', ...args]
    return spawnSync(command, rest, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }).status === 0
  }
  console.log(`npm test: installing Debian's chromium for the browser tests (${CHROMIUM} is missing) …`)
  if (!(apt('update', '-qq') && apt('install', '-y', '-qq', 'chromium')) || !existsSync(CHROMIUM)) {
    console.log(`npm test: the browser tests need Chromium at ${CHROMIUM}: run 'sudo apt-get install chromium' (or set CHROMIUM=/path/to/chrome), then npm test again`)
    process.exit(1)
  }
}

const files = readdirSync(DIR).filter((f) => f.endsWith('.test.js')).sort((a, b) => (SECONDS[b] ?? 5) - (SECONDS[a] ?? 5))

interface Outcome { file: string; output: string; code: number; seconds: number }

/**
 * uvu lets its process end by itself once the tests are done: a handle a failed test left open
 * (seen once: a shard idle for 15 minutes after its summary) would keep it, and the run, forever.
 * A file's process still running EXIT_GRACE_MS after printing its summary is stopped, and that is a failure.
 */
const EXIT_GRACE_MS = 30_000

function runFile(file: string): Promise<Outcome> {
  const started = Date.now()
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [UVU, DIR, `^${file.replace(/[.]/g, '\\.')}$`], { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = '', stuck: ReturnType<typeof setTimeout> | undefined
    const read = (d: string) => {
      output += d
      if (!stuck && /^\s*Duration:/m.test(output.replace(/\x1b\[[0-9;]*m/g, ''))) {
        stuck = setTimeout(() => { output += `\n  FAIL  ${file} did not exit within ${EXIT_GRACE_MS / 1000} s of its summary: a test left a handle open\n`; child.kill('SIGKILL') }, EXIT_GRACE_MS)
      }
    }
    child.stdout.setEncoding('utf8').on('data', read)
    child.stderr.setEncoding('utf8').on('data', read)
    child.on('close', (code) => { clearTimeout(stuck); resolve({ file, output, code: code ?? 1, seconds: (Date.now() - started) / 1000 }) })
  })
}

const started = Date.now()
const queue = [...files], outcomes: Outcome[] = []
await Promise.all(Array.from({ length: RUNNERS }, async () => {
  for (let file; (file = queue.shift());) outcomes.push(await runFile(file))
}))
outcomes.sort((a, b) => files.indexOf(a.file) - files.indexOf(b.file))
let total = 0, passed = 0, skipped = 0
const failures: string[] = []
for (let { file, output, code, seconds } of outcomes) {
  console.log(`\n===== ${file} (${seconds.toFixed(1)} s)\n`)
  console.log(output.trimEnd())
  output = output.replace(/\x1b\[[0-9;]*m/g, '') // uvu's colours, before reading its summary
  const count = (label: string) => Number(output.match(new RegExp(`^\\s*${label}:\\s+(\\d+)`, 'm'))?.[1] ?? 0)
  total += count('Total')
  passed += count('Passed')
  skipped += count('Skipped')
  // A failure's name and the first line of its message: CI shows only the end of its log, and
  // this summary (repeated by .ci/run after both Node versions) is what it keeps.
  const before = failures.length
  for (const m of output.matchAll(/^\s*FAIL\s+(.*)\n(.*)$/gm)) failures.push(`${file}: ${m[1].trim()}: ${m[2].trim().slice(0, 300)}`)
  if (code !== 0 && !/^\s*Total:/m.test(output)) failures.push(`${file} ended with exit code ${code} before its summary`)
  else if (code !== 0 && failures.length === before) failures.push(`${file} ended with exit code ${code}`)
}
console.log(`\n===== slowest: ${[...outcomes].sort((a, b) => b.seconds - a.seconds).slice(0, 10).map((o) => `${o.file} ${Math.round(o.seconds)} s`).join(', ')}`)
console.log(`\n===== ${failures.length === 0 ? 'all passed' : 'failed:'}`)
for (const f of failures) console.log(`  FAILED  ${f}`)
console.log(`\n  Total:     ${total}\n  Passed:    ${passed}\n  Skipped:   ${skipped}\n  Duration:  ${Math.round((Date.now() - started) / 1000)} s`)
process.exit(failures.length === 0 && passed + skipped === total ? 0 : 1)
