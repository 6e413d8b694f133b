// One peer of the network bench (bench/network.ts), in a process of its own: a Xaeroflux store on
// its own libp2p node, or a Hypercore 11 core replicating over plain TCP, both on 127.0.0.1. It
// speaks JSON lines like the CLI demo's peer (src/cli/demo/peer.ts): in, { id, cmd, … }; out, first
// { ready }, then answers { id, ok, … } (or { id, ok: false, message }) and events { event, … }.
// Every `at` is epoch ms read from performance (the processes of one machine share the clock).
// It exits when its stdin ends: its parent is gone.
import { createInterface } from 'node:readline'
import { createRequire } from 'node:module'
import { open as openFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import net from 'node:net'
import { Identity, Xaeroflux, type Durability, type Event } from '../src/index.js'
import { createNode } from '../src/net/node.js'
import { WireCounter } from '../src/cli/demo/wire.js'

const PAYLOAD = 200
const ENVELOPE = 144 + PAYLOAD
/** Not a kind of the signed file's events (0–3): a subscriber that printed a line for each of those slowed the full sync's receiver. */
export const PROBE_KIND = 0xfff0
/** Appends in flight at once, as in the demo. */
const WINDOW = 256

const say = (line: unknown) => process.stdout.write(JSON.stringify(line) + '\n')
const now = () => performance.timeOrigin + performance.now()
const rssMB = () => Math.round(process.resourceUsage().maxRSS / 1024)

type Cmd = { id: number; cmd: string; [k: string]: unknown }
type Handler = (c: Cmd) => Promise<Record<string, unknown>>

// --- Xaeroflux ---------------------------------------------------------------------------------

let db: Xaeroflux | undefined
let node: Awaited<ReturnType<typeof createNode>> | undefined
const wire = new WireCounter()
/** Events from other authors indexed here, and the waits on their count. */
let received = 0
let waits: Array<{ n: number; resolve: (at: number) => void }> = []
let connectedAt = 0
const syncs = { local: 0, remote: 0, bytesSent: 0, bytesReceived: 0, eventsReceived: 0 }

/** Ingests the first `count` envelopes of a signToFile file, 1000 at a time read from disk (two chunks in flight). */
async function ingestFile(file: string, count: number): Promise<void> {
  const input = await openFile(file, 'r')
  try {
    let previous: Promise<unknown> | undefined
    for (let start = 0; start < count; start += 1000) {
      const n = Math.min(1000, count - start)
      const buffer = Buffer.alloc(n * ENVELOPE)
      await input.read(buffer, 0, buffer.length, start * ENVELOPE)
      await previous
      previous = db!.ingestMany(Array.from({ length: n }, (_, i) => buffer.subarray(i * ENVELOPE, (i + 1) * ENVELOPE)))
    }
    await previous
  } finally {
    await input.close()
  }
}

const xf: Record<string, Handler> = {
  // { path, group, file?, count?, bootstrap?, listen?, durability? }: the store, holding `count`
  // events of `file` before it goes on the network; its node listens on `listen` (default: TCP on
  // 127.0.0.1 only; a browser page needs a `/ws` address too). Durability 'batch' by default.
  async open(c) {
    node = await createNode({ listen: (c.listen as string[]) ?? ['/ip4/127.0.0.1/tcp/0'], bootstrap: (c.bootstrap as string[]) ?? [], metrics: () => wire.metrics() })
    const identity = Identity.generate()
    db = await Xaeroflux.open({ path: c.path as string, group: c.group as string, identity, durability: (c.durability as Durability) ?? 'batch',
      network: { libp2p: node, bootstrap: (c.bootstrap as string[]) ?? [] } })
    if (c.file) await ingestFile(c.file as string, c.count as number)
    await db.flush()
    db.subscribe({}, (e: Event) => {
      if (e.author === identity.id) return
      received++
      if (e.kind === PROBE_KIND) say({ event: 'seen', id: e.id, at: now() })
      if (waits.length) {
        const at = now()
        waits = waits.filter((w) => (w.n <= received ? (w.resolve(at), false) : true))
      }
    })
    db.addEventListener('peer:connect', () => { connectedAt ||= now() })
    db.addEventListener('peer:disconnect', (e) => {
      const reason = (e as CustomEvent).detail?.reason as { code?: string; message?: string } | undefined
      say({ event: 'disconnect', at: now(), code: reason?.code, message: reason?.message })
    })
    db.addEventListener('sync', (e) => {
      const { initiator, result } = (e as CustomEvent).detail as { initiator: 'local' | 'remote'; result: { bytesSent: number; bytesReceived: number; eventsReceived: number } }
      syncs[initiator]++
      syncs.bytesSent += result.bytesSent; syncs.bytesReceived += result.bytesReceived; syncs.eventsReceived += result.eventsReceived
    })
    return { peerId: node.peerId.toString(), addrs: db.multiaddrs(), count: await db.count() }
  },
  // Resolves once `n` events from other authors have been indexed here (counting from the open).
  async expect(c) {
    const n = c.n as number
    const at = received >= n ? now() : await new Promise<number>((resolve) => waits.push({ n, resolve }))
    return { at, received }
  },
  async syncWith(c) {
    // A sync can fail when the other side opened a session at the same moment and that one is
    // kept: the failure is recorded, and the sync run again (up to three times in all). The
    // events still arrive by the kept session's own sync: the caller times them with `expect`.
    const startAt = now()
    const failures: string[] = []
    for (;;) {
      try {
        const result = await db!.syncWith(c.addr as string)
        return { startAt, endAt: now(), result, connectedAt, failures }
      } catch (e) {
        failures.push(`${(e as { code?: string }).code}: ${(e as Error).message}`)
        if (failures.length >= 3) return { startAt, endAt: 0, connectedAt, failures }
      }
    }
  },
  async append(c) {
    const n = c.n as number
    const start = performance.now()
    for (let i = 0; i < n; i += WINDOW) {
      await Promise.all(Array.from({ length: Math.min(WINDOW, n - i) }, () => db!.append({ kind: 1, payload: randomBytes(PAYLOAD) })))
    }
    return { ms: performance.now() - start }
  },
  async probe() {
    const at = now()
    const event = await db!.append({ kind: PROBE_KIND, payload: randomBytes(PAYLOAD) })
    return { eventId: event.id, at }
  },
  async progress() { return { count: await db!.count(), peers: db!.peers().length } },
  async state() {
    await db!.flush()
    return { count: await db!.count(), root: await db!.root(), peers: db!.peers().length }
  },
  async stats() { return { wire: wire.totals(), syncs, received, connectedAt, rssMB: rssMB() } },
  // This process's clock, for the driver to work out its offset (bench/network-driver.ts clockOffset).
  async clock() { return { at: now() } },
}

// --- Hypercore 11 ------------------------------------------------------------------------------

interface Core {
  key: Buffer; discoveryKey: Buffer; length: number; contiguousLength: number
  ready(): Promise<void>; close(): Promise<void>
  append(blocks: Buffer | Buffer[]): Promise<{ length: number }>
  get(index: number): Promise<Buffer>
  update(o?: { wait?: boolean }): Promise<boolean>
  download(range?: { start?: number; end?: number; linear?: boolean }): { done(): Promise<void>; destroy(): void }
  replicate(initiatorOrStream: boolean | unknown, opts?: object): NodeJS.ReadWriteStream & { on(e: string, f: (...a: unknown[]) => void): unknown; destroy(): void }
  on(e: string, f: (...a: unknown[]) => void): unknown
}
interface HypercoreClass {
  new (storage: string, key?: Buffer, opts?: object): Core
  createProtocolStream(initiator: boolean, opts?: object): NodeJS.ReadWriteStream & { on(e: string, f: (...a: unknown[]) => void): unknown; destroy(): void }
}
const Hypercore = () => createRequire(import.meta.url)('hypercore') as HypercoreClass

let core: Core | undefined
/** The mesh's cores: this peer's own, then one reader per other peer. */
let cores: Core[] = []
let dir = ''
let server: net.Server | undefined
const sockets = new Set<net.Socket>()
let liveSocket: net.Socket | undefined
const hcBytes = () => {
  let sent = 0, recv = 0
  for (const s of sockets) { sent += s.bytesWritten; recv += s.bytesRead }
  return { sent, received: recv, connections: sockets.size }
}

async function appendBlocks(c: Core, n: number): Promise<void> {
  for (let i = 0; i < n; i += 1000) await c.append(Array.from({ length: Math.min(1000, n - i) }, () => randomBytes(PAYLOAD)))
}

/** Replicates every core of this peer over `socket` (one protocol stream, the cores multiplexed on it). */
function replicateOver(socket: net.Socket, initiator: boolean, list: Core[]): void {
  sockets.add(socket)
  socket.setNoDelay(true)
  const stream = list.length === 1 ? list[0].replicate(initiator) : Hypercore().createProtocolStream(initiator)
  if (list.length > 1) for (const c of list) c.replicate(stream)
  socket.on('error', () => {}); stream.on('error', () => {})
  socket.pipe(stream).pipe(socket)
}

async function listen(list: () => Core[]): Promise<number> {
  server = net.createServer((socket) => replicateOver(socket, false, list()))
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
  return (server.address() as net.AddressInfo).port
}

function dial(port: number, list: Core[]): Promise<{ socket: net.Socket; at: number }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.once('error', reject)
    socket.once('connect', () => { replicateOver(socket, true, list); resolve({ socket, at: now() }) })
  })
}

