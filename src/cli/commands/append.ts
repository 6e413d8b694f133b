// `append`: signs one event by the identity in a file and appends it to a store (created if
// missing); it returns once the event is durable in the store's log.
import { text } from 'node:stream/consumers'
import type { Command } from '../command.js'
import { UsageError } from '../errors.js'
import { eventBlock, eventJson } from '../format.js'
import { loadIdentity } from '../identity.js'
import { JSON_OPTION, STORE_OPTIONS, withStore } from '../store.js'
import { anyHex, wholeNumber } from '../values.js'

/** The payload: the argument, or all of stdin; as hex with --hex. */
async function readPayload(argument: string | undefined, hex: boolean): Promise<Uint8Array | string> {
  if (argument === undefined && process.stdin.isTTY) {
    // Reading a terminal would wait for input the user does not know is expected.
    throw new UsageError('give the payload as an argument or on stdin (xaeroflux append --help)')
  }
  if (hex) {
    const digits = argument ?? (await text(process.stdin)).trim()
    return digits === '' ? new Uint8Array(0) : anyHex(digits, 'the payload (--hex)')
  }
  if (argument !== undefined) return argument
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return new Uint8Array(Buffer.concat(chunks))
}

export const append: Command = {
  name: 'append',
  summary: 'sign an event and append it to a store (created if missing)',
  description: 'The payload is the argument, or else all of stdin (bytes as they are). It resolves once\n' +
    'the event is durable in the store\'s write-ahead log, and prints the event.',
  args: '[payload]',
  positionals: [0, 1],
  options: {
    ...STORE_OPTIONS,
    identity: { type: 'string', value: '<file>', description: 'file with the author\'s secret key (64 hex digits)', required: true },
    'new-identity': { type: 'boolean', description: 'create the identity file if it is missing (never replaces one)' },
    kind: { type: 'string', value: '<n>', description: "the event's kind, 0..65535", default: '0' },
    hex: { type: 'boolean', description: 'the payload is hex, not text' },
    json: JSON_OPTION,
  },
  examples: [
    'xaeroflux append --path ./data --group friends --identity me.key --new-identity --kind 1 "hello"',
    'cat photo.jpg | xaeroflux append --path ./data --group friends --identity me.key --kind 7 --json',
  ],
  async run({ values, positionals, out }) {
    const kind = wholeNumber(values.kind as string, '--kind', 0, 0xffff)
    const payload = await readPayload(positionals[0], values.hex === true)
    const file = values.identity as string
    const { identity, created } = await loadIdentity(file, values['new-identity'] === true)
    // On stderr: the key file is news to the user, but not part of the result.
    if (created) process.stderr.write(`created the identity file ${file} (author ${identity.id})\n`)
    const event = await withStore(values, { create: true, identity }, (db) => db.append({ kind, payload }))
    if (out.json) return out.value(eventJson(event))
    await out.line('appended')
    for (const line of eventBlock(event)) await out.line(line)
  },
}
