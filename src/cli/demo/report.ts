// How the network demo tells what it measured: a table of the peers, the figures a line each, what
// happened in plain words, and what to run next. Only figures the demo measured appear here.
import type { NetworkFigures, PeerFigures } from './network.js'

const n = (x: number) => Math.round(x).toLocaleString('en')
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(2)} MB`
const ms = (x: number) => (x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(x < 10 ? 1 : 0)} ms`)
const short = (hex: string) => `${hex.slice(0, 16)}…`

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)))
  // Text left, figures right.
  const numeric = rows[0].map((_, c) => rows.slice(1).every((r) => /^[\d,. ]+(ms|s|MB)?$|^\d+\/\d+$/.test(r[c])))
  return rows.map((r) => r.map((cell, c) => (numeric[c] ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd())
}

function peerRow(p: PeerFigures): string[] {
  // Peer ids all start with 12D3KooW (the Ed25519 multihash): their end tells them apart.
  return [p.name, `…${p.peerId.slice(-12)}`, n(p.wrote), n(p.count), ms(p.appendMs), short(p.root), mb(p.wire.sent), mb(p.wire.received), `${p.syncs.local}/${p.syncs.remote}`]
}

/** The report, a line each. `dir` is where the stores were (already removed). */
export function networkReport(f: NetworkFigures, dir: string): string[] {
  const [p1, p2, p3] = f.peers
  const wire = f.peers.reduce((s, p) => s + p.wire.sent, 0)
  const eventBytes = f.peers.reduce((s, p) => s + p.received.bytes, 0)
  // The slowest probe is often the first, sent just after the burst of appends: said when it is.
  const latency = (l: NetworkFigures['latency']['peer2']) => `${ms(l.medianMs)} (median of ${l.probes}; ${ms(l.minMs)} to ${ms(l.maxMs)}` +
    `${l.probes > 1 && l.samplesMs[0] === Math.max(...l.samplesMs) ? ', the slowest the first, just after the burst' : ''})`
  return [
    `Three peers on 127.0.0.1, each a process of its own with a store in ${dir}.`,
    `${p2.name} was given ${p1.name}'s address, ${p3.name} only ${p2.name}'s: ${p3.name} and ${p1.name} were connected through the group's DHT ${ms(f.discovery.ms)} after ${p3.name} started.`,
    `Each appended ${n(f.perPeer)} events at the same time; live push and sync carried them to the others.`,
    `Then ${p1.name} appended ${f.probes} more, one at a time, to time live push.`,
    '',
    ...table([['peer', 'peer id', 'wrote', 'holds', 'appends took', 'root', 'sent', 'received', 'syncs run/served'], ...f.peers.map(peerRow)]).map((l) => `  ${l}`),
    '',
    `roots        ${f.rootsEqual ? `equal on all three peers: ${f.root}` : `NOT equal: ${f.peers.map((p) => p.root).join(', ')}`}`,
    `throughput   the ${n(f.replication.events)} events were on all three peers ${ms(f.replication.ms)} after the appends started: ${n(f.replication.perSecond)} events/s written and replicated`,
    `bytes        ${mb(wire)} crossed the wire (TCP bytes the three peers sent: Noise, Yamux, DHT, sync and push) to deliver ${mb(eventBytes)} of events`,
    `live push    an event appended on ${p1.name} was indexed on ${p2.name} after ${latency(f.latency.peer2)}, on ${p3.name} after ${latency(f.latency.peer3)}`,
    `proof        ${f.proof.checkedBy} proved event ${short(f.proof.eventId)}, written by ${f.proof.writtenBy} (author ${short(f.proof.author)}): ${f.proof.bytes} bytes, ` +
      `checked against ${f.proof.checkedBy}'s root: ${f.proof.valid ? 'valid' : 'INVALID'} (against ${f.proof.writtenBy}'s root: ${f.proof.validOnWriter ? 'valid' : 'INVALID'})`,
    '',
    'What happened: three stores with no server between them found each other through the group\'s',
    'own DHT, wrote at the same time, and ended with the same events: equal Merkle roots say so in 32',
    `bytes. Every event is signed by its author and checked by each peer that stores it; ${p3.name}, which`,
    `never wrote ${p1.name}'s event, can still prove that it holds it, and anyone with the root can check.`,
    'The stores and their folder are gone.',
    '',
    'Next:',
    '  xaeroflux node --path ./a --group friends                    run a peer; it prints its addresses',
    '  xaeroflux node --path ./b --group friends --bootstrap <addr>  a second one, started from the first',
    '  xaeroflux append --path ./c --group friends --identity me.key --new-identity "hello"',
    '  xaeroflux sync --path ./c --group friends <addr>              then sync that store with a peer',
    '  xaeroflux demo --local                                       the single-store demo',
    '  docs/CLI.md (every command), docs/NETWORK.md (nodes, the group DHT), docs/SYNC.md',
  ]
}
