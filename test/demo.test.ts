// The network demo (`xaeroflux demo`, what `npm start` runs), run as users run it: the compiled
// CLI in a child process. Each run gets a TMPDIR of its own, so that what the demo leaves behind
// (a folder, a peer process naming its store's path) can be looked for afterwards.
import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { fromHex, verifyProof } from '../src/index.js'

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url))
const RUN_MS = 40_000
const dirs: string[] = []
const children = new Set<ReturnType<typeof spawn>>()

interface Run { code: number | null; stdout: string; stderr: string }

function demo(args: string[], tmp: string, onStart?: (child: ReturnType<typeof spawn>) => void): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'demo', ...args], { env: { ...process.env, TMPDIR: tmp, XAEROFLUX_DEBUG: '' } })
    children.add(child)
    let stdout = '', stderr = ''
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d })
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`demo ${args.join(' ')} did not end in ${RUN_MS} ms: ${stderr}`)) }, RUN_MS)
    child.once('close', (code) => { clearTimeout(timer); children.delete(child); resolve({ code, stdout, stderr }) })
    onStart?.(child)
  })
}

/** A TMPDIR for one run. */
function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'xaeroflux-demo-test-'))
  dirs.push(dir)
  return dir
}

/** Pids of live processes whose command line names `text` (the demo's peers carry their store's path). */
function processesNaming(text: string): number[] {
  const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' })
  return out.split('\n').filter((l) => l.includes(text) && l.includes('peer.js')).map((l) => Number(l.trim().split(/\s+/)[0]))
}

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not after ${ms} ms`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

test.after(() => {
  for (const c of children) c.kill('SIGKILL')
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

test('demo --json: three peers converge on one root, peer 3 proves peer 1\'s event; nothing is left behind', async () => {
  const tmp = scratch()
  const r = await demo(['150', '--json'], tmp)
  assert.is(r.code, 0, r.stderr)
  assert.is(r.stderr, '', 'no progress bar when stderr is not a terminal')
  const f = JSON.parse(r.stdout)
  assert.is(f.peers.length, 3)
  const total = 3 * 150 + f.probes
  for (const p of f.peers) {
    assert.is(p.count, total, `${p.name} holds every event`)
    assert.is(p.root, f.peers[0].root, `${p.name}'s root`)
    assert.ok(p.wire.sent > 0 && p.wire.received > 0, `${p.name} counted its bytes`)
    assert.is(p.received.events, total - p.wrote, `${p.name} received what it did not write`)
  }
  assert.is(f.rootsEqual, true)
  assert.is(f.peers[0].wrote, 150 + f.probes)
  assert.ok(f.discovery.ms >= 0 && f.discovery.ms < 30_000)
  assert.is(f.replication.events, 450)
  for (const l of [f.latency.peer2, f.latency.peer3]) assert.ok(l.probes === f.probes && l.minMs <= l.medianMs && l.medianMs <= l.maxMs)
  // The proof, checked here as well: by peer 3, of an event by peer 1, against the common root.
  assert.is(f.proof.author, f.peers[0].author, 'the event was written by peer 1')
  assert.is.not(f.proof.author, f.peers[2].author)
  assert.is(f.proof.root, f.root)
  assert.ok(verifyProof(fromHex(f.proof.hex), f.root), 'the proof verifies against the root')
  assert.not.ok(verifyProof(fromHex(f.proof.hex), '00'.repeat(32)), 'and not against another root')
  assert.equal(readdirSync(tmp), [], 'its folder is removed')
  assert.equal(processesNaming(tmp), [], 'no peer process is left')
})

test('demo as text: the table and the figures, no control characters when piped', async () => {
  const tmp = scratch()
  const r = await demo(['100'], tmp)
  assert.is(r.code, 0, r.stderr)
  assert.is(r.stderr, '')
  assert.not.match(r.stdout, /\x1b/)
  assert.match(r.stdout, /peer 3 and peer 1 were connected through the group's DHT [\d.]+ m?s after peer 3 started/)
  const rows = r.stdout.split('\n').filter((l) => /^ {2}peer \d /.test(l))
  assert.is(rows.length, 3)
  for (const row of rows) assert.match(row, / 320 /, `holds 320: ${row}`)
  assert.match(r.stdout, /\nroots +equal on all three peers: [0-9a-f]{64}\n/)
  assert.match(r.stdout, /checked against peer 3's root: valid \(against peer 1's root: valid\)/)
  assert.match(r.stdout, /xaeroflux node --path/)
  assert.equal(readdirSync(tmp), [])
  assert.equal(processesNaming(tmp), [])
})

test('demo interrupted (SIGINT) while its peers run: exit 130, E_INTERRUPTED, its peers and folder gone', async () => {
  const tmp = scratch()
  let sent = false
  const r = await demo(['200000'], tmp, (child) => {
    void until(() => processesNaming(tmp).length >= 2, 20_000, 'two peers').then(() => { sent = true; child.kill('SIGINT') }, () => child.kill('SIGKILL'))
  })
  assert.ok(sent, 'the demo was interrupted while its peers ran')
  assert.is(r.code, 130, r.stderr)
  assert.is(r.stderr, 'error E_INTERRUPTED: interrupted\n')
  assert.equal(readdirSync(tmp), [])
  assert.equal(processesNaming(tmp), [])
})

test('demo: a count under 10 and --json with --local are usage errors', async () => {
  const tmp = scratch()
  for (const args of [['5'], ['--local', '--json', '100']]) {
    const r = await demo(args, tmp)
    assert.is(r.code, 2, args.join(' '))
    assert.match(r.stderr, /^error E_USAGE: [^\n]+\n$/)
  }
})

test.run()
