// The Merkle index's commands: `root`, `prove` and `verify` (which needs no store: a proof and
// a root are all it checks), and `rebuild`, which recomputes the index's pages and repairs them.
import { proofKey, toHex, verifyAbsence, verifyProof } from '../../index.js'
import { exitCodeLine, type Command } from '../command.js'
import { EXIT } from '../errors.js'
import { progress } from '../progress.js'
import { JSON_OPTION, STORE_OPTIONS, withStore } from '../store.js'
import { anyHex, hexBytes, optional, timestamp } from '../values.js'
import { TIME_OPTIONS } from './read.js'

export const root: Command = {
  name: 'root',
  summary: "print the Merkle root of the store's events (equal sets give equal roots)",
  options: { ...STORE_OPTIONS, json: JSON_OPTION },
  examples: ['xaeroflux root --path ./data --group friends'],
  async run({ values, out }) {
    const { root, count } = await withStore(values, {}, async (db) => ({ root: await db.root(), count: await db.count() }))
    await (out.json ? out.value({ root, count }) : out.line(root))
  },
}

export const prove: Command = {
  name: 'prove',
  summary: 'print the proof (hex) that an event is stored, against the current root',
  description: 'Given an id (64 hex digits): a proof that the event is in the store; an unknown id is\n' +
    'E_NOT_FOUND. Given a key (80 hex digits: timestamp then id): a proof that it is in the\n' +
    'store, or that it is not. `xaeroflux verify` checks either against `xaeroflux root`.',
  args: '<id-or-key>',
  positionals: [1, 1],
  options: { ...STORE_OPTIONS, json: JSON_OPTION },
  examples: ['xaeroflux verify "$(xaeroflux prove --path ./data --group friends $ID)" "$(xaeroflux root --path ./data --group friends)"'],
  async run({ values, positionals, out }) {
    const idOrKey = hexBytes(positionals[0], 'the id or key', 32, 40)
    const { proof, root } = await withStore(values, {}, async (db) => ({ proof: await db.prove(idOrKey), root: await db.root() }))
    if (!out.json) return out.line(toHex(proof))
    await out.value({ proof: toHex(proof), root, key: toHex(proofKey(proof)!), present: verifyProof(proof, root) })
  },
}

export const verify: Command = {
  name: 'verify',
  summary: 'check a proof against a root (no store needed)',
  description: 'Prints what the proof shows: that its event is in the set whose root is given, or that it\n' +
    'is not. Exits 3 when the proof does not verify against the root.',
  args: '<proof-hex> <root-hex>',
  positionals: [2, 2],
  options: { json: JSON_OPTION },
  exitCodes: [exitCodeLine(EXIT.notVerified, 'the proof does not verify against the root')],
  examples: ['xaeroflux verify 0101… 9c4e…'],
  async run({ positionals, out }) {
    const proof = anyHex(positionals[0], 'the proof')
    const rootHex = toHex(hexBytes(positionals[1], 'the root', 32))
    const present = verifyProof(proof, rootHex), absent = !present && verifyAbsence(proof, rootHex)
    const key = proofKey(proof)
    const shows = present ? 'present' : absent ? 'absent' : undefined
    if (out.json) {
      await out.value({ valid: shows !== undefined, shows: shows ?? null, key: key ? toHex(key) : null, id: key ? toHex(key.subarray(8)) : null, root: rootHex })
    } else if (!key) {
      await out.line('not a proof (version 1): it does not verify')
    } else {
      const id = toHex(key.subarray(8))
      await out.line(present ? `valid: event ${id} is in the set with root ${rootHex}`
        : absent ? `valid: event ${id} (key ${toHex(key)}) is not in the set with root ${rootHex}`
          : `does not verify: the proof about event ${id} does not fold to root ${rootHex}`)
    }
    return shows === undefined ? EXIT.notVerified : EXIT.ok
  },
}

export const rebuild: Command = {
  name: 'rebuild',
  summary: 'recompute the Merkle pages of a time range from the stored events, repairing those that differ',
  options: { ...STORE_OPTIONS, ...TIME_OPTIONS, json: JSON_OPTION },
  examples: ['xaeroflux rebuild --path ./data --group friends', 'xaeroflux rebuild --path ./data --group friends --from 2025-01-01 --to 2025-02-01 --json'],
  async run({ values, out }) {
    const range: { from: number; to?: number } = { from: timestamp(values.from as string, '--from') }
    const to = optional(values, 'to')
    if (to !== undefined) range.to = timestamp(to, '--to')
    const { report, root } = await withStore(values, {}, async (db) => {
      // rebuildIndex reports nothing until it is done: the spinner says it is still working.
      const bar = progress('rebuilding the Merkle index')
      try {
        return { report: await db.rebuildIndex(range), root: await db.root() }
      } finally {
        bar.end()
      }
    })
    if (out.json) return out.value({ ...report, root })
    await out.line(`checked ${report.pagesChecked} pages, repaired ${report.pagesRepaired.length}${report.rootRepaired ? ' and the root slot' : ''}`)
    for (const address of report.pagesRepaired) await out.line(`  repaired page ${address}`)
    await out.line(`root ${root}`)
  },
}
