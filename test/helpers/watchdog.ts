// Lifecycle and fault tests must never hang: every awaited call goes through `within`, which
// fails the test if the promise has not settled after `ms` (10 s unless told).
import { XaeroError, type XaeroErrorCode } from '../../src/index.js'

/** `promise`, or a rejection naming `what` if it is still pending after `ms`. */
export async function within<T>(promise: Promise<T>, what: string, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`still pending after ${ms} ms: ${what}`)), ms) })
  try {
    return await Promise.race([promise, late])
  } finally {
    clearTimeout(timer)
  }
}

/** How each promise settled (under one watchdog): its value, or the error it rejected with. */
export async function outcomes<T>(promises: Array<Promise<T>>, what: string, ms = 10_000): Promise<Array<{ ok: true; value: T } | { ok: false; error: unknown }>> {
  const settled = await within(Promise.allSettled(promises), what, ms)
  return settled.map((s) => (s.status === 'fulfilled' ? { ok: true as const, value: s.value } : { ok: false as const, error: s.reason }))
}

export const isCode = (code: XaeroErrorCode) => (e: unknown): boolean => e instanceof XaeroError && e.code === code

/** Awaits `call` under the watchdog and returns what it rejected with; fails if it resolves. */
export async function rejection(call: () => unknown, what: string): Promise<unknown> {
  try {
    await within(Promise.resolve().then(call), what)
  } catch (e) {
    if (e instanceof Error && e.message.startsWith('still pending')) throw e
    return e
  }
  throw new Error(`${what} did not fail`)
}
