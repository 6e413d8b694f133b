// The command line, run as users run it: the compiled CLI (dist/src/cli/main.js) in a child
// process, on temporary stores. Every command's text and --json output, its --help, --version,
// and its failures: one line with the code, no stack, the documented exit code.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { Identity, Xaeroflux, fromHex, merkleRoot, toHex, verifyProof } from '../src/index.js'
import { COMMANDS } from '../src/cli/commands/index.js'
import { progress } from '../src/cli/progress.js'

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url))
const PACKAGE = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
const TIMEOUT_MS = 30_000

interface Result { code: number | null; stdout: string; stderr: string }

/** Runs the CLI with `args` (and `input` on stdin); a run that outlives TIMEOUT_MS fails the test. */
function cli(args: string[], options: { input?: string | Uint8Array; env?: Record<string, string>; cwd?: string } = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, XAEROFLUX_DEBUG: '', ...options.env }, cwd: options.cwd })
    let stdout = '', stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`xaeroflux ${args.join(' ')} did not end in ${TIMEOUT_MS} ms`)) }, TIMEOUT_MS)
    child.once('error', reject).once('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
    child.stdin.end(options.input)
  })
}

/** A failure as the CLI must report it: exit `code`, one line `error <errorCode>: …` and no stack. */
function assertFailure(r: Result, code: number, errorCode: string, what: string): void {
  assert.is(r.code, code, `${what}: exit code (stderr: ${r.stderr})`)
  const lines = r.stderr.trimEnd().split('\n')
  assert.is(lines.length, 1, `${what}: one line on stderr, got ${JSON.stringify(r.stderr)}`)
  assert.ok(lines[0].startsWith(`error ${errorCode}: `), `${what}: the line starts with the code: ${lines[0]}`)
  assert.not.match(r.stderr, /\n\s+at /, `${what}: no stack`)
}

const jsonLines = (text: string) => text.trimEnd().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)
const keyOf = (e: { timestamp: number; id: string }) => fromHex(e.timestamp.toString(16).padStart(16, '0') + e.id)

const dir = mkdtempSync(join(tmpdir(), 'xaeroflux-cli-'))
const path = join(dir, 'store'), keyFile = join(dir, 'me.key')
const STORE = ['--path', path, '--group', 'cli-test']
type Appended = { id: string; kind: number; timestamp: number; author: string; payload: string; text: string | null }
const appended: Appended[] = []

const test = suite('cli')
test.after(() => rmSync(dir, { recursive: true, force: true }))

test('--version prints the package version; no arguments, --help and -h list every command', async () => {
  const v = await cli(['--version'])
  assert.is(v.code, 0)
  assert.is(v.stdout, `${PACKAGE.version}\n`)
  for (const args of [[], ['--help'], ['-h'], ['help']]) {
    const r = await cli(args)
    assert.is(r.code, 0, `${args.join(' ')}: exit 0`)
    assert.is(r.stderr, '')
    assert.match(r.stdout, /^usage: xaeroflux <command>/)
    for (const c of COMMANDS) assert.match(r.stdout, new RegExp(`\\n  ${c.name} +\\S`), `lists ${c.name}`)
    for (const code of ['0', '1', '2', '3', '130']) assert.match(r.stdout, new RegExp(`\\n  ${code} +\\S`), `exit code ${code}`)
  }
})

