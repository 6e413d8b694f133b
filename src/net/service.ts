// The xaeroflux libp2p service: lets groups join and leave their own DHTs on a running node, so an
// app that shares one node among many groups adds it once:
//   createLibp2p({ …, services: { xaeroflux: xaerofluxService(), identify: identify(), ping: ping() } })
// libp2p fixes a node's services when it is created; this one creates a kad-dht per group at run
// time with the components it was given (group-dht.ts), and stops them all when the node stops.
import { serviceDependencies, type Startable } from '@libp2p/interface'
import type { KadDHTComponents } from '@libp2p/kad-dht'
import { XaeroError } from '../errors.js'
import { GroupDhtCore, type GroupDht, type GroupDhtOptions } from './group-dht.js'
import type { GroupNamespace } from './namespace.js'

export type { GroupDht, GroupDhtOptions, GroupPeer } from './group-dht.js'

/** The libp2p service that runs each group's DHT and sync protocol on a shared node (`services.xaeroflux`). */
export interface XaerofluxService {
  /**
   * Starts this node's kad-dht for the group `ns` (protocol ns.kad), or returns a new handle on the
   * running one (reference counted: the kad-dht stops when its last handle leaves). The options of
   * the join that started it apply; later joins' options are ignored until it stops.
   * E_NODE_STOPPED if the node is not running.
   */
  joinGroup(ns: GroupNamespace, options?: GroupDhtOptions): Promise<GroupDht>
  /** The `<ns>` of the groups whose DHT runs here. */
  groups(): string[]
}

export type XaerofluxServiceComponents = KadDHTComponents

/** The options of `xaerofluxService`. */
export interface XaerofluxServiceInit {
  /** Defaults for every joinGroup of this node (a joinGroup's own options win). */
  defaults?: GroupDhtOptions
}

function checkNamespace(ns: GroupNamespace): void {
  if (ns == null || typeof ns.ns !== 'string' || !/^[0-9a-f]{64}$/.test(ns.ns)) throw new TypeError('ns is a GroupNamespace (from groupNamespace())')
  if (ns.kad !== `/xaeroflux/${ns.ns}/kad/1.0.0`) throw new TypeError('ns.kad is not the kad protocol of ns.ns')
}

function checkOptions(options: GroupDhtOptions): void {
  if (options.maxPeers !== undefined && (!Number.isSafeInteger(options.maxPeers) || options.maxPeers < 1)) throw new RangeError('maxPeers is an integer ≥ 1')
  if (options.allow !== undefined && typeof options.allow !== 'function') throw new TypeError('allow is a function (peerId: string) => boolean')
  if (options.peerInfoMapper !== undefined && typeof options.peerInfoMapper !== 'function') throw new TypeError('peerInfoMapper is a function')
  if (options.clientMode !== undefined && typeof options.clientMode !== 'boolean') throw new TypeError('clientMode is a boolean')
}

class Service implements XaerofluxService, Startable {
  readonly [Symbol.toStringTag] = '@xaeroflux/service'
  // kad-dht pings new routing-table contacts and reads identify's protocol lists.
  readonly [serviceDependencies] = ['@libp2p/identify', '@libp2p/ping']
  private readonly components: XaerofluxServiceComponents
  private readonly defaults: GroupDhtOptions
  private readonly cores = new Map<string, { core: GroupDhtCore; ready: Promise<void> }>()
  private running = false

  constructor(components: XaerofluxServiceComponents, init: XaerofluxServiceInit) {
    this.components = components
    this.defaults = init.defaults ?? {}
    checkOptions(this.defaults)
  }

  isStarted(): boolean { return this.running }
  start(): void { this.running = true }

  async stop(): Promise<void> {
    this.running = false
    const entries = [...this.cores.values()]
    await Promise.all(entries.map(async ({ core, ready }) => { await ready.catch(() => {}); await core.stop() }))
    this.cores.clear()
  }

  groups(): string[] { return [...this.cores.keys()] }

  async joinGroup(ns: GroupNamespace, options: GroupDhtOptions = {}): Promise<GroupDht> {
    checkNamespace(ns)
    checkOptions(options)
    if (!this.running) throw new XaeroError('E_NODE_STOPPED')
    let entry = this.cores.get(ns.ns)
    if (entry === undefined || !entry.core.running) {
      const core = new GroupDhtCore(this.components, ns, { ...this.defaults, ...options })
      const started: { core: GroupDhtCore; ready: Promise<void> } = { core, ready: core.start() }
      entry = started
      core.onStopped = () => { if (this.cores.get(ns.ns) === started) this.cores.delete(ns.ns) }
      this.cores.set(ns.ns, entry)
      try {
        await entry.ready
      } catch (e) {
        this.cores.delete(ns.ns)
        await core.stop().catch(() => {})
        throw new XaeroError('E_NODE_STOPPED', `the group DHT did not start: ${(e as Error)?.message}`, { cause: e })
      }
    } else {
      await entry.ready
    }
    return entry.core.handle()
  }
}

/** The service factory for createLibp2p's `services` (name it `xaeroflux`). */
export function xaerofluxService(init: XaerofluxServiceInit = {}): (components: XaerofluxServiceComponents) => XaerofluxService {
  return (components) => new Service(components, init)
}
