// The network commands as users run them: `xaeroflux node` in child processes (one in text, one in
// JSON lines), a third store written with `append` and synced to them with `sync`. All on
// 127.0.0.1; every wait is bounded and every child is killed at the end.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { test } from 'uvu'
import * as assert from 'uvu/assert'

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url))
const GROUP = 'cli-net-test'
const dir = mkdtempSync(join(tmpdir(), 'xaeroflux-cli-net-'))
const running = new Set<ChildProcess>()

interface Result { code: number | null; stdout: string; stderr: string }

/** Runs a command to its end (30 s at most). */
function cli(args: string[]): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, XAEROFLUX_DEBUG: '' }, stdio: ['ignore', 'pipe', 'pipe'] })
    running.add(child)
    let stdout = '', stderr = ''
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d })
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`xaeroflux ${args.join(' ')} did not end in 30 s`)) }, 30_000)
    child.once('close', (code) => { clearTimeout(timer); running.delete(child); resolve({ code, stdout, stderr }) })
  })
}

/** A long-running `xaeroflux node`: its stdout lines as they come, and its exit. */
class NodeProcess {
  readonly lines: string[] = []
  stderr = ''
  readonly exit: Promise<number | null>
  private waiters: Array<() => void> = []

  constructor(readonly child: ChildProcess) {
    running.add(child)
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { this.stderr += d })
    createInterface({ input: child.stdout! }).on('line', (l) => { this.lines.push(l); for (const w of this.waiters.splice(0)) w() })
    this.exit = new Promise((resolve) => child.once('close', (code) => { running.delete(child); resolve(code); for (const w of this.waiters.splice(0)) w() }))
  }

  static start(args: string[], group = GROUP): NodeProcess {
    return new NodeProcess(spawn(process.execPath, [CLI, 'node', '--group', group, ...args], { env: { ...process.env, XAEROFLUX_DEBUG: '' } }))
  }

  /** The first line that matches, already printed or to come; fails after `ms` or if the process ends first. */
  async line(match: (l: string) => boolean, ms: number, what: string): Promise<string> {
    const deadline = Date.now() + ms
    for (;;) {
      const found = this.lines.find(match)
      if (found !== undefined) return found
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`${what}: the node exited (${this.stderr})`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`${what}: not after ${ms} ms; lines: ${this.lines.join('\n')}; stderr: ${this.stderr}`)
      await new Promise<void>((resolve) => { const t = setTimeout(resolve, left); this.waiters.push(() => { clearTimeout(t); resolve() }) })
    }
  }

  json(): Array<Record<string, any>> {
    return this.lines.map((l) => JSON.parse(l))
  }

  /** Sends `signal`; resolves with the exit code and how long it took (fails after 5 s). */
  async stop(signal: NodeJS.Signals): Promise<{ code: number | null; ms: number }> {
    const start = Date.now()
    this.child.kill(signal)
    let timer: NodeJS.Timeout | undefined
    const code = await Promise.race([this.exit, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no exit 5 s after ${signal}`)), 5_000) })])
    clearTimeout(timer)
    return { code, ms: Date.now() - start }
  }
}

function assertFailure(r: Result, exit: number, code: string, what: string): void {
  assert.is(r.code, exit, `${what}: exit code (stderr: ${r.stderr})`)
  const lines = r.stderr.trimEnd().split('\n')
  assert.is(lines.length, 1, `${what}: one line, got ${JSON.stringify(r.stderr)}`)
  assert.ok(lines[0].startsWith(`error ${code}: `), `${what}: ${lines[0]}`)
}

/** A TCP port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  await new Promise((resolve) => server.close(resolve))
  return port
}

const tcp = (addrs: string[]) => addrs.find((a) => /\/tcp\/\d+\/p2p\//.test(a))!

test.after(() => {
  for (const c of running) c.kill('SIGKILL')
  rmSync(dir, { recursive: true, force: true })
})

test('two nodes and a store synced to one of them reach one root; SIGTERM and SIGINT end them cleanly (exit 0)', async () => {
  // A in text: its addresses one per line, then its log.
  const a = NodeProcess.start(['--path', join(dir, 'a')])
  const first = await a.line((l) => l.startsWith('/ip4/'), 20_000, 'A prints its addresses')
  await a.line((l) => / group cli-net-test: 0 events/.test(l), 5_000, 'A logs its start')
  const aAddrs = a.lines.filter((l) => l.startsWith('/'))
  for (const addr of aAddrs) assert.match(addr, /^\/ip4\/127\.0\.0\.1\/tcp\/\d+(\/ws)?\/p2p\/12D3KooW\w+$/)
  assert.ok(first === aAddrs[0])
  const aAddr = tcp(aAddrs), aId = aAddr.split('/p2p/')[1]

  // B in JSON lines, started from A.
  const b = NodeProcess.start(['--path', join(dir, 'b'), '--bootstrap', aAddr, '--json'])
  const listening = JSON.parse(await b.line((l) => l.includes('"listening"'), 20_000, 'B listens'))
  assert.is(listening.count, 0)
  await b.line((l) => l.includes('"peer:connect"') && l.includes(aId), 15_000, 'B connects to A')
  await a.line((l) => l.includes(`peer connected ${listening.peerId}`), 15_000, 'A logs B')

  // C: a store of its own, written by `append`, then synced to A.
  const appended = await cli(['append', '--path', join(dir, 'c'), '--group', GROUP, '--identity', join(dir, 'c.key'), '--new-identity', '--json', 'hello from c'])
  assert.is(appended.code, 0, appended.stderr)
  const synced = await cli(['sync', '--path', join(dir, 'c'), '--group', GROUP, '--json', aAddr])
  assert.is(synced.code, 0, synced.stderr)
  const result = JSON.parse(synced.stdout)
  assert.is(result.peer, aId)
  // A may have synced with C on connect, before C's own sync: then C's sync had nothing left to move.
  assert.ok(result.eventsSent <= 1, 'C sent its event at most once')
  assert.is(result.count, 1)
  assert.ok(result.bytesSent > 0 && result.rounds >= 1)
  const root = result.root as string
  assert.match(root, /^[0-9a-f]{64}$/)

  // A got it from C, and pushed it on to B: one root on all three.
  await a.line((l) => l.includes(`+1 events: 1 stored, root ${root}`), 10_000, 'A holds the event')
  await b.line((l) => l.includes('"events"') && l.includes(root), 10_000, 'B holds the event')
  const c = await cli(['root', '--path', join(dir, 'c'), '--group', GROUP])
  assert.is(c.stdout.trim(), root)

  const stoppedB = await b.stop('SIGTERM')
  assert.is(stoppedB.code, 0, b.stderr)
  assert.is(b.stderr, '')
  assert.equal(b.json().at(-1), { event: 'closed', count: 1, root })
  const stoppedA = await a.stop('SIGINT')
  assert.is(stoppedA.code, 0, a.stderr)
  assert.is(a.lines.at(-1), `closed: 1 events, root ${root}`)
  console.log(`    stopped in ${stoppedB.ms} ms (SIGTERM) and ${stoppedA.ms} ms (SIGINT)`)
  // Closed means closed: another command can open the stores now.
  const count = await cli(['count', '--path', join(dir, 'b'), '--group', GROUP, '--json'])
  assert.equal(JSON.parse(count.stdout), { count: 1 })
})

test('node --identity: the same peer id from run to run', async () => {
  const ids: string[] = []
  for (let i = 0; i < 2; i++) {
    const n = NodeProcess.start(['--path', join(dir, 'id'), '--identity', join(dir, 'id.key'), '--new-identity', '--json'])
    ids.push(JSON.parse(await n.line((l) => l.includes('"listening"'), 20_000, 'listening')).peerId)
    assert.is((await n.stop('SIGTERM')).code, 0, n.stderr)
  }
  assert.is(ids[0], ids[1])
})

test('errors: one line with a code, non-zero exit', async () => {
  const store = ['--path', join(dir, 'c'), '--group', GROUP]
  assertFailure(await cli(['sync', ...store, '/ip4/not-an-address']), 2, 'E_USAGE', 'a bad multiaddr')
  assertFailure(await cli(['sync', ...store, '/ip4/127.0.0.1/tcp/4001']), 2, 'E_USAGE', 'a multiaddr without /p2p/')
  const someone = '12D3KooWGnGRa9p5Ux5XVa2wXuTMoiz9RYBxsXDZffM4KThKzumb'
  const unreachable = await cli(['sync', ...store, `/ip4/127.0.0.1/tcp/${await closedPort()}/p2p/${someone}`])
  assertFailure(unreachable, 1, 'E_PEER_UNREACHABLE', 'an unreachable peer')
  assertFailure(await cli(['node', ...store, '--bootstrap', '/ip4/127.0.0.1/tcp/1']), 2, 'E_USAGE', 'a bootstrap address without /p2p/')
  // A node of another group: reachable, but it does not speak this group's protocol.
  const other = NodeProcess.start(['--path', join(dir, 'other'), '--json'], 'another-group')
  const otherAddr = tcp(JSON.parse(await other.line((l) => l.includes('"listening"'), 20_000, 'the other node listens')).addrs)
  assertFailure(await cli(['sync', ...store, otherAddr]), 1, 'E_NOT_IN_GROUP', 'a peer of another group')
  assert.is((await other.stop('SIGTERM')).code, 0)
  assertFailure(await cli(['node', ...store, '--secret', 'too short']), 2, 'E_USAGE', 'a short secret')
  writeFileSync(join(dir, 'secret'), 'long enough to be a secret, this one\n')
  assertFailure(await cli(['node', ...store, '--secret', 'x'.repeat(20), '--secret-file', join(dir, 'secret')]), 2, 'E_USAGE', 'two secrets')
  assertFailure(await cli(['node', ...store, '--secret-file', join(dir, 'none')]), 1, 'E_NO_SECRET', 'a missing secret file')
  // A port in use: listening fails, the store is not left open.
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  try {
    assertFailure(await cli(['node', ...store, '--listen', `/ip4/127.0.0.1/tcp/${port}`]), 1, 'E_LISTEN', 'a port in use')
  } finally {
    server.close()
  }
})

test.run()