test('--help and -h of every command: usage line, each option with its default, exit codes; nothing runs', async () => {
  for (const c of COMMANDS) {
    for (const flag of ['--help', '-h']) {
      // Also with other arguments, even wrong ones: the help wins (`demo --help` once ran the demo).
      const r = await cli([c.name, flag, '--no-such-option'])
      assert.is(r.code, 0, `${c.name} ${flag}`)
      assert.is(r.stderr, '')
      assert.match(r.stdout, new RegExp(`^usage: xaeroflux ${c.name}`))
      for (const [name, o] of Object.entries(c.options)) {
        assert.match(r.stdout, new RegExp(`--${name}\\b`), `${c.name} --help lists --${name}`)
        if (typeof o.default === 'string') assert.ok(r.stdout.includes(`(default: ${o.default})`), `${c.name} --${name}: its default`)
      }
      assert.match(r.stdout, /\nexit codes:\n {2}0 +success\n {2}1 +failure.*\n {2}2 +usage error/)
      assert.not.match(r.stdout, /^(store |Three peers)/m, 'the demo did not run')
    }
    assert.is((await cli(['help', c.name])).stdout, (await cli([c.name, '--help'])).stdout, `help ${c.name}`)
  }
  assert.match((await cli(['verify', '--help'])).stdout, /\n {2}3 +the proof does not verify/)
})

test('usage errors: exit 2, one line with E_USAGE, no stack', async () => {
  assertFailure(await cli(['bogus']), 2, 'E_USAGE', 'an unknown command')
  assertFailure(await cli(['help', 'bogus']), 2, 'E_USAGE', 'help of an unknown command')
  assertFailure(await cli(['--bogus']), 2, 'E_USAGE', 'an option before the command')
  assertFailure(await cli(['count', ...STORE, '--bogus']), 2, 'E_USAGE', 'an unknown option')
  assertFailure(await cli(['count', '--path', path]), 2, 'E_USAGE', 'a missing required option')
  assertFailure(await cli(['count', ...STORE, 'extra']), 2, 'E_USAGE', 'an extra argument')
  assertFailure(await cli(['get', ...STORE]), 2, 'E_USAGE', 'a missing argument')
  assertFailure(await cli(['get', ...STORE, 'abc']), 2, 'E_USAGE', 'an id that is not 64 hex digits')
  assertFailure(await cli(['query', ...STORE, '--kind', '70000']), 2, 'E_USAGE', 'a kind out of range')
  assertFailure(await cli(['query', ...STORE, '--limit', '-1']), 2, 'E_USAGE', 'a negative limit')
  assertFailure(await cli(['query', ...STORE, '--from', 'yesterday']), 2, 'E_USAGE', 'a time that is not one')
  assertFailure(await cli(['query', ...STORE, '--group']), 2, 'E_USAGE', 'an option without its value')
  assertFailure(await cli(['verify', 'xyz', '00'.repeat(32)]), 2, 'E_USAGE', 'a proof that is not hex')
  assertFailure(await cli(['verify', '0101', '00']), 2, 'E_USAGE', 'a root that is not 32 bytes')
  assertFailure(await cli(['append', ...STORE, '--identity', keyFile, '--new-identity', '--hex', 'zz']), 2, 'E_USAGE', 'a --hex payload that is not hex')
  assert.not.ok(existsSync(path), 'no usage error created the store')
})

test('a missing store is E_NO_STORE (exit 1) for every command that reads one; nothing is created', async () => {
  for (const args of [['query'], ['count'], ['root'], ['rebuild'], ['get', '00'.repeat(32)], ['prove', '00'.repeat(32)]]) {
    assertFailure(await cli([...args, ...STORE]), 1, 'E_NO_STORE', args[0])
  }
  assert.not.ok(existsSync(path))
})