const hc: Record<string, Handler> = {
  // { dir, key?, n? }: a writer (no key; appends n blocks of 200 random bytes) or a reader of `key`; both serve replication on a port.
  async hcOpen(c) {
    dir = c.dir as string
    core = new (Hypercore())(dir, c.key ? Buffer.from(c.key as string, 'hex') : undefined)
    await core.ready()
    if (c.n) await appendBlocks(core, c.n as number)
    const port = await listen(() => [core!])
    return { key: core.key.toString('hex'), port, length: core.length }
  },
  async hcAppend(c) { await appendBlocks(core!, c.n as number); return { length: core!.length } },
  // A reader connects to `port` and downloads every block the writer has: from the dial, through
  // the connection being up, to the last block stored.
  async hcSync(c) {
    const startAt = now()
    const { socket, at: connectedAt } = await dial(c.port as number, [core!])
    liveSocket = socket
    await core!.update({ wait: true })
    const before = core!.contiguousLength
    await core!.download({ start: 0, end: core!.length }).done()
    return { startAt, connectedAt, endAt: now(), length: core!.length, before, contiguousLength: core!.contiguousLength }
  },
  // From now on, each block appended by the writer is downloaded at once, and reported on arrival.
  async hcLive() {
    core!.download({ start: 0, end: -1 })
    let seen = core!.length
    core!.on('append', () => {
      for (; seen < core!.length; seen++) {
        const index = seen
        void core!.get(index).then(() => say({ event: 'seen', index, at: now() }))
      }
    })
    return {}
  },
  async hcProbe() {
    const at = now()
    const { length } = await core!.append(randomBytes(PAYLOAD))
    return { index: length - 1, at }
  },
  // The convergence mesh: { dir, keys, ports, self }: readers of every other peer's core (this
  // peer's own is `core`), every core replicated on one connection to each other peer.
  // The mesh in two steps, each done by every peer before any starts the next: a peer dialed
  // before it had its readers would replicate only its own core on that connection, and the
  // pair, connected once, would never converge (the bench hung so).
  async hcMeshReaders(c) {
    const keys = c.keys as string[], self = c.self as number
    cores = [core!]
    for (let i = 0; i < keys.length; i++) {
      if (i === self) continue
      const reader = new (Hypercore())(`${dir}-r${i}`, Buffer.from(keys[i], 'hex'))
      await reader.ready()
      reader.download({ start: 0, end: -1 })
      cores.push(reader)
    }
    // The server (opened by hcOpen) replicates only `core` on sockets it accepted before: from now on, all of them.
    server!.removeAllListeners('connection')
    server!.on('connection', (socket) => replicateOver(socket, false, cores))
    return { cores: cores.length }
  },
  // Each pair connected once: the one with the smaller index dials.
  async hcMeshDial(c) {
    const ports = c.ports as number[], self = c.self as number
    await Promise.all(ports.map((p, i) => (i > self ? dial(p, cores) : undefined)))
    return {}
  },
  async hcProgress() {
    const list = cores.length ? cores : [core!]
    return { lengths: list.map((x) => x.contiguousLength), total: list.reduce((n, x) => n + x.contiguousLength, 0) }
  },
  async hcStats() { return { wire: hcBytes(), rssMB: rssMB() } },
}

// --- the command loop -----------------------------------------------------------------------------

async function close(): Promise<void> {
  try {
    await db?.close()
    await node?.stop()
    for (const s of sockets) s.destroy()
    server?.close()
    for (const c of cores.length ? cores : core ? [core] : []) await c.close()
  } catch { /* exiting anyway */ }
}

const handlers: Record<string, Handler> = { ...xf, ...hc }
const lines = createInterface({ input: process.stdin })
lines.on('close', () => { void close().then(() => process.exit(0)) })
lines.on('line', (line) => { void run(JSON.parse(line) as Cmd) })
say({ ready: true })

async function run(c: Cmd): Promise<void> {
  try {
    if (c.cmd === 'close') {
      await close()
      say({ id: c.id, ok: true })
      process.exit(0)
    }
    say({ id: c.id, ok: true, ...(await handlers[c.cmd](c)) })
  } catch (e) {
    say({ id: c.id, ok: false, message: (e as Error).stack ?? String(e) })
  }
}
