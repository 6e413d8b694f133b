// `sync`: puts the store on the network for one sync with one peer (a reconciliation, then what
// each side lacks sent both ways), prints what was exchanged, and closes.
import { XaeroError } from '../../index.js'
import type { Command } from '../command.js'
import { interrupted } from '../errors.js'
import { JSON_OPTION, STORE_OPTIONS } from '../store.js'
import { optional, timestamp } from '../values.js'
import { LISTEN_OPTION, SECRET_OPTIONS, checkAddress } from '../network.js'
import { TIME_OPTIONS } from './read.js'

export const sync: Command = {
  name: 'sync',
  summary: 'sync a store once with a peer (both ways), print what was exchanged',
  description: 'Starts a node for the store (created if missing), dials the peer, reconciles the events of\n' +
    '[--from, --to) and sends each side what it lacks; then closes. The peer is a multiaddr ending in\n' +
    '/p2p/<peer id>, as `xaeroflux node` prints them.',
  args: '<multiaddr>',
  positionals: [1, 1],
  options: { ...STORE_OPTIONS, ...SECRET_OPTIONS, ...TIME_OPTIONS, listen: LISTEN_OPTION, json: JSON_OPTION },
  examples: ['xaeroflux sync --path ./data --group friends /ip4/127.0.0.1/tcp/4001/p2p/12D3KooW…'],
  // SIGINT aborts the sync and closes the store.
  interruptible: true,
  async run({ values, positionals, out, signal }) {
    const peer = checkAddress(positionals[0], 'the peer', true)
    const range: { from: number; to?: number } = { from: timestamp(values.from as string, '--from') }
    const to = optional(values, 'to')
    if (to !== undefined) range.to = timestamp(to, '--to')
    const { addresses, loadSecret, openOnNetwork, closeNetworked } = await import('../network.js')
    const { listen } = addresses(values)
    const secret = await loadSecret(values)
    const store = await openOnNetwork(values, { listen, bootstrap: [], secret, create: true })
    let report
    try {
      const result = await store.db.syncWith(peer, { ...range, signal }).catch((e) => {
        if (signal.aborted && e instanceof XaeroError && (e.code === 'E_ABORTED' || e.code === 'E_CLOSED')) throw interrupted()
        throw e
      })
      await store.db.flush()
      report = { peer: peer.split('/p2p/').at(-1)!, ...result, ms: Math.round(result.ms), count: await store.db.count(), root: await store.db.root() }
    } finally {
      await closeNetworked(store)
    }
    if (out.json) return out.value(report)
    await out.line(`synced with ${report.peer}: received ${report.eventsReceived} events, sent ${report.eventsSent}`)
    await out.line(`${report.rounds} rounds, ${report.bytesSent} bytes sent, ${report.bytesReceived} received, ${report.ms} ms`)
    await out.line(`now ${report.count} events, root ${report.root}`)
  },
}
