// Every command, in the order `xaeroflux help` lists them. A command is one object (command.ts);
// adding one is a module under commands/ and a line here.
import type { Command } from '../command.js'
import { append } from './append.js'
import { bench } from './bench.js'
import { demo } from './demo.js'
import { rebuild, prove, root, verify } from './merkle.js'
import { node } from './node.js'
import { count, get, query } from './read.js'
import { serveExample } from './serve-example.js'
import { sync } from './sync.js'

export const COMMANDS: readonly Command[] = [append, query, get, count, root, prove, verify, rebuild, node, sync, serveExample, bench, demo]
