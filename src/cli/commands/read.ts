// The reading commands: `query` (events by time, author and kind), `get` (one event by id)
// and `count`.
import { XaeroError, toHex, type RangeOptions } from '../../index.js'
import type { Command, OptionSpec } from '../command.js'
import { eventBlock, eventJson, eventLine } from '../format.js'
import { progress, type Progress } from '../progress.js'
import { interrupted } from '../errors.js'
import { JSON_OPTION, STORE_OPTIONS, withStore } from '../store.js'
import { hexBytes, optional, timestamp, wholeNumber } from '../values.js'

/** The time bounds of `query` and `rebuild`. */
export const TIME_OPTIONS: Record<string, OptionSpec> = {
  from: { type: 'string', value: '<time>', description: 'earliest timestamp, inclusive: ms since the epoch or an ISO date', default: '0' },
  to: { type: 'string', value: '<time>', description: 'latest timestamp, exclusive (default: no bound)' },
}

export const query: Command = {
  name: 'query',
  summary: 'list events in key order (time, then id), filtered by time, author and kind',
  description: 'Text: one line per event (time, kind, id, author, payload). --json: one JSON object per\n' +
    'line (JSON lines). A progress bar is drawn on stderr when it is a terminal and the output\n' +
    'goes elsewhere (a file or a pipe).',
  options: {
    ...STORE_OPTIONS,
    ...TIME_OPTIONS,
    author: { type: 'string', value: '<hex>', description: "only this author's events (public key, 64 hex digits)" },
    kind: { type: 'string', value: '<n>', description: 'only events of this kind, 0..65535' },
    limit: { type: 'string', value: '<n>', description: 'at most this many events (default: all)' },
    reverse: { type: 'boolean', description: 'latest first' },
    json: JSON_OPTION,
  },
  examples: [
    'xaeroflux query --path ./data --group friends --kind 1 --limit 10 --reverse',
    'xaeroflux query --path ./data --group friends --from 2025-01-01 --json > events.jsonl',
  ],
  interruptible: true,
  async run({ values, out, signal }) {
    const range: RangeOptions = { from: timestamp(values.from as string, '--from'), reverse: values.reverse === true }
    const to = optional(values, 'to'), author = optional(values, 'author'), kind = optional(values, 'kind'), limit = optional(values, 'limit')
    if (to !== undefined) range.to = timestamp(to, '--to')
    if (author !== undefined) range.author = hexBytes(author, '--author', 32)
    if (kind !== undefined) range.kind = wholeNumber(kind, '--kind', 0, 0xffff)
    if (limit !== undefined) range.limit = wholeNumber(limit, '--limit', 0)
    await withStore(values, {}, async (db) => {
      // The bar shares the terminal with the listing only when the listing goes elsewhere.
      // Its total is known when no filter narrows the store's count.
      let bar: Progress | undefined
      if (!process.stdout.isTTY) {
        const unfiltered = range.to === undefined && range.from === 0 && author === undefined && kind === undefined
        const total = unfiltered ? Math.min(await db.count(), range.limit ?? Infinity) : undefined
        bar = progress('query', total)
      }
      let n = 0
      try {
        for await (const event of db.range(range)) {
          if (signal.aborted) throw interrupted()
          await (out.json ? out.value(eventJson(event)) : out.line(eventLine(event)))
          bar?.update(++n)
        }
      } finally {
        bar?.end()
      }
    })
  },
}

export const get: Command = {
  name: 'get',
  summary: 'print one event by its id',
  args: '<id>',
  positionals: [1, 1],
  options: { ...STORE_OPTIONS, json: JSON_OPTION },
  examples: ['xaeroflux get --path ./data --group friends 3f2a…'],
  async run({ values, positionals, out }) {
    const id = hexBytes(positionals[0], 'the id', 32)
    const event = await withStore(values, {}, (db) => db.get(id))
    if (!event) throw new XaeroError('E_NOT_FOUND', `no event ${toHex(id)} is stored`)
    if (out.json) return out.value(eventJson(event))
    for (const line of eventBlock(event)) await out.line(line)
  },
}

export const count: Command = {
  name: 'count',
  summary: 'print how many events the store holds',
  options: { ...STORE_OPTIONS, json: JSON_OPTION },
  examples: ['xaeroflux count --path ./data --group friends'],
  async run({ values, out }) {
    const n = await withStore(values, {}, (db) => db.count())
    await (out.json ? out.value({ count: n }) : out.line(`${n} events`))
  },
}
