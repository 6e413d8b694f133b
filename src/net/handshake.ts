// The handshake of a sync stream (docs/NETWORK.md, "Handshake"): HELLO both ways (version,
// namespace, nonce, this side's windows, push rate, sync rate and idle limit), then in a secret group AUTH both ways:
// a proof of the group's key bound to both Noise-verified peer ids, both nonces and the sender's
// role. Nothing else is sent or accepted before the peer's proof verifies. A listener that keeps
// as many sessions as it may refuses in the handshake: with a flag of its HELLO in an open group,
// in the proof itself in a secret one (so that an outsider does not learn even that).
import { hmac } from '@noble/hashes/hmac.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { XaeroError } from '../errors.js'
import { MIN_FRAME, MIN_WINDOW, type PeerLimits } from './limits.js'

export const PROTOCOL_VERSION = 8
export const NONCE = 32
/** HELLO: version u16 | flags u8 | nonce 32 | window u32 | wantWindow u32 | maxFrame u32 | pushWindow u32 | pushRate u32 | pushBurst u32 | syncRate u32 | syncBurst u32 | idleMs u32 | ns length u8 | ns */
const HELLO_FIXED = 2 + 1 + NONCE + 9 * 4 + 1
/** Largest frame accepted before the handshake is over: a HELLO or an AUTH. */
export const HANDSHAKE_FRAME = 512
const FLAG_AUTH = 1
/** Open groups: the listener keeps as many sessions as it may, and refuses this one (E_PEER_FULL). */
const FLAG_FULL = 2

export type Role = 'dialer' | 'listener'
/** Whose proof: the dialer's, the listener's, or the listener's when it refuses the session because it is full. */
export type ProofRole = Role | 'full'

export interface Hello {
  version: number
  auth: boolean
  /** Open groups, listener only: it is full and refuses the session (E_PEER_FULL). */
  full: boolean
  nonce: Uint8Array
  window: number
  wantWindow: number
  maxFrame: number
  pushWindow: number
  pushRate: number
  pushBurst: number
  syncRate: number
  syncBurst: number
  /** The sender's idle limit: while this side works on its turn of a sync, it tells the peer so (PROGRESS) well within it. */
  idleMs: number
  ns: string
}

export function encodeHello(h: Hello): Uint8Array {
  const ns = new TextEncoder().encode(h.ns)
  if (ns.length > 255) throw new RangeError('a namespace is at most 255 bytes')
  const out = new Uint8Array(HELLO_FIXED + ns.length)
  const v = new DataView(out.buffer)
  v.setUint16(0, h.version)
  out[2] = (h.auth ? FLAG_AUTH : 0) | (h.full ? FLAG_FULL : 0)
  out.set(h.nonce, 3)
  let at = 3 + NONCE
  for (const n of [h.window, h.wantWindow, h.maxFrame, h.pushWindow, h.pushRate, h.pushBurst, h.syncRate, h.syncBurst, h.idleMs]) { v.setUint32(at, n); at += 4 }
  out[at] = ns.length
  out.set(ns, at + 1)
  return out
}

const protocol = (message: string, details?: Record<string, unknown>) => new XaeroError('E_PROTOCOL', message, { details })

/** Parses and checks a peer's HELLO against this side's namespace and auth mode (E_PROTOCOL). */
export function checkHello(body: Uint8Array, ns: string, auth: boolean): Hello {
  if (body.length < HELLO_FIXED) throw protocol('a HELLO shorter than its fixed part')
  const v = new DataView(body.buffer, body.byteOffset, body.length)
  const version = v.getUint16(0)
  // The version is checked first: a later version may lay out the rest differently.
  if (version !== PROTOCOL_VERSION) throw protocol(`the peer speaks sync protocol version ${version}, this side ${PROTOCOL_VERSION}`, { version, expected: PROTOCOL_VERSION })
  const flags = body[2]
  if ((flags & ~(FLAG_AUTH | FLAG_FULL)) !== 0) throw protocol('unknown HELLO flags', { flags })
  let at = 3 + NONCE
  const n = () => { const x = v.getUint32(at); at += 4; return x }
  const h: Hello = { version, auth: (flags & FLAG_AUTH) !== 0, full: (flags & FLAG_FULL) !== 0, nonce: body.slice(3, 3 + NONCE), window: n(), wantWindow: n(), maxFrame: n(), pushWindow: n(), pushRate: n(), pushBurst: n(), syncRate: n(), syncBurst: n(), idleMs: n(), ns: '' }
  const len = body[at]
  if (body.length !== at + 1 + len) throw protocol('a HELLO whose namespace length does not match its size')
  h.ns = new TextDecoder().decode(body.subarray(at + 1))
  if (h.ns !== ns) throw protocol('the peer is in another namespace', { ns: h.ns.slice(0, 80) })
  if (h.auth !== auth) throw protocol(auth ? 'the peer does not authenticate in a secret group' : 'the peer asks for authentication in an open group')
  if (h.full && auth) throw protocol('a HELLO that says full in a secret group (the proof says it there)')
  if (h.window < MIN_WINDOW || h.pushWindow < MIN_WINDOW || h.maxFrame < MIN_FRAME || h.wantWindow < 1 || h.pushRate < 1 || h.pushBurst < 1 || h.syncRate < 1 || h.syncBurst < 1 || h.idleMs < 1) {
    throw protocol('HELLO announces limits too small to carry an envelope', { window: h.window, pushWindow: h.pushWindow, maxFrame: h.maxFrame })
  }
  return h
}

export function helloOf(limits: PeerLimits, ns: string, auth: boolean, nonce: Uint8Array, full = false): Hello {
  return { version: PROTOCOL_VERSION, auth, full, nonce, window: limits.window, wantWindow: limits.wantWindow, maxFrame: limits.maxFrame, pushWindow: limits.pushWindow, pushRate: limits.pushRate, pushBurst: limits.pushBurst, syncRate: limits.syncRate, syncBurst: limits.syncBurst, idleMs: limits.idleMs, ns }
}

const LABEL = new TextEncoder().encode('xaeroflux/auth/v1')

/**
 * The proof a side of role `role` sends: HMAC-SHA256(authKey, "xaeroflux/auth/v1" ‖ len ‖ dialer
 * id ‖ len ‖ listener id ‖ dialer nonce ‖ listener nonce ‖ role byte (0 dialer, 1 listener, 2
 * listener refusing because it is full).
 * Peer ids are those Noise verified; ids are length-prefixed so that no two pairs share an input.
 * Fresh nonces from both sides make a proof useless on any other stream, and the role byte
 * keeps a side's own proof from being reflected back to it.
 */
export function proof(authKey: Uint8Array, dialer: string, listener: string, dialerNonce: Uint8Array, listenerNonce: Uint8Array, role: ProofRole): Uint8Array {
  const d = new TextEncoder().encode(dialer), l = new TextEncoder().encode(listener)
  if (d.length > 255 || l.length > 255) throw new RangeError('a peer id is at most 255 bytes')
  const input = new Uint8Array(LABEL.length + 2 + d.length + l.length + 2 * NONCE + 1)
  let at = 0
  const put = (b: Uint8Array) => { input.set(b, at); at += b.length }
  put(LABEL); input[at++] = d.length; put(d); input[at++] = l.length; put(l); put(dialerNonce); put(listenerNonce)
  input[at] = role === 'dialer' ? 0 : role === 'listener' ? 1 : 2
  return hmac(sha256, authKey, input)
}

/** Compares two byte strings in time independent of where they differ. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i]
  return diff === 0
}
