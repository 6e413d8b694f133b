// What a command is, how its arguments are parsed (node:util parseArgs, strict) and how its
// help is written from the same description: the options a command declares are the options it
// accepts and the options its --help lists, with their defaults.
import { parseArgs } from 'node:util'
import { EXIT, UsageError } from './errors.js'
import type { Output } from './output.js'

export interface OptionSpec {
  type: 'string' | 'boolean'
  short?: string
  /** The value's name in the help, e.g. `<dir>`. */
  value?: string
  description: string
  /** Applied when the option is absent, and shown in the help. */
  default?: string | boolean
  /** Absent: a usage error. */
  required?: boolean
  /** May be given more than once (a string option): its value is then every one given, in order. */
  multiple?: boolean
}

export type Values = Record<string, string | boolean | string[] | undefined>

/** One run of a command, as `run` receives it. */
export interface Invocation {
  values: Values
  positionals: string[]
  /** Where results go: human text, or JSON when the command has --json and it was given. */
  out: Output
  /**
   * For an `interruptible` command, aborted on the first SIGINT or SIGTERM: the command stops,
   * closes what it opened and throws `interrupted()`. Never aborted for the others.
   */
  signal: AbortSignal
}

export interface Command {
  name: string
  /** One line, for the list of commands. */
  summary: string
  /** What it does, in a few lines, for its --help. */
  description?: string
  /** The positional arguments as the usage line shows them, e.g. `<id>` or `[payload]`. */
  args?: string
  /** How many positional arguments it takes, at least and at most. */
  positionals?: [min: number, max: number]
  options: Record<string, OptionSpec>
  examples?: string[]
  /**
   * Whether it watches `signal`: long-running commands (a query, a benchmark, a network node)
   * do, to close their store before exiting. The others end on SIGINT as any Node process does.
   */
  interruptible?: boolean
  /** An interruptible command whose normal end is the signal (a node): it closes and exits 0, not 130. */
  stopsOnSignal?: boolean
  /** Exit codes of its own, besides the common ones (0, 1, 2). */
  exitCodes?: string[]
  /** Resolves with the exit code, or nothing for 0; rejects with what failed (main reports it). */
  run(call: Invocation): Promise<number | void>
}

export const HELP_OPTION: OptionSpec = { type: 'boolean', short: 'h', description: 'print this help and exit' }

/** A row of the exit codes in a help. */
export const exitCodeLine = (code: number, meaning: string) => `${String(code).padEnd(5)}${meaning}`

/** The exit codes every command shares, as the help lists them. */
export const COMMON_EXIT_CODES = [
  exitCodeLine(EXIT.ok, 'success'),
  exitCodeLine(EXIT.failure, "failure: a XaeroError (its code, docs/ERRORS.md) or one of the command line's (docs/CLI.md)"),
  exitCodeLine(EXIT.usage, 'usage error: unknown command or option, a bad or missing value'),
]

/** Whether --help or -h is among the arguments (before a `--`): the help wins over any error in the others. */
export function wantsHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--')
  return (end < 0 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h')
}

/** Parses a command's arguments: unknown options, missing values and extra arguments are usage errors. */
export function parseCommand(command: Command, args: string[]): { values: Values; positionals: string[] } {
  const options = Object.fromEntries(Object.entries(command.options).map(([name, o]) =>
    [name, { type: o.type, ...(o.short && { short: o.short }), ...(o.multiple && { multiple: true }), ...(o.default !== undefined && { default: o.default }) }]))
  let parsed
  try {
    parsed = parseArgs({ args, options: options as never, strict: true, allowPositionals: true })
  } catch (e) {
    // parseArgs' messages name the option and say what is wrong; an unknown option's also
    // gives advice about `--` that is longer than the line it belongs in.
    const message = (e as Error).message
    const unknown = (e as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && /'([^']+)'/.exec(message)
    throw new UsageError(`${unknown ? `unknown option '${unknown[1]}'` : message} (xaeroflux ${command.name} --help)`)
  }
  const values = parsed.values as Values
  for (const [name, o] of Object.entries(command.options)) {
    if (o.required && values[name] === undefined) throw new UsageError(`missing --${name} (xaeroflux ${command.name} --help)`)
    const given = values[name]
    if (o.type === 'string' && (given === '' || (Array.isArray(given) && given.includes('')))) throw new UsageError(`--${name} is empty`)
  }
  const [min, max] = command.positionals ?? [0, 0]
  const n = parsed.positionals.length
  if (n < min) throw new UsageError(`missing argument: xaeroflux ${command.name} ${command.args ?? ''} (xaeroflux ${command.name} --help)`)
  if (n > max) throw new UsageError(`unexpected argument '${parsed.positionals[max]}' (xaeroflux ${command.name} --help)`)
  return { values, positionals: parsed.positionals }
}

/** The command's help: usage line, description, options with defaults, exit codes, examples. */
export function commandHelp(command: Command): string {
  const required = Object.entries(command.options).filter(([, o]) => o.required)
  const usage = ['xaeroflux', command.name, ...required.map(([name, o]) => `--${name} ${o.value ?? '<value>'}`)]
  if (Object.keys(command.options).length > required.length) usage.push('[options]')
  if (command.args) usage.push(command.args)
  const rows = Object.entries({ ...command.options, help: HELP_OPTION }).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ` ${o.value ?? '<value>'}` : ''}`
    const note = (o.multiple ? ' (repeatable)' : '') +
      (o.required ? ' (required)' : o.default !== undefined && o.default !== false ? ` (default: ${o.default})` : '')
    return [flag, o.description + note] as const
  })
  const width = Math.max(...rows.map(([flag]) => flag.length)) + 2
  const lines = [`usage: ${usage.join(' ')}`, '', command.summary]
  if (command.description) lines.push('', command.description)
  lines.push('', 'options:', ...rows.map(([flag, text]) => `  ${flag.padEnd(width)}${text}`))
  const interruption = !command.interruptible ? []
    : command.stopsOnSignal ? [exitCodeLine(EXIT.ok, 'also when stopped by SIGINT or SIGTERM: it closed what it opened (a second signal ends it at once)')]
      : [exitCodeLine(EXIT.interrupted, 'interrupted (SIGINT, SIGTERM): it stopped and closed what it opened')]
  lines.push('', 'exit codes:', ...[...COMMON_EXIT_CODES, ...(command.exitCodes ?? []), ...interruption].map((c) => `  ${c}`))
  if (command.examples?.length) lines.push('', 'examples:', ...command.examples.map((e) => `  ${e}`))
  return lines.join('\n') + '\n'
}
