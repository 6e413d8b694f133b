#!/usr/bin/env node
// The `xaeroflux` command line (docs/CLI.md): finds the command, parses its arguments, runs it,
// and turns every failure into one line on stderr and an exit code (errors.ts). Commands live in
// commands/, one module per command or small group, listed in commands/index.ts.
import { readFileSync } from 'node:fs'
import { COMMANDS } from './commands/index.js'
import { COMMON_EXIT_CODES, commandHelp, exitCodeLine, parseCommand, wantsHelp, type Command } from './command.js'
import { EXIT, UsageError, describeFailure } from './errors.js'
import { Output, OutputClosed } from './output.js'

function version(): string {
  // dist/src/cli/main.js → the package's root, in a checkout and in an installed package.
  return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version
}

function overallHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2
  return [
    'usage: xaeroflux <command> [options] [arguments]',
    '       xaeroflux <command> --help     a command\'s options',
    '       xaeroflux --version',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    `  ${'help'.padEnd(width)}this list, or a command's help: xaeroflux help <command>`,
    '',
    'exit codes:',
    ...COMMON_EXIT_CODES.map((c) => `  ${c}`),
    `  ${exitCodeLine(EXIT.notVerified, 'verify: the proof does not verify')}`,
    `  ${exitCodeLine(EXIT.interrupted, 'interrupted (SIGINT, SIGTERM): query, sync, bench and demo stop and clean up')}`,
    '       (node, serve-example: SIGINT or SIGTERM is how they end; they close their store and exit 0)',
    '',
    'Errors are one line on stderr: error <CODE>: <message> (XAEROFLUX_DEBUG=1 adds the stack).',
    'More in docs/CLI.md.',
  ].join('\n') + '\n'
}

function find(name: string): Command {
  const command = COMMANDS.find((c) => c.name === name)
  if (!command) throw new UsageError(`unknown command '${name}' (xaeroflux --help lists them)`)
  return command
}

/**
 * The signal a command watches (Invocation.signal): the first SIGINT or SIGTERM aborts it, and
 * the command stops and closes its store; a second one ends the process at once.
 */
function interruption(): AbortSignal {
  const controller = new AbortController()
  for (const name of ['SIGINT', 'SIGTERM'] as const) {
    process.once(name, () => {
      controller.abort()
      process.once(name, () => process.exit(128 + (name === 'SIGINT' ? 2 : 15)))
    })
  }
  return controller.signal
}

/** Runs the command line `args`; resolves with the exit code. */
async function main(args: string[]): Promise<number> {
  const [first, ...rest] = args
  if (first === undefined || first === '--help' || first === '-h') {
    process.stdout.write(overallHelp())
    return EXIT.ok
  }
  if (first === '--version') {
    process.stdout.write(version() + '\n')
    return EXIT.ok
  }
  if (first === 'help') {
    if (rest.length > 1) throw new UsageError('help takes at most one command')
    process.stdout.write(rest[0] === undefined ? overallHelp() : commandHelp(find(rest[0])))
    return EXIT.ok
  }
  if (first.startsWith('-')) throw new UsageError(`unknown option '${first}': the command comes first (xaeroflux --help)`)
  const command = find(first)
  if (wantsHelp(rest)) {
    process.stdout.write(commandHelp(command))
    return EXIT.ok
  }
  const { values, positionals } = parseCommand(command, rest)
  const signal = command.interruptible ? interruption() : new AbortController().signal
  const code = await command.run({ values, positionals, out: new Output(values.json === true), signal })
  return code ?? EXIT.ok
}

// Without a listener, an EPIPE on stdout would be an uncaught 'error' event; Output reports it
// to the command that writes (OutputClosed).
process.stdout.on('error', () => {})
try {
  process.exitCode = await main(process.argv.slice(2))
} catch (e) {
  if (e instanceof OutputClosed) {
    // The reader went away (`| head`): what it wanted it has; stop quietly.
    process.exitCode = EXIT.ok
  } else {
    const { line, exitCode } = describeFailure(e)
    process.stderr.write(line + '\n')
    if (process.env.XAEROFLUX_DEBUG === '1' && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n')
    process.exitCode = exitCode
  }
}
