// A group chat in the browser, on xaeroflux's public API and nothing else (no framework).
// `xaeroflux serve-example` serves it (index.html, this file bundled for browsers, and
// /config.json: the group and the address of its Node peer). The page opens a store on IndexedDB
// that is a peer of the group, shows the group's messages live, posts its own, and shows what a
// user needs to trust that it synced: its peers, its Merkle root next to the Node peer's, and
// what the last sync did. Copy it, and change what it shows.
import { Identity, Xaeroflux, XaeroError, fromHex, toHex, type Event } from 'xaeroflux'

/** The kind of a chat message. Other kinds of the group are not shown. */
const MESSAGE = 1

/** What `xaeroflux serve-example` serves at /config.json. */
interface Config {
  group: string
  /** Multiaddrs of the Node peer (WebSockets, ending in /p2p/<peer id>). */
  bootstrap: string[]
  /** The Node peer's id. */
  peerId: string
}

/** What serve-example serves at /state.json: the Node peer's count and root, now. */
interface NodeState { count: number; root: string }

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T
const short = (hex: string) => hex.slice(0, 8)
const clock = (ms: number) => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' })

/**
 * The author key, kept in localStorage so that a reload posts as the same author. Fine for an
 * example; an app should keep keys somewhere safer (anything on the page's origin can read it).
 */
function loadIdentity(group: string): Identity {
  const name = `xaeroflux-chat-key/${group}`
  const kept = localStorage.getItem(name)
  if (kept) return Identity.fromSecretKey(fromHex(kept))
  const identity = Identity.generate()
  localStorage.setItem(name, toHex(identity.secretKey))
  return identity
}

function setStatus(text: string, kind: 'ok' | 'bad' | '' = ''): void {
  const status = $('status')
  status.textContent = text
  status.className = kind
}

// ---- messages ------------------------------------------------------------------------------

const decoder = new TextDecoder()
/** Shown messages in key order (time, then id), as `range` returns them. */
const shown: Array<{ timestamp: number; id: string }> = []

/** Adds a message to the list, in its place by time; an event already shown is skipped. */
function showMessage(e: Event, me: string): void {
  const list = $('messages')
  if (list.querySelector(`li[data-id="${e.id}"]`)) return
  // Most messages are the newest: look for the place from the end.
  let at = shown.length
  while (at > 0 && (shown[at - 1].timestamp > e.timestamp || (shown[at - 1].timestamp === e.timestamp && shown[at - 1].id > e.id))) at--
  shown.splice(at, 0, { timestamp: e.timestamp, id: e.id })

  const item = document.createElement('li')
  item.dataset.id = e.id
  item.dataset.author = e.author
  if (e.author === me) item.classList.add('mine')
  const author = document.createElement('span')
  author.className = 'author'
  author.textContent = e.author === me ? `${short(e.author)} (you)` : short(e.author)
  author.title = e.author
  const time = document.createElement('time')
  time.dateTime = new Date(e.timestamp).toISOString()
  time.textContent = clock(e.timestamp)
  const text = document.createElement('span')
  text.className = 'text'
  text.textContent = decoder.decode(e.payload) // textContent, never innerHTML: a peer's text is untrusted
  item.append(author, time, text)

  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40
  list.insertBefore(item, list.children[at] ?? null)
  $('empty').hidden = true
  if (atBottom) list.scrollTop = list.scrollHeight
}

// ---- peers, roots, sync --------------------------------------------------------------------

function showPeers(db: Xaeroflux, config: Config): void {
  const list = $('peers')
  const peers = db.peers()
  list.replaceChildren(...(peers.length === 0 ? [Object.assign(document.createElement('li'), { className: 'muted', textContent: 'none: not connected' })] : []))
  for (const p of peers) {
    const item = document.createElement('li')
    item.dataset.peer = p.id
    const id = document.createElement('code')
    id.textContent = p.id
    item.append(id, p.id === config.peerId ? ' (the Node peer this page came from)' : '')
    list.append(item)
  }
}

interface SyncDetail {
  peer: string
  initiator: 'local' | 'remote'
  result: { rounds: number; eventsSent: number; eventsReceived: number; bytesSent: number; bytesReceived: number; ms: number }
}

function showSync({ peer, initiator, result: r }: SyncDetail): void {
  const sync = $('sync')
  sync.className = ''
  sync.textContent = `${clock(Date.now())} with ${peer.slice(-8)} (started by ${initiator === 'local' ? 'this page' : 'the peer'}): ` +
    `received ${r.eventsReceived} events, sent ${r.eventsSent}; ${r.rounds} rounds, ${Math.round(r.ms)} ms`
}

/**
 * Our root and count, the Node peer's root, and whether they are equal. Equal roots mean equal
 * sets of events (docs/MERKLE.md). The Node peer's root is asked from the server this page came
 * from, over HTTP: a view of this set-up for the person watching, not a check between peers
 * (peers check each other in sync, which verifies every event it moves).
 */
