// Which addresses a browser peer may dial (docs/NETWORK.md "Browser peers"). libp2p's browser
// build refuses, by its default connection gater, every private address (loopback, RFC 1918,
// link-local, CGNAT, documentation ranges …) and every plain `ws://` address. With
// `network.allowPrivateAddresses` the page's node uses `privateAddressGater()`: loopback and LAN
// addresses may be dialed, over `ws://` too; every other address gets libp2p's default verdict.
import type { ConnectionGater } from '@libp2p/interface'
import { isPrivate } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'

/** An IPv4 address in dotted decimal as a 32-bit number, or undefined. */
function ipv4(s: string): number | undefined {
  const parts = s.split('.')
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return undefined
  return parts.reduce((n, p) => n * 256 + Number(p), 0)
}

/** 127.0.0.0/8 (loopback), 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 (RFC 1918), 169.254.0.0/16 (link-local). */
const LAN_V4: Array<[base: number, bits: number]> = [[0x7f000000, 8], [0x0a000000, 8], [0xac100000, 12], [0xc0a80000, 16], [0xa9fe0000, 16]]

function isLanIPv4(s: string): boolean {
  const n = ipv4(s)
  if (n === undefined) return false
  return LAN_V4.some(([base, bits]) => Math.floor(n / 2 ** (32 - bits)) === Math.floor(base / 2 ** (32 - bits)))
}

/** ::1 (loopback), fe80::/10 (link-local), fc00::/7 (unique local: IPv6's RFC 1918), and IPv4-mapped LAN addresses. */
function isLanIPv6(s: string): boolean {
  const ip = s.toLowerCase().split('%')[0]
  if (ip === '::1') return true
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(ip)
  if (mapped) return isLanIPv4(mapped[1])
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(ip)
  if (hex) {
    const hi = parseInt(hex[1], 16), lo = parseInt(hex[2], 16)
    return isLanIPv4(`${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`)
  }
  if (!/^[0-9a-f:]+$/.test(ip) || ip.startsWith(':')) return false
  const first = parseInt(ip.split(':')[0], 16)
  return (first & 0xffc0) === 0xfe80 || (first & 0xfe00) === 0xfc00
}

/**
 * True for an address on this machine or the local network: loopback (127.0.0.0/8, ::1, the
 * name `localhost` and names under `.localhost`), RFC 1918 (10/8, 172.16/12, 192.168/16),
 * link-local (169.254/16, fe80::/10) and IPv6 unique local (fc00::/7). Not CGNAT (100.64/10) nor
 * any other special range.
 */
export function isLoopbackOrLan(ma: Multiaddr): boolean {
  const parts = ma.getComponents().filter((c) => c.name !== 'ip6zone')
  const first = parts[0]
  if (first?.value === undefined) return false
  switch (first.name) {
    case 'ip4': return isLanIPv4(first.value)
    case 'ip6': return isLanIPv6(first.value)
    case 'dns': case 'dns4': case 'dns6': {
      const host = first.value.toLowerCase().replace(/\.$/, '')
      return host === 'localhost' || host.endsWith('.localhost')
    }
    default: return false
  }
}

/** A plain (unencrypted) WebSocket address: `…/tcp/<port>/ws`, as libp2p's matcher reads it. */
function isPlainWebSocket(ma: Multiaddr): boolean {
  const names = ma.getComponents().map((c) => c.name)
  return names.some((n, i) => n === 'tcp' && names[i + 1] === 'ws')
}

/** libp2p's browser default (libp2p 3.3, src/config/connection-gater.browser.ts): no plain ws://, no private address. */
export function refusedByBrowserDefault(ma: Multiaddr): boolean {
  return isPlainWebSocket(ma) || isPrivate(ma)
}

/** The gater of `network.allowPrivateAddresses` in a browser: loopback and LAN may be dialed (also over ws://); the rest as by default. */
export function refusedWithPrivateAllowed(ma: Multiaddr): boolean {
  return !isLoopbackOrLan(ma) && refusedByBrowserDefault(ma)
}

export function privateAddressGater(): ConnectionGater {
  return { denyDialMultiaddr: refusedWithPrivateAllowed }
}

/** What an E_PEER_UNREACHABLE says when the gater refused the address. */
export const GATER_HINT = 'a browser dials no loopback or LAN address, and no plain ws:// address, unless network.allowPrivateAddresses is true (then loopback and LAN, ws:// too); other addresses over wss://'

/** True if `cause` is libp2p's refusal by the connection gater (every address of the dial denied). */
export function isGaterRefusal(cause: unknown): boolean {
  return (cause as Error | undefined)?.name === 'DialDeniedError'
}
