// Checks of option and argument values, each a usage error (exit 2) naming the option: the
// library would throw TypeError or RangeError for the same values, which the command line
// must not confuse with a failure of its own.
import { fromHex } from '../index.js'
import { UsageError } from './errors.js'

/** A whole number in [min, max]. */
export function wholeNumber(text: string, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`${name} must be a whole number in ${min}..${max}, not '${text}'`)
  return n
}

/** A timestamp in ms since the epoch: digits, or a date that Date.parse reads (ISO 8601). */
export function timestamp(text: string, name: string): number {
  const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text)
  if (!Number.isSafeInteger(ms) || ms < 0) throw new UsageError(`${name} must be ms since the epoch or an ISO date, not '${text}'`)
  return ms
}

/** Hex of one of the given byte lengths. */
export function hexBytes(text: string, name: string, ...lengths: number[]): Uint8Array {
  const digits = lengths.map((n) => 2 * n).join(' or ')
  if (!/^[0-9a-fA-F]*$/.test(text) || !lengths.includes(text.length / 2)) throw new UsageError(`${name} must be ${digits} hex digits`)
  return fromHex(text)
}

/** Hex of any length (a proof): an even number of hex digits. */
export function anyHex(text: string, name: string): Uint8Array {
  if (!/^[0-9a-fA-F]*$/.test(text) || text.length % 2 !== 0 || text.length === 0) throw new UsageError(`${name} must be hex (an even number of hex digits)`)
  return fromHex(text)
}

/** The optional string option `name`, as a string or undefined. */
export function optional(values: Record<string, string | boolean | string[] | undefined>, name: string): string | undefined {
  const v = values[name]
  return typeof v === 'string' ? v : undefined
}

/** Every value of the repeatable option `name` (none: an empty list). */
export function repeated(values: Record<string, string | boolean | string[] | undefined>, name: string): string[] {
  const v = values[name]
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : []
}
