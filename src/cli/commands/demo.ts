// `demo` (what `npm start` runs): the network demo — three peers in processes of their own on
// 127.0.0.1 (demo/network.ts) — or, with --local, the single-store demo (demo/local.ts). Either
// works in a temporary folder that it removes, also when interrupted.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Command } from '../command.js'
import { UsageError } from '../errors.js'
import { progress, type Progress } from '../progress.js'
import { JSON_OPTION } from '../store.js'
import { wholeNumber } from '../values.js'
import { runLocalDemo } from '../demo/local.js'
import { runNetworkDemo } from '../demo/network.js'
import { networkReport } from '../demo/report.js'

const NETWORK_COUNT = '3000'
const LOCAL_COUNT = '20000'

export const demo: Command = {
  name: 'demo',
  summary: 'three peers on 127.0.0.1 find each other, write at once, converge, prove (--local: one store)',
  description: 'Starts three peers, each a process with a store in a temporary folder: peer 2 bootstraps from\n' +
    'peer 1, peer 3 from peer 2 only. They join one group through its DHT, append `count` events each\n' +
    `at the same time (default ${NETWORK_COUNT}), and sync and push live until they hold the same events. Then it\n` +
    'times live push, has peer 3 prove an event of peer 1, prints a table of what it measured, and\n' +
    'removes its processes and folder.\n' +
    `--local: the single-store demo instead (appends and ingests, \`count\` each, default ${LOCAL_COUNT}; text only).`,
  args: '[count]',
  positionals: [0, 1],
  options: {
    local: { type: 'boolean', description: 'the single-store demo: appends, ingests (tampered too), queries, reopen, proofs, reconciliation' },
    json: { ...JSON_OPTION, description: 'print the figures as JSON (the network demo)' },
  },
  examples: ['xaeroflux demo', 'xaeroflux demo 500 --json', 'xaeroflux demo --local 1000'],
  // Stops at its next wait, kills its peers and removes its folder.
  interruptible: true,
  async run({ values, positionals, out, signal }) {
    if (values.local) {
      if (out.json) throw new UsageError('--json goes with the network demo, not --local (xaeroflux demo --help)')
      return runLocalDemo(wholeNumber(positionals[0] ?? LOCAL_COUNT, 'count', 10), out, signal)
    }
    const count = wholeNumber(positionals[0] ?? NETWORK_COUNT, 'count', 10, 1_000_000)
    const dir = await mkdtemp(join(tmpdir(), 'xaeroflux-demo-'))
    // One bar per stage (stderr, terminals only).
    let bar: Progress | undefined, current = ''
    try {
      const figures = await runNetworkDemo(count, dir, signal, (stage, done, total) => {
        if (stage !== current) { bar?.end(); bar = progress(stage, total); current = stage }
        bar!.update(done)
      })
      bar?.end()
      if (out.json) return out.value({ dir, ...figures })
      for (const line of networkReport(figures, dir)) await out.line(line)
    } finally {
      bar?.end()
      await rm(dir, { recursive: true, force: true })
    }
  },
}
