#!/usr/bin/env node
// The `xaeroflux` command. Each subcommand is one function; `help` lists them.
import { performance } from 'node:perf_hooks'
import { Identity, groupId, encodeEvent, decodeEvents, merkleRoot, XaeroError, type Event } from './index.js'

const commands: Record<string, { summary: string; run: (args: string[]) => Promise<void> | void }> = {
  demo: { summary: 'sign, validate and index a batch of events, and print what it measured', run: demo },
  help: { summary: 'list the commands', run: help },
}

function help(): void {
  console.log('usage: xaeroflux <command>\n')
  for (const [name, c] of Object.entries(commands)) console.log(`  ${name.padEnd(8)} ${c.summary}`)
}

function demo(args: string[]): void {
  const count = Number(args[0] ?? 20_000)
  const alice = Identity.generate(), bob = Identity.generate()
  const group = groupId('demo')
  console.log(`group 'demo' = ${group}\nauthors alice = ${alice.id.slice(0, 16)}…, bob = ${bob.id.slice(0, 16)}…`)

  let t = performance.now()
  const start = Date.now() - count
  const envelopes = Array.from({ length: count }, (_, i) =>
    encodeEvent({ kind: i % 3, timestamp: start + i, group, payload: `message ${i}` }, i % 2 ? bob : alice))
  report('signed', count, t)

  // A peer's copy arrives tampered: one flipped payload byte, one cut short.
  envelopes[7] = envelopes[7].slice(); envelopes[7][90] ^= 1
  envelopes[8] = envelopes[8].subarray(0, 100)

  t = performance.now()
  const results = decodeEvents(envelopes, { group })
  report('validated (structure, id, Ed25519 signature)', count, t)
  const events = results.filter((r): r is Event => !(r instanceof XaeroError))
  for (const r of results) if (r instanceof XaeroError) console.log(`  rejected: ${r.code} (${r.message})`)

  t = performance.now()
  const root = merkleRoot(events.map((e) => e.key))
  report('Merkle root computed over', events.length, t)
  console.log(`root = ${root}`)
  const shuffled = events.map((e) => e.key).reverse()
  console.log(`same root from another arrival order: ${merkleRoot(shuffled) === root}`)
}

function report(what: string, n: number, since: number): void {
  const ms = performance.now() - since
  console.log(`${what} ${n} events in ${ms.toFixed(0)} ms (${Math.round(n / (ms / 1000)).toLocaleString('en')}/s)`)
}

const [name = 'help', ...args] = process.argv.slice(2)
const command = commands[name]
if (!command) {
  console.error(`unknown command: ${name}`)
  help()
  process.exit(2)
}
try {
  await command.run(args)
} catch (e) {
  console.error(e instanceof XaeroError ? `${e.code}: ${e.message}` : e)
  process.exit(1)
}