async function showRoots(db: Xaeroflux): Promise<void> {
  const [root, count] = [await db.root(), await db.count()]
  $('root').textContent = root
  $('count').textContent = `${count} events stored in this browser (IndexedDB)`
  let node: NodeState | undefined
  try {
    const response = await fetch('/state.json', { cache: 'no-store' })
    if (response.ok) node = await response.json() as NodeState
  } catch { /* the server is gone: said below */ }
  const match = $('match')
  if (!node) {
    $('node-root').textContent = 'unknown (the server does not answer)'
    match.className = 'muted'
    match.textContent = ''
    return
  }
  $('node-root').textContent = node.root
  const same = node.root === root
  match.className = same ? 'ok' : 'bad'
  match.textContent = same
    ? `✓ equal: this page and the Node peer hold the same ${count} events`
    : `✗ not equal yet (the Node peer holds ${node.count} events): syncing or live pushes in flight`
}

// ---- start ---------------------------------------------------------------------------------

/**
 * Takes the Web Lock `name` for as long as the tab lives (the browser frees it with the tab);
 * calls `waiting` if another tab holds it after a second (a reload may wait that long for its
 * predecessor's lock).
 */
function holdLock(name: string, waiting: () => void): Promise<void> {
  return new Promise((resolve) => {
    const slow = setTimeout(waiting, 1000)
    void navigator.locks.request(name, () => {
      clearTimeout(slow)
      resolve()
      return new Promise<never>(() => {}) // never released
    })
  })
}

async function start(): Promise<void> {
  const config = await (await fetch('/config.json', { cache: 'no-store' })).json() as Config
  $('group').textContent = config.group
  const identity = loadIdentity(config.group)
  $('me').textContent = identity.id

  // One store per path at a time: a second open, in this tab or another of the origin, is
  // E_LOCKED. Rather than fail, a second tab of this chat waits: a Web Lock of its own, held while
  // the tab lives, lets it open the store once the first tab is closed (another browser, or a
  // private window, has a store of its own).
  const path = `xaeroflux-chat/${config.group}` // the IndexedDB database
  await holdLock(path, () => setStatus('open in another tab of this browser: waiting for that tab to close (or use another browser)', 'bad'))

  setStatus(`connecting to ${config.peerId.slice(-8)}…`)
  const db = await Xaeroflux.open({
    group: config.group,
    path,
    identity,
    // allowPrivateAddresses: the Node peer is on 127.0.0.1 (or the LAN), which browsers refuse by default.
    network: { bootstrap: config.bootstrap, allowPrivateAddresses: true },
  })

  // The roots, shortly after something changed them, and every 3 s (the Node peer's root changes
  // without us); never once the store is closing.
  const refreshRoots = () => {
    if (db.status === 'open') showRoots(db).catch((e) => { if (db.status === 'open') setStatus(`cannot read the root: ${(e as Error).message}`, 'bad') })
  }
  let refresh: ReturnType<typeof setTimeout> | undefined
  const refreshSoon = () => {
    clearTimeout(refresh)
    refresh = setTimeout(refreshRoots, 150)
  }
  const poll = setInterval(refreshRoots, 3000)
  addEventListener('pagehide', () => {
    clearInterval(poll)
    clearTimeout(refresh)
    void db.close()
  })

  // Live first, then what is stored: an event indexed in between shows once (showMessage skips repeats).
  db.subscribe({ kind: MESSAGE }, (e) => showMessage(e, identity.id))
  db.subscribe({}, refreshSoon) // any event changes the root
  const latest: Event[] = []
  for await (const e of db.range({ kind: MESSAGE, reverse: true, limit: 500 })) latest.push(e)
  for (const e of latest.reverse()) showMessage(e, identity.id)

  db.addEventListener('peer:connect', () => { showPeers(db, config); setStatus('connected', 'ok'); refreshSoon() })
  db.addEventListener('peer:disconnect', () => {
    if (db.status !== 'open') return // closing (the tab goes away): nothing left to show
    showPeers(db, config)
    if (db.peers().length === 0) setStatus('disconnected: the peers are redialed; posts are kept here and synced later', 'bad')
  })
  db.addEventListener('sync', (e) => { showSync((e as CustomEvent<SyncDetail>).detail); refreshSoon() })
  showPeers(db, config)
  if (db.peers().length > 0) setStatus('connected', 'ok')
  refreshRoots()
  // The store dials its bootstrap peer during open, and the sync on connect may be over before
  // the listeners above were attached: one more sync, so that the page shows what a sync did.
  db.syncWith(config.peerId).catch(() => {}) // a failure shows in the status (peer:disconnect)

  const form = $<HTMLFormElement>('post'), input = $<HTMLInputElement>('text'), send = $<HTMLButtonElement>('send')
  input.disabled = send.disabled = false
  input.focus()
  form.addEventListener('submit', async (submit) => {
    submit.preventDefault()
    const text = input.value.trim()
    if (!text) return
    send.disabled = true
    try {
      // Durable in IndexedDB when it resolves; the subscription shows it once indexed, and the
      // store pushes it to its peers.
      await db.append({ kind: MESSAGE, payload: text })
      input.value = ''
    } catch (e) {
      setStatus(`not posted: ${e instanceof XaeroError ? e.code : ''} ${(e as Error).message}`, 'bad')
    } finally {
      send.disabled = false
      input.focus()
    }
  })
}

start().catch((e) => {
  setStatus(`failed: ${e instanceof XaeroError ? `${e.code}: ` : ''}${(e as Error)?.message ?? e}`, 'bad')
  console.error(e)
})
