// How the command line fails: every failure is one line on stderr, `error <CODE>: <message>`,
// and an exit code a script can branch on. The library's failures keep their XaeroError codes
// (docs/ERRORS.md); the codes below are the command line's own (docs/CLI.md).
import { XaeroError } from '../index.js'

/** Exit codes, the same for every command (docs/CLI.md). */
export const EXIT = {
  ok: 0,
  /** A XaeroError, a failure of the command line's own (CliError), or an unexpected one. */
  failure: 1,
  /** The command line was wrong: unknown command or option, a bad or missing value. */
  usage: 2,
  /** `verify` only: the proof is well-formed input but does not verify against the root. */
  notVerified: 3,
  /** Stopped by SIGINT or SIGTERM (128 + SIGINT's number, as shells report it). */
  interrupted: 130,
} as const

export const CliCodes = {
  E_USAGE: 'the command line is wrong (unknown command or option, a bad or missing value)',
  E_NO_STORE: 'no store at the path (only append creates one)',
  E_NO_IDENTITY: 'no identity file at the path (--new-identity creates one)',
  E_BAD_IDENTITY: 'the identity file does not hold a 32-byte secret key in hex',
  E_NO_BENCH: 'the benchmarks are not there (they ship with a built checkout, not the package)',
  E_BENCH_FAILED: 'the benchmark process failed',
  E_NO_SECRET: 'the secret file cannot be read',
  E_LISTEN: 'the node cannot start: an address to listen on is in use or unavailable',
  E_DEMO_FAILED: 'a peer of the demo failed, or did not do its part in time',
  E_HTTP_LISTEN: 'serve-example: the web server cannot listen on the port (in use, or not allowed)',
  E_NO_EXAMPLE: 'serve-example: the bundled example page is missing (npm run build makes it)',
  E_INTERRUPTED: 'the command was stopped by SIGINT or SIGTERM before it finished',
  E_INTERNAL: 'an unexpected failure (a bug: XAEROFLUX_DEBUG=1 prints its stack)',
} as const

export type CliCode = keyof typeof CliCodes

/** Thrown by an interruptible command that stopped on its signal (exit 130). */
export function interrupted(): CliError {
  return new CliError('E_INTERRUPTED', 'interrupted', EXIT.interrupted)
}

/** A failure of the command line itself, with its code and exit code. */
export class CliError extends Error {
  constructor(readonly code: CliCode, message: string, readonly exitCode: number = EXIT.failure) {
    super(message)
    this.name = 'CliError'
  }
}

/** The command line was wrong: exit 2, and the help of the command is named in the message. */
export class UsageError extends CliError {
  constructor(message: string) {
    super('E_USAGE', message, EXIT.usage)
    this.name = 'UsageError'
  }
}

/**
 * The one line and the exit code that report `e`. XaeroErrors and CliErrors are expected;
 * anything else is E_INTERNAL. Messages are folded onto one line (a stack never is printed here:
 * main prints it after this line when XAEROFLUX_DEBUG=1).
 */
export function describeFailure(e: unknown): { line: string; exitCode: number } {
  const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' ').trim()
  if (e instanceof XaeroError) return { line: `error ${e.code}: ${oneLine(e.message)}`, exitCode: EXIT.failure }
  if (e instanceof CliError) return { line: `error ${e.code}: ${oneLine(e.message)}`, exitCode: e.exitCode }
  const message = e instanceof Error ? e.message : String(e)
  return { line: `error E_INTERNAL: ${oneLine(message)}`, exitCode: EXIT.failure }
}
