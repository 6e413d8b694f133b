/**
 * Every failure that data, a peer or the disk can cause is an XaeroError with a stable `code`;
 * codes never change meaning between versions. Misuse of the API (a wrong argument type, a key
 * of the wrong length) is a TypeError or RangeError instead. See docs/ERRORS.md.
 */
export const ErrorCodes = {
  E_TRUNCATED: 'the bytes end before the structure they encode does',
  E_TRAILING_BYTES: 'bytes follow the end of the structure',
  E_BAD_VERSION: 'unknown format version',
  E_BAD_FLAGS: 'flags that this version does not define are set',
  E_PAYLOAD_TOO_LARGE: 'the payload is over the limit',
  E_WRONG_GROUP: 'the event belongs to another group',
  E_FUTURE_TIMESTAMP: 'the timestamp is too far in the future',
  E_BAD_SIGNATURE: 'the signature does not verify against the author',
  E_NOT_WRITER: "the author is not in the group's writers",
  E_CORRUPT_WAL: 'a write-ahead log record fails its checksum',
  E_OUT_OF_MEMORY: 'the WebAssembly memory cannot grow to hold the input',
  E_CLOSED: 'the database is closed',
  E_NOT_FOUND: 'no such event is stored',
  E_BAD_MESSAGE: 'a message from a peer is malformed or over its bounds',
  E_BUDGET: 'a reconciliation went over one of its budgets (rounds, keys, bytes, time) or its outbox cap',
  E_ABORTED: 'the operation was aborted through its AbortSignal',
  E_CORRUPT_INDEX: 'a stored index entry (a Merkle page, a posting block) is missing or malformed',
  E_STORE_MISMATCH: 'the store on disk is of another format version or another group',
  E_CORRUPT_EVENT: 'a stored event is malformed',
  E_CORRUPT_STORE: "the store's database is corrupt (LevelDB found corruption, or a meta entry is malformed)",
  E_LOCKED: 'another process (or another open store) holds the store',
  E_IO: 'the disk failed: a write, fsync, read or open of the store\'s files',
  E_WORKER_FAILED: 'a pipeline worker thread failed to start or died with jobs in hand',
  E_CORE_UNAVAILABLE: 'the WebAssembly core cannot load here: no WebAssembly, no shared memory, or an engine that cannot compile it',
  E_NODE_STOPPED: 'the libp2p node is not running (or a group DHT could not start on it)',
  E_DHT_QUERY: 'a query of a group DHT reached no group peer (none known yet, or none answered in time)',
  E_LEFT: 'the group DHT handle was left (leave()) or its node stopped',
  E_PEER_UNREACHABLE: 'the peer could not be dialed',
  E_NOT_IN_GROUP: 'the peer does not serve this group (another group, or another secret)',
  E_PEER_REFUSED: 'the peer is refused for a while: it broke a rule of the protocol or its limits',
  E_PEER_FULL: 'the peer keeps as many sessions as it may and refused a new one: try another peer',
  E_PROTOCOL: 'a peer broke the sync protocol: a malformed or unexpected frame, another version or namespace',
  E_AUTH: "a peer failed the secret group's challenge-response",
  E_PEER_LIMIT: 'a peer went over a per-peer limit (frame size, requests, window, bytes per sync, push rate)',
  E_TIMEOUT: 'a peer made no progress within the idle time (handshake, sync, acknowledgements)',
  E_BAD_EVENT: 'a peer sent an event that fails validation (cause: the validation error)',
  E_STREAM_CLOSED: 'the stream to the peer closed, was reset, or the session was closed',
} as const

/** One of the stable codes of {@link ErrorCodes}, e.g. `'E_BAD_SIGNATURE'`. */
export type XaeroErrorCode = keyof typeof ErrorCodes

/**
 * The error of every failure that data, a peer or the disk can cause: test `err.code` (an
 * {@link XaeroErrorCode}), never the message. `cause` holds the underlying error where there is one.
 */
export class XaeroError extends Error {
  /** Stable, documented identifier of the failure, e.g. `E_BAD_SIGNATURE`. */
  readonly code: XaeroErrorCode
  /** Machine-readable context: offsets, limits, ids. */
  readonly details?: Record<string, unknown>

  constructor(code: XaeroErrorCode, message?: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message ?? ErrorCodes[code], options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'XaeroError'
    this.code = code
    if (options?.details) this.details = options.details
  }
}
