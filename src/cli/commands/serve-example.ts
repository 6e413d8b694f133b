// `serve-example`: the example chat page (examples/chat/) and a Node peer for it to join, on
// 127.0.0.1, until SIGINT or SIGTERM. The page comes pre-bundled by `npm run build`
// (tools/example-page.ts → dist/examples/chat/), so nothing is bundled at run time. The web
// server sends the page cross-origin isolated (COOP/COEP: the page's store runs on workers),
// and tells it where the Node peer is at /config.json; /state.json gives the Node peer's root,
// which the page shows next to its own. The rest of the output is the `node` command's log.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Xaeroflux } from '../../index.js'
import type { Command } from '../command.js'
import { CliError } from '../errors.js'
import { JSON_OPTION } from '../store.js'
import { optional, wholeNumber } from '../values.js'
import { serve } from './node.js'

/** dist/src/cli/commands/ → dist/examples/chat/, in a checkout and in the installed package. */
const PAGE_DIR = fileURLToPath(new URL('../../../examples/chat/', import.meta.url))

const HEADERS = {
  // Cross-origin isolation: without it the page's store validates and signs on its own thread.
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
}

/** What /config.json tells the page (examples/chat/app.ts reads it). */
interface PageConfig { group: string; bootstrap: string[]; peerId: string }

export const serveExample: Command = {
  name: 'serve-example',
  summary: 'serve the example chat page on 127.0.0.1 with a Node peer of its group, until stopped',
  description: 'Starts a peer of the group (as `node` does, on 127.0.0.1, TCP and WebSockets) and a web server\n' +
    'for the example chat (examples/chat/): open the URL it prints in a browser. The page is a peer\n' +
    'of the group itself (its store on IndexedDB) that joins through this Node peer over WebSockets;\n' +
    'every tab or browser is one more peer. It shows the messages live, the peers, its root next to\n' +
    'the Node peer\'s, and the last sync. The log that follows is the `node` command\'s. SIGINT or\n' +
    'SIGTERM stops the server and the peer (exit 0); without --data the store is removed then.',
  options: {
    group: { type: 'string', value: '<name>', description: 'the group the page and the Node peer join', default: 'chat' },
    port: { type: 'string', value: '<n>', description: 'the web server\'s port on 127.0.0.1 (0: one the system picks)', default: '8080' },
    data: { type: 'string', value: '<dir>', description: 'the Node peer\'s store folder, kept (default: a temporary folder, removed at exit)' },
    json: { ...JSON_OPTION, description: 'print JSON lines: {"event":"listening","url",…}, then the node\'s log' },
  },
  examples: [
    'xaeroflux serve-example                  # then open http://127.0.0.1:8080/ in two browsers',
    'xaeroflux serve-example --group club --port 0 --data ./club',
  ],
  interruptible: true,
  stopsOnSignal: true,
  async run({ values, out, signal }) {
    const group = values.group as string
    const port = wholeNumber(values.port as string, '--port', 0, 65535)
    const data = optional(values, 'data')
    const page = await loadPage()

    // The web server first: a port in use fails at once, before a node starts.
    let config: PageConfig | undefined
    let db: Xaeroflux | undefined
    const server = await listen(port, async (path) => {
      if (path === '/' || path === '/index.html') return { type: 'text/html; charset=utf-8', body: page.html }
      if (path === '/app.js') return { type: 'text/javascript; charset=utf-8', body: page.script }
      if (path === '/config.json') return config && { type: 'application/json', body: JSON.stringify(config) }
      if (path === '/state.json') return db && { type: 'application/json', body: JSON.stringify({ count: await db.count(), root: await db.root() }) }
      return null
    })
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`
    const dir = data ?? await mkdtemp(join(tmpdir(), 'xaeroflux-serve-example-'))
    try {
      const { openOnNetwork, closeNetworked } = await import('../network.js')
      const store = await openOnNetwork({ ...values, path: dir, group }, { listen: [], bootstrap: [], create: true })
      let final: { count: number; root: string }
      try {
        const addrs = store.db.multiaddrs()
        config = { group, bootstrap: addrs.filter((a) => a.includes('/ws/')), peerId: addrs[0]?.split('/p2p/')[1] ?? '' }
        db = store.db
        final = await serve(store.db, out, signal, {
          json: { url, data: dir },
          lines: [
            `open ${url} in a browser: the chat of group '${group}' (each tab or browser is a peer of its own)`,
            `the Node peer's store: ${dir}${data === undefined ? ' (temporary: removed at exit)' : ''}; its addresses:`,
          ],
        })
      } finally {
        db = undefined
        await closeNetworked(store)
      }
      await (out.json ? out.value({ event: 'closed', ...final }) : out.line(`closed: ${final.count} events, root ${final.root}`))
    } finally {
      server.closeAllConnections()
      server.close()
      if (data === undefined) await rm(dir, { recursive: true, force: true })
    }
  },
}

/** The pre-bundled page, read once (as bytes: served as they are). */
async function loadPage(): Promise<{ html: Buffer; script: Buffer }> {
  try {
    const [html, script] = await Promise.all([readFile(join(PAGE_DIR, 'index.html')), readFile(join(PAGE_DIR, 'app.bundle.js'))])
    return { html, script }
  } catch (e) {
    throw new CliError('E_NO_EXAMPLE', `the example page is not in ${PAGE_DIR} (npm run build makes it): ${(e as Error).message}`)
  }
}

type Route = (path: string) => Promise<{ type: string; body: string | Buffer } | null | undefined>

/**
 * A web server on 127.0.0.1:`port` that answers GET and HEAD from `route`: null is 404, undefined
 * 503 (not ready yet, or closing). A port it cannot listen on is E_HTTP_LISTEN.
 */
async function listen(port: number, route: Route): Promise<Server> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const reply = (status: number, type = 'text/plain; charset=utf-8', body: string | Buffer = '') =>
      res.writeHead(status, { ...HEADERS, 'Content-Type': type }).end(req.method === 'HEAD' ? undefined : body)
    if (req.method !== 'GET' && req.method !== 'HEAD') return void reply(405, undefined, 'method not allowed\n')
    route(new URL(req.url ?? '/', 'http://localhost').pathname).then(
      (r) => (r ? reply(200, r.type, r.body) : r === null ? reply(404, undefined, 'not found\n') : reply(503, undefined, 'not ready\n')),
      () => reply(503, undefined, 'not ready\n'), // the store is closing
    )
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new CliError('E_HTTP_LISTEN', `cannot serve the page on 127.0.0.1:${port}: ${(e as Error).message}${(e as { code?: string }).code === 'EADDRINUSE' ? ' (--port 0 picks a free port)' : ''}`)))
    server.listen(port, '127.0.0.1', () => resolve())
  })
  return server
}
