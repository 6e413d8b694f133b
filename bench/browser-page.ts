// Runs in Chromium (bench/browser.ts): the store's rates on IndexedDB, inline and with two
// workers, and Ed25519 by @noble/curves next to WebCrypto's, left on `globalThis.xaerofluxReport`.
import { ed25519 as noble } from '@noble/curves/ed25519.js'
import { Xaeroflux, Identity, XaeroError, encodeEvent, groupId } from '../src/index.js'

const EVENTS = 2000
const rate = (n: number, since: number) => Math.round(n / ((performance.now() - since) / 1000))

async function signatures() {
  const secretKey = noble.utils.randomSecretKey()
  const publicKey = noble.getPublicKey(secretKey)
  const messages = Array.from({ length: 300 }, (_, i) => new Uint8Array(32).fill(i))
  let t = performance.now()
  const signed = messages.map((m) => noble.sign(m, secretKey))
  const nobleSignPerSec = rate(messages.length, t)
  t = performance.now()
  if (!signed.every((s, i) => noble.verify(s, messages[i], publicKey))) throw new Error('noble rejected its own signature')
  const nobleVerifyPerSec = rate(messages.length, t)
  const key = await crypto.subtle.importKey('raw', publicKey, { name: 'Ed25519' }, false, ['verify'])
  t = performance.now()
  const ok = await Promise.all(signed.map((s, i) => crypto.subtle.verify({ name: 'Ed25519' }, key, s, messages[i])))
  const webCryptoVerifyPerSec = rate(messages.length, t)
  if (!ok.every(Boolean)) throw new Error('WebCrypto rejected a signature')
  return { nobleSignPerSec, nobleVerifyPerSec, webCryptoVerifyPerSec }
}

async function store(workers: number, envelopes: Uint8Array[], identity: Identity) {
  const db = await Xaeroflux.open({ path: `bench-${workers}-${Date.now()}`, group: 'bench', workers, identity })
  let t = performance.now()
  for (let i = 0; i < envelopes.length; i += 500) {
    if ((await db.ingestMany(envelopes.slice(i, i + 500))).some((r) => r instanceof XaeroError)) throw new Error('an event was rejected')
  }
  const ingestPerSec = rate(envelopes.length, t)
  let next = 0
  t = performance.now()
  await Promise.all(Array.from({ length: 256 }, async () => {
    while (next < EVENTS) await db.append({ kind: 1, payload: `append ${next++}` })
  }))
  const appendPerSec = rate(EVENTS, t)
  if (await db.count() !== envelopes.length + EVENTS) throw new Error(`${await db.count()} events stored`)
  await db.close()
  return { ingestPerSec, appendPerSec }
}

async function run() {
  const authors = Array.from({ length: 10 }, () => Identity.generate())
  const t = performance.now()
  const envelopes = Array.from({ length: EVENTS }, (_, i) => encodeEvent({ kind: i % 3, group: groupId('bench'), payload: `event ${i}` }, authors[i % authors.length]))
  const encodeEventPerSec = rate(EVENTS, t)
  return {
    events: EVENTS,
    encodeEventPerSec,
    ed25519: await signatures(),
    workers0: await store(0, envelopes, authors[0]),
    workers2: await store(2, envelopes, authors[0]),
  }
}

;(globalThis as { xaerofluxReport?: Promise<unknown> }).xaerofluxReport = run().catch((e) => ({ error: String(e?.stack ?? e) }))
