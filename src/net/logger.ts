// The logger given to the libp2p nodes xaeroflux creates: libp2p's own (`@libp2p/logger`, on
// weald), made only for the namespaces DEBUG enables.
//
// Why: libp2p makes a logger for every connection, stream and protocol negotiation, and each is
// three weald instances whether logging is on or not. One connection and a first sync made 98 of
// them on the dialing side, 154 within 1.5 s (counted with weald's `init` hook); at 10–30 µs each
// (measured here), that is 1–5 ms of CPU on each peer, spent while a catch-up runs. A name that
// DEBUG does not enable now costs three pattern checks and one closure.
//
// Contract: a namespace enabled by DEBUG (Node: the environment variable; browsers: localStorage
// `debug`) when its logger is made logs exactly as with libp2p's default logger. Enabling DEBUG
// later, with `enable()` at run time, reaches only loggers made after it.
import type { ComponentLogger, Logger } from '@libp2p/interface'
import { enabled, logger } from '@libp2p/logger'

function quiet(name: string): Logger {
  return Object.assign(() => {}, {
    enabled: false,
    error: () => {},
    trace: () => {},
    newScope: (scope: string) => make(`${name}:${scope}`),
  })
}

function make(name: string): Logger {
  // A logger's three channels: `name`, `name:error`, `name:trace` (libp2p's `logger()`).
  const on = enabled(name) || enabled(`${name}:error`) || enabled(`${name}:trace`)
  return on ? logger(name) : quiet(name)
}

/** libp2p's component logger, with loggers DEBUG does not enable made cheap. */
export const libp2pLogger: ComponentLogger = { forComponent: make }
