// How events look in each output: a line per event in a listing, a block for one event, and
// the JSON of `Event.toJSON()` with the payload's text beside its hex.
import type { Event } from '../index.js'
import { toHex } from '../index.js'

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** The payload as text if it is UTF-8 without control characters (tabs and newlines allowed). */
export function payloadText(payload: Uint8Array): string | undefined {
  try {
    const text = utf8.decode(payload)
    return /[\u0000-\u0008\u000b-\u001f\u007f]/.test(text) ? undefined : text
  } catch {
    return undefined
  }
}

/** The event as JSON: its fields (payload in hex) and `text`, the payload as text or null. */
export function eventJson(event: Event) {
  return { ...event.toJSON(), text: payloadText(event.payload) ?? null }
}

/** The payload as a quoted string, or as hex when it is not text; cut to `max` characters. */
function payloadSummary(payload: Uint8Array, max: number): string {
  const text = payloadText(payload)
  const shown = text !== undefined ? JSON.stringify(text) : `0x${toHex(payload)}`
  return shown.length <= max ? shown : `${shown.slice(0, max - 1)}… (${payload.length} bytes)`
}

/** One line of a listing: time, kind, id, author (shortened), payload. */
export function eventLine(event: Event): string {
  return `${new Date(event.timestamp).toISOString()}  kind ${String(event.kind).padEnd(5)} ${event.id}  by ${event.author.slice(0, 12)}…  ${payloadSummary(event.payload, 80)}`
}

/** Every field of one event, a line each. */
export function eventBlock(event: Event): string[] {
  return [
    `id         ${event.id}`,
    `kind       ${event.kind}`,
    `timestamp  ${event.timestamp} (${new Date(event.timestamp).toISOString()})`,
    `author     ${event.author}`,
    `group      ${event.group}`,
    `size       ${event.bytes.length} bytes, payload ${event.payload.length}`,
    `payload    ${payloadSummary(event.payload, Infinity)}`,
  ]
}
