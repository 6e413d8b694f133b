// `npm test`'s runner: the compiled test files (dist/test/*.test.js) split into two uvu processes
// that run side by side, then one summary that names what failed.
//
// Why two: most of the suite's time is spent waiting (child processes, peers on loopback,
// fsyncs, Chromium), and one uvu process runs its files one after another. Two shards took the
// suite from ~6.5 to ~4 minutes on the 2-core machine (measured: see the commit that added this).
// Each file still runs alone in its shard, in a process of its own kind as before.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const DIR = fileURLToPath(new URL('.', import.meta.url))
const UVU = fileURLToPath(new URL('../../node_modules/uvu/bin.js', import.meta.url))
const SHARDS = 2

/** Seconds each file took alone here, to balance the shards (a file not listed counts 5 s). */
const SECONDS: Record<string, number> = {
  'crash.test.js': 60, 'reconcile-hostile.test.js': 55, 'net.test.js': 47, 'ed25519.test.js': 35, 'store.test.js': 36,
  'net-sync.test.js': 35, 'net-hostile.test.js': 40, 'browser-net.test.js': 30, 'example-app.test.js': 10, 'net-dht.test.js': 22, 'cli.test.js': 20, 'reconcile.test.js': 50, 'browser.test.js': 27,
  'examples.test.js': 10, 'docs.test.js': 14, 'browser-bundle.test.js': 10, 'pack.test.js': 20, 'lifecycle.test.js': 12, 'readme.test.js': 8, 'ed25519-browser.test.js': 8, 'faults.test.js': 6,
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
const shards: string[][] = Array.from({ length: SHARDS }, () => [])
const load = new Array<number>(SHARDS).fill(0)
for (const f of files) {
  const i = load.indexOf(Math.min(...load))
  shards[i].push(f)
  load[i] += SECONDS[f] ?? 5
}

interface Outcome { output: string; code: number }


/**
 * uvu lets its process end by itself once the tests are done: a handle a failed test left open
 * (seen once: a shard idle for 15 minutes after its summary) would keep it, and the run, forever.
 * A shard still running EXIT_GRACE_MS after printing its summary is stopped, and that is a failure.
 */
const EXIT_GRACE_MS = 30_000

function runShard(names: string[]): Promise<Outcome> {
  const pattern = `^(${names.map((n) => n.replace(/[.]/g, '\\.')).join('|')})$`
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [UVU, DIR, pattern], { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = '', stuck: ReturnType<typeof setTimeout> | undefined
    const read = (d: string) => {
      output += d
      if (!stuck && /^\s*Duration:/m.test(output.replace(/\x1b\[[0-9;]*m/g, ''))) {
        stuck = setTimeout(() => { output += `\n  FAIL  the shard did not exit within ${EXIT_GRACE_MS / 1000} s of its summary: a test left a handle open\n`; child.kill('SIGKILL') }, EXIT_GRACE_MS)
      }
    }
    child.stdout.setEncoding('utf8').on('data', read)
    child.stderr.setEncoding('utf8').on('data', read)
    child.on('close', (code) => { clearTimeout(stuck); resolve({ output, code: code ?? 1 }) })
  })
}

const started = Date.now()
const outcomes = await Promise.all(shards.map(runShard))
let total = 0, passed = 0, skipped = 0
const failures: string[] = []
for (let [i, { output, code }] of outcomes.entries()) {
  console.log(`\n===== shard ${i + 1} of ${SHARDS}: ${shards[i].join(', ')}\n`)
  console.log(output.trimEnd())
  output = output.replace(/\x1b\[[0-9;]*m/g, '') // uvu's colours, before reading its summary
  const count = (label: string) => Number(output.match(new RegExp(`^\\s*${label}:\\s+(\\d+)`, 'm'))?.[1] ?? 0)
  total += count('Total')
  passed += count('Passed')
  skipped += count('Skipped')
  // A failure's name and the first line of its message: CI shows only the end of its log, and
  // this summary (repeated by .ci/run after both Node versions) is what it keeps.
  for (const m of output.matchAll(/^\s*FAIL\s+(.*)\n(.*)$/gm)) failures.push(`${m[1].trim()}: ${m[2].trim().slice(0, 300)}`)
  if (code !== 0 && !/^\s*Total:/m.test(output)) failures.push(`shard ${i + 1} ended with exit code ${code} before its summary`)
  else if (code !== 0 && failures.length === 0) failures.push(`shard ${i + 1} ended with exit code ${code}`)
}
console.log(`\n===== ${failures.length === 0 ? 'all passed' : 'failed:'}`)
for (const f of failures) console.log(`  FAILED  ${f}`)
console.log(`\n  Total:     ${total}\n  Passed:    ${passed}\n  Skipped:   ${skipped}\n  Duration:  ${Math.round((Date.now() - started) / 1000)} s`)
process.exit(failures.length === 0 && passed + skipped === total ? 0 : 1)
