import { ed25519 } from '#platform'
import { toHex } from './hex.js'

/** An Ed25519 key pair that authors events. */
export class Identity {
  /** The 32-byte Ed25519 public key: an event's `author`. */
  readonly publicKey: Uint8Array
  private readonly _secretKey: Uint8Array
  private readonly _sign: (message: Uint8Array, signature: Uint8Array) => void

  private constructor(secretKey: Uint8Array) {
    this._secretKey = secretKey
    this.publicKey = ed25519.publicKey(secretKey)
    this._sign = ed25519.signer(secretKey)
  }

  /** A new random identity. */
  static generate(): Identity {
    return new Identity(ed25519.randomSecretKey())
  }

  /** The identity whose 32-byte secret key (Ed25519 seed) is `secretKey`; inverse of `secretKey`. */
  static fromSecretKey(secretKey: Uint8Array): Identity {
    if (!(secretKey instanceof Uint8Array) || secretKey.length !== 32) throw new TypeError('secretKey must be 32 bytes')
    return new Identity(Uint8Array.from(secretKey))
  }

  /** A copy of the 32-byte secret key, to store and pass to `fromSecretKey` later. */
  get secretKey(): Uint8Array {
    return Uint8Array.from(this._secretKey)
  }

  /** The public key in hex, as events report their author. */
  get id(): string {
    return toHex(this.publicKey)
  }

  /** The 64-byte Ed25519 signature of `message`. */
  sign(message: Uint8Array): Uint8Array {
    const signature = new Uint8Array(64)
    this._sign(message, signature)
    return signature
  }
}