test('append: identity created on request (0600, never replaced), payload from the argument, stdin or hex; text and --json', async () => {
  assertFailure(await cli(['append', ...STORE, '--identity', keyFile, 'hi']), 1, 'E_NO_IDENTITY', 'no identity file')
  const first = await cli(['append', ...STORE, '--identity', keyFile, '--new-identity', '--kind', '1', 'hello world'])
  assert.is(first.code, 0, first.stderr)
  assert.match(first.stderr, /^created the identity file .* \(author [0-9a-f]{64}\)\n$/)
  assert.is(statSync(keyFile).mode & 0o777, 0o600)
  const me = Identity.fromSecretKey(fromHex(readFileSync(keyFile, 'utf8').trim()))
  assert.match(first.stdout, /^appended\nid {9}[0-9a-f]{64}\nkind {7}1\n/)
  assert.ok(first.stdout.includes(`author     ${me.id}\n`))
  assert.ok(first.stdout.includes('payload    "hello world"\n'))
  const firstId = /id {9}([0-9a-f]{64})/.exec(first.stdout)![1]
  appended.push(JSON.parse((await cli(['get', ...STORE, firstId, '--json'])).stdout) as Appended)

  // --new-identity with the file present uses it: the author stays the same.
  const binary = Uint8Array.from([0, 1, 2, 255, 10, 13])
  const fromStdin = await cli(['append', ...STORE, '--identity', keyFile, '--new-identity', '--kind', '2', '--json'], { input: binary })
  assert.is(fromStdin.code, 0, fromStdin.stderr)
  assert.is(fromStdin.stderr, '', 'no identity was created')
  const e2 = JSON.parse(fromStdin.stdout) as Appended
  assert.is(e2.author, me.id)
  assert.is(e2.kind, 2)
  assert.is(e2.payload, toHex(binary), 'stdin is taken as bytes')
  assert.is(e2.text, null, 'binary has no text')
  appended.push(e2)

  const hex = await cli(['append', ...STORE, '--identity', keyFile, '--kind', '1', '--hex', '--json', '6869'])
  const e3 = JSON.parse(hex.stdout) as Appended
  assert.is(e3.text, 'hi')
  appended.push(e3)
  const textIn = await cli(['append', ...STORE, '--identity', keyFile, '--json'], { input: 'from stdin' })
  const e4 = JSON.parse(textIn.stdout) as Appended
  assert.is(e4.text, 'from stdin')
  assert.is(e4.kind, 0, 'the default kind')
  appended.push(e4)

  writeFileSync(join(dir, 'bad.key'), 'not a key\n')
  assertFailure(await cli(['append', ...STORE, '--identity', join(dir, 'bad.key'), 'x']), 1, 'E_BAD_IDENTITY', 'a malformed identity file')
  assert.is(readFileSync(join(dir, 'bad.key'), 'utf8'), 'not a key\n', 'never replaced')
  assertFailure(await cli(['append', '--path', path, '--group', 'another', '--identity', keyFile, 'x']), 1, 'E_STORE_MISMATCH', 'another group')
})

test('get: text and --json; an unknown id is E_NOT_FOUND (exit 1); XAEROFLUX_DEBUG=1 adds the stack', async () => {
  const e = appended[0]
  const json = await cli(['get', ...STORE, e.id, '--json'])
  assert.equal(JSON.parse(json.stdout), e)
  const text = await cli(['get', ...STORE, e.id])
  assert.is(text.code, 0)
  assert.ok(text.stdout.includes(`id         ${e.id}\n`) && text.stdout.includes(`timestamp  ${e.timestamp} (${new Date(e.timestamp).toISOString()})`))
  const unknown = 'ab'.repeat(32)
  const r = await cli(['get', ...STORE, unknown])
  assertFailure(r, 1, 'E_NOT_FOUND', 'an unknown id')
  assert.is(r.stderr, `error E_NOT_FOUND: no event ${unknown} is stored\n`)
  const debug = await cli(['get', ...STORE, unknown], { env: { XAEROFLUX_DEBUG: '1' } })
  assert.is(debug.code, 1)
  assert.match(debug.stderr, /^error E_NOT_FOUND: .*\nXaeroError: .*\n\s+at /)
})

