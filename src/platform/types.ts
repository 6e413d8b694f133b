/** What differs between Node and browsers; `#platform` resolves to one implementation. */
export interface Ed25519 {
  /** 32 random bytes: a new secret key (seed). */
  randomSecretKey(): Uint8Array
  publicKey(secretKey: Uint8Array): Uint8Array
  /** A signing function bound to one secret key (keeps the parsed key): writes the 64-byte signature of `message` into `signature`. */
  signer(secretKey: Uint8Array): (message: Uint8Array, signature: Uint8Array) => void
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean
  /**
   * Where the platform signs and checks many at once faster than one call each (WebCrypto, which
   * is asynchronous), the pipeline's slots use this. The arrays may view shared memory.
   */
  many?: {
    signer(secretKey: Uint8Array): (messages: Uint8Array[]) => Promise<Uint8Array[]>
    verify(checks: readonly SignatureCheck[]): Promise<boolean[]>
  }
}

export interface SignatureCheck { publicKey: Uint8Array; message: Uint8Array; signature: Uint8Array }

/** A pipeline worker thread as the pipeline uses it (node:worker_threads' Worker is one). */
export interface PipelineWorker {
  postMessage(message: unknown): void
  on(event: 'message', listener: (message: unknown) => void): unknown
  once(event: 'message' | 'error', listener: (value: unknown) => void): unknown
  terminate(): Promise<unknown>
}
