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

/** A pipeline worker thread as the pipeline's pool uses it (src/pipeline/pool.ts). */
export interface PipelineWorker {
  postMessage(message: unknown): void
  /**
   * 'message': what the worker posts. 'error': an uncaught error in it (or a message that could
   * not be read). 'exit': the thread has stopped (Node only: browsers tell nothing when a Web
   * Worker ends).
   */
  on(event: 'message' | 'error' | 'exit', listener: (value: unknown) => void): unknown
  /** Settles once the thread has stopped where `knowsWhenStopped`, else at once. */
  terminate(): Promise<unknown>
  /**
   * Whether `terminate()` settling means the thread no longer runs (Node: true). Where it does
   * not (browsers: a Web Worker's script is aborted in parallel), memory a dying worker may still
   * be writing is never reused.
   */
  readonly knowsWhenStopped: boolean
}