test('query: every filter, text lines and JSON lines, against the appended events', async () => {
  const byKey = appended.slice().sort((a, b) => a.timestamp - b.timestamp || (a.id < b.id ? -1 : 1))
  const ids = (r: Result) => jsonLines(r.stdout).map((e) => e.id)
  const all = await cli(['query', ...STORE, '--json'])
  assert.is(all.code, 0, all.stderr)
  assert.is(all.stderr, '', 'no progress bar when stderr is not a terminal')
  assert.equal(jsonLines(all.stdout), byKey)
  assert.equal(ids(await cli(['query', ...STORE, '--json', '--reverse'])), byKey.map((e) => e.id).reverse())
  assert.equal(ids(await cli(['query', ...STORE, '--json', '--kind', '1'])), byKey.filter((e) => e.kind === 1).map((e) => e.id))
  assert.equal(ids(await cli(['query', ...STORE, '--json', '--limit', '2', '--reverse'])), byKey.slice(-2).reverse().map((e) => e.id))
  assert.equal(ids(await cli(['query', ...STORE, '--json', '--author', appended[0].author])), byKey.map((e) => e.id))
  assert.equal(ids(await cli(['query', ...STORE, '--json', '--author', 'cd'.repeat(32)])), [])
  const [t1, t2] = [byKey[1].timestamp, byKey[3].timestamp]
  assert.equal(ids(await cli(['query', ...STORE, '--json', '--from', String(t1), '--to', String(t2)])), byKey.slice(1, 3).map((e) => e.id))
  assert.equal(ids(await cli(['query', ...STORE, '--json', '--from', new Date(t1).toISOString()])), byKey.slice(1).map((e) => e.id), 'an ISO date')
  const text = await cli(['query', ...STORE])
  const lines = text.stdout.trimEnd().split('\n')
  assert.is(lines.length, byKey.length)
  lines.forEach((line, i) => {
    const e = byKey[i]
    assert.ok(line.startsWith(`${new Date(e.timestamp).toISOString()}  kind ${e.kind}`), line)
    assert.ok(line.includes(e.id) && line.endsWith(e.text !== null ? JSON.stringify(e.text) : `0x${e.payload}`), line)
  })
})

test('query piped into a reader that leaves (| head -n 1): exit 0, nothing on stderr', async () => {
  const r = spawnSync('bash', ['-c', `set -o pipefail; "${process.execPath}" "${CLI}" query ${STORE.join(' ')} | head -n 1`], { encoding: 'utf8', timeout: TIMEOUT_MS })
  assert.is(r.status, 0, r.stderr)
  assert.is(r.stderr, '')
  assert.is(r.stdout.split('\n').length, 2)
})

test('count, root, prove and verify: text and --json, checked against the library', async () => {
  assert.is((await cli(['count', ...STORE])).stdout, `${appended.length} events\n`)
  assert.equal(JSON.parse((await cli(['count', ...STORE, '--json'])).stdout), { count: appended.length })
  const expectedRoot = merkleRoot(appended.map(keyOf))
  assert.is((await cli(['root', ...STORE])).stdout, `${expectedRoot}\n`)
  assert.equal(JSON.parse((await cli(['root', ...STORE, '--json'])).stdout), { root: expectedRoot, count: appended.length })

  const e = appended[1]
  const proof = (await cli(['prove', ...STORE, e.id])).stdout.trim()
  assert.ok(verifyProof(fromHex(proof), expectedRoot), 'the printed proof verifies in the library')
  assert.equal(JSON.parse((await cli(['prove', ...STORE, e.id, '--json'])).stdout), { proof, root: expectedRoot, key: toHex(keyOf(e)), present: true })
  assertFailure(await cli(['prove', ...STORE, 'ab'.repeat(32)]), 1, 'E_NOT_FOUND', 'prove of an unknown id')

  const ok = await cli(['verify', proof, expectedRoot])
  assert.is(ok.code, 0)
  assert.is(ok.stdout, `valid: event ${e.id} is in the set with root ${expectedRoot}\n`)
  assert.equal(JSON.parse((await cli(['verify', proof, expectedRoot, '--json'])).stdout),
    { valid: true, shows: 'present', key: toHex(keyOf(e)), id: e.id, root: expectedRoot })
  // Against the root of another set, and with one sibling hash changed: exit 3.
  const otherRoot = merkleRoot(appended.slice(0, 2).map(keyOf))
  const wrong = await cli(['verify', proof, otherRoot])
  assert.is(wrong.code, 3)
  assert.match(wrong.stdout, /^does not verify/)
  const tampered = proof.slice(0, -2) + (proof.endsWith('00') ? '01' : '00')
  const t = await cli(['verify', tampered, expectedRoot, '--json'])
  assert.is(t.code, 3)
  assert.is((JSON.parse(t.stdout) as { valid: boolean }).valid, false)
  assert.is((await cli(['verify', '0101', expectedRoot])).code, 3, 'not a proof at all')

  // A key no event has: the proof shows its absence.
  const absentKey = toHex(keyOf({ timestamp: appended[0].timestamp + 1, id: 'ef'.repeat(32) }))
  const absence = (await cli(['prove', ...STORE, absentKey])).stdout.trim()
  const shown = await cli(['verify', absence, expectedRoot, '--json'])
  assert.is(shown.code, 0)
  assert.is((JSON.parse(shown.stdout) as { shows: string }).shows, 'absent')
})

