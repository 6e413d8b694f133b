// `node`: runs a peer of a group until SIGINT or SIGTERM. It prints its addresses, then a line
// per peer that connects or disconnects, per sync, and for the events that arrived (at most one
// such line a second); on the signal it closes the store and stops its node, and exits 0.
import type { Xaeroflux } from '../../index.js'
import type { SyncResult } from '../../net/session.js'
import type { Command } from '../command.js'
import type { Output } from '../output.js'
import { loadIdentity } from '../identity.js'
import { LISTEN_OPTION, SECRET_OPTIONS } from '../network.js'
import { JSON_OPTION, STORE_OPTIONS } from '../store.js'
import { optional, wholeNumber } from '../values.js'
import { Log } from '../log.js'

/** How often the events that arrived are reported (one line for many). */
const EVENTS_EVERY_MS = 500

export const node: Command = {
  name: 'node',
  summary: 'run a peer of a group: listen, find the group\'s peers, sync and push live until stopped',
  description: 'The store is created if missing. Prints the node\'s addresses (each ends in /p2p/<peer id>:\n' +
    'give one to another node\'s --bootstrap, or to `xaeroflux sync`), then a line per event of the\n' +
    'network. SIGINT or SIGTERM closes the store and stops the node (exit 0). With --identity the\n' +
    'peer id is derived from the identity file, so it stays the same from run to run.',
  options: {
    ...STORE_OPTIONS,
    ...SECRET_OPTIONS,
    listen: LISTEN_OPTION,
    bootstrap: { type: 'string', value: '<multiaddr>', multiple: true, description: 'a peer to start from, ending in /p2p/<peer id>' },
    identity: { type: 'string', value: '<file>', description: 'the identity file (64 hex digits): the store\'s author, and the node\'s peer id' },
    'new-identity': { type: 'boolean', description: 'create the identity file if it is missing' },
    'max-peers': { type: 'string', value: '<n>', description: 'group peers to keep connections to', default: '8' },
    json: { ...JSON_OPTION, description: 'print JSON lines: the addresses, then one line per event' },
  },
  examples: [
    'xaeroflux node --path ./a --group friends --listen /ip4/127.0.0.1/tcp/4001',
    'xaeroflux node --path ./b --group friends --bootstrap /ip4/127.0.0.1/tcp/4001/p2p/12D3KooW…',
  ],
  // A signal is how it ends: it closes the store and exits 0.
  interruptible: true,
  stopsOnSignal: true,
  async run({ values, out, signal }) {
    const { addresses, loadSecret, openOnNetwork, closeNetworked } = await import('../network.js')
    const { listen, bootstrap } = addresses(values)
    const maxPeers = wholeNumber(values['max-peers'] as string, '--max-peers', 1, 1000)
    const secret = await loadSecret(values)
    const file = optional(values, 'identity')
    const identity = file === undefined ? undefined : (await loadIdentity(file, values['new-identity'] === true)).identity
    const store = await openOnNetwork(values, { identity, listen, bootstrap, secret, maxPeers, create: true })
    let final: { count: number; root: string }
    try {
      final = await serve(store.db, out, signal)
    } finally {
      await closeNetworked(store)
    }
    await (out.json ? out.value({ event: 'closed', ...final }) : out.line(`closed: ${final.count} events, root ${final.root}`))
  },
}

/** What a command that runs a peer prints before the node's addresses (serve-example: the page's URL). */
export interface Intro {
  /** Fields added to the JSON `listening` line. */
  json: Record<string, unknown>
  /** Text lines printed first. */
  lines: string[]
}

/**
 * Reports what happens on the network until `signal` aborts (or stdout closes); resolves with the
 * store's final count and root. Used by `node` and `serve-example`.
 */
export async function serve(db: Xaeroflux, out: Output, signal: AbortSignal, intro: Intro = { json: {}, lines: [] }): Promise<{ count: number; root: string }> {
  // A reader that went away (`| head`) ends the node as a signal does.
  const readerGone = new AbortController()
  const log = new Log(out, () => readerGone.abort())
  const stop = AbortSignal.any([signal, readerGone.signal])
  const addrs = db.multiaddrs()
  const count = await db.count(), root = await db.root()
  if (out.json) await out.value({ event: 'listening', ...intro.json, peerId: addrs[0]?.split('/p2p/')[1], addrs, group: db.group, count, root })
  else for (const line of [...intro.lines, ...addrs]) await out.line(line)
  if (!out.json) log.write(async () => `group ${db.group}: ${count} events, root ${root}; SIGINT or SIGTERM stops`)

  const listening = new AbortController() // detaches the listeners below when serving ends
  db.addEventListener('peer:connect', (e) => {
    const { id, addrs } = (e as CustomEvent<{ id: string; addrs: string[] }>).detail
    log.write(async () => (out.json ? { event: 'peer:connect', peer: id, addrs } : `peer connected ${id} ${addrs.join(' ')}`))
  }, { signal: listening.signal })
  db.addEventListener('peer:disconnect', (e) => {
    const { id, reason } = (e as CustomEvent<{ id: string; reason?: { code?: string } }>).detail
    const code = reason?.code
    log.write(async () => (out.json ? { event: 'peer:disconnect', peer: id, reason: code ?? null } : `peer disconnected ${id}${code ? ` (${code})` : ''}`))
  }, { signal: listening.signal })
  db.addEventListener('sync', (e) => {
    const { peer, initiator, result: r } = (e as CustomEvent<{ peer: string; initiator: string; result: SyncResult }>).detail
    log.write(async () => (out.json
      ? { event: 'sync', peer, initiator, ...r, ms: Math.round(r.ms) }
      : `sync with ${peer} (${initiator === 'local' ? 'ours' : 'theirs'}): received ${r.eventsReceived} events, sent ${r.eventsSent}; ` +
        `${r.rounds} rounds, ${r.bytesSent} bytes sent, ${r.bytesReceived} received, ${Math.round(r.ms)} ms`))
  }, { signal: listening.signal })
  // New events (appended, pushed or synced) are reported together, at most one line per period.
  let added = 0
  const stopFeed = db.subscribe({}, () => { added++ })
  const timer = setInterval(() => {
    if (added === 0) return
    const n = added
    added = 0
    log.write(async () => {
      const count = await db.count(), root = await db.root()
      return out.json ? { event: 'events', added: n, count, root } : `+${n} events: ${count} stored, root ${root}`
    })
  }, EVENTS_EVERY_MS)
  try {
    await new Promise<void>((resolve) => {
      if (stop.aborted) resolve()
      else stop.addEventListener('abort', () => resolve(), { once: true })
    })
  } finally {
    clearInterval(timer)
    stopFeed()
    listening.abort()
  }
  await db.flush()
  const final = { count: await db.count(), root: await db.root() }
  await log.drained()
  return final
}