test('rebuild: text and --json, over all and over a range; the root is unchanged', async () => {
  const root = merkleRoot(appended.map(keyOf))
  const text = await cli(['rebuild', ...STORE])
  assert.is(text.code, 0, text.stderr)
  assert.is(text.stderr, '', 'no spinner when stderr is not a terminal')
  assert.match(text.stdout, new RegExp(`^checked [1-9]\\d* pages, repaired 0\\nroot ${root}\\n$`))
  const json = JSON.parse((await cli(['rebuild', ...STORE, '--json', '--from', String(appended[0].timestamp), '--to', String(appended[2].timestamp)])).stdout)
  assert.is(json.root, root)
  assert.equal(json.pagesRepaired, [])
  assert.is(json.rootRepaired, false)
  assert.ok(json.pagesChecked > 0)
})

test('progress bars: drawn on a terminal, nothing otherwise', async () => {
  const writes: string[] = []
  let clock = 0
  const bar = progress('work', 10, { isTTY: true, columns: 80, write: (s) => writes.push(s) }, () => clock)
  for (let i = 1; i <= 10; i++) { clock += 150; bar.update(i) }
  bar.end()
  assert.ok(writes.some((w) => w.includes('work [###############---------------] 50% 5/10')), writes.join('|'))
  assert.ok(writes.some((w) => w.includes('100% 10/10')))
  assert.is(writes[writes.length - 1], '\r\x1b[K', 'the bar is erased at the end')
  const none: string[] = []
  const quiet = progress('work', 10, { isTTY: false, write: (s) => none.push(s) })
  quiet.update(5); quiet.end()
  assert.equal(none, [])
  // A terminal that reports 0 columns still gets the whole line.
  const unsized: string[] = []
  const spinner = progress('rebuilding', undefined, { isTTY: true, columns: 0, write: (s) => unsized.push(s) }, () => 0)
  spinner.end()
  assert.match(unsized[0], /^\r\x1b\[Krebuilding \S 0\.0s$/)
})

test('query of many events to a file, with stderr on a terminal (script(1)): a bar with the total', async () => {
  if (spawnSync('script', ['--version']).status !== 0) {
    console.log('  (skipped: no script(1) here to give the CLI a terminal)')
    return
  }
  const many = join(dir, 'many')
  const db = await Xaeroflux.open({ path: many, group: 'many', identity: Identity.generate(), workers: 0, durability: 'none' })
  await Promise.all(Array.from({ length: 5000 }, (_, i) => db.append({ kind: 1, payload: `event ${i}` })))
  await db.close()
  const out = join(dir, 'many.jsonl')
  const r = spawnSync('script', ['-qec', `"${process.execPath}" "${CLI}" query --path ${many} --group many --json > ${out}`, '/dev/null'], { encoding: 'utf8', timeout: TIMEOUT_MS })
  assert.is(r.status, 0, r.stdout)
  assert.match(r.stdout, /query \[#*-*\] \d+% \d+\/5000/, 'the bar, with the store count as its total')
  assert.is(jsonLines(readFileSync(out, 'utf8')).length, 5000)
})

test('bench: runs the bench entry with the area\'s flags, a bar from its phases, its JSON or a summary', async () => {
  // A stand-in for dist/bench/index.js (the real one takes minutes): it reports its arguments.
  const entry = join(dir, 'fake-bench.mjs')
  writeFileSync(entry, `
    process.stderr.write('bench: first\\nbench: second\\n')
    if (process.env.FAIL) { process.stderr.write('boom\\n'); process.exit(4) }
    console.log(JSON.stringify({ results: { argv: process.argv.slice(2).join(' '), rate: { perSec: 1234 } },
      targets: { fast: { value: 2, threshold: 1, pass: true, basis: 'x' }, nested: { slow: { value: 0.5, threshold: 1, pass: false, basis: 'y' } } } }))`)
  const env = { XAEROFLUX_BENCH: entry }
  const json = await cli(['bench', '--only', 'core', '--quick', '--json'], { env })
  assert.is(json.code, 0, json.stderr)
  assert.is(json.stderr, '', 'phase lines become a bar, and there is no terminal')
  assert.is((JSON.parse(json.stdout) as { results: { argv: string } }).results.argv, '--core --quick')
  assert.is(JSON.parse((await cli(['bench', '--only', 'store', '--json'], { env })).stdout).results.argv, '--store-only')
  const text = await cli(['bench'], { env })
  assert.is(text.code, 0)
  assert.is(text.stdout, 'targets:\n  pass  fast: 2 (threshold 1)\n  FAIL  nested.slow: 0.5 (threshold 1)\nfigures:\n  argv  \n  rate.perSec  1234\n')
  assertFailure(await cli(['bench', '--only', 'everything'], { env }), 2, 'E_USAGE', 'an unknown area')
  const failed = await cli(['bench'], { env: { ...env, FAIL: '1' } })
  assert.is(failed.code, 1)
  assert.is(failed.stderr, 'boom\nerror E_BENCH_FAILED: the benchmark process exited with 4\n', "the bench's own output passes through")
  assertFailure(await cli(['bench'], { env: { XAEROFLUX_BENCH: join(dir, 'none.mjs') } }), 1, 'E_NO_BENCH', 'no bench entry')
})

test('demo --local: runs to the end with a small count and removes its folder; a count under 10 is a usage error', async () => {
  const r = await cli(['demo', '--local', '200'])
  assert.is(r.code, 0, r.stderr)
  assert.is(r.stderr, '')
  assert.match(r.stdout, /appended \(signed, logged, fsynced\) 200 events/)
  assert.match(r.stdout, /rejected: E_BAD_SIGNATURE/)
  assert.match(r.stdout, /rejected: E_TRUNCATED/)
  assert.match(r.stdout, /reopened in \d+ ms: 398 events/)
  assert.match(r.stdout, /proof that the latest event is stored: \d+ bytes, verifies: true/)
  assert.match(r.stdout, /after exchanging them: 698 events each, equal roots: true\n$/)
  const folder = /^store (\S+),/.exec(r.stdout)![1]
  assert.not.ok(existsSync(folder), 'its folder is removed')
  assertFailure(await cli(['demo', '--local', '5']), 2, 'E_USAGE', 'too small a count')
})

test('demo --local interrupted (SIGINT): exit 130, E_INTERRUPTED, its folder removed', async () => {
  const child = spawn(process.execPath, [CLI, 'demo', '--local', '20000'])
  let stdout = '', stderr = '', sent = false
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d
    // Once: a second SIGINT ends the process at once, without cleaning up.
    if (!sent && /^alice = /m.test(stdout)) { sent = true; child.kill('SIGINT') }
  })
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve))
  assert.is(code, 130, stderr)
  assert.is(stderr, 'error E_INTERRUPTED: interrupted\n')
  assert.not.ok(existsSync(/^store (\S+),/.exec(stdout)![1]))
})

test.run()
