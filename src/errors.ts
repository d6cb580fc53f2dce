/**
 * Every error the library raises is a {@link P2PError}: one class, told apart by `code`, so callers
 * can branch on `err.code` without matching message text.
 */

/** Every code a {@link P2PError} can carry. */
export const ERROR_CODES = [
  'ERR_INVALID_OPTION',
  'ERR_INVALID_NODE_ID',
  'ERR_SELF_CONNECT',
  'ERR_NOT_STARTED',
  'ERR_STOPPED',
  'ERR_SIGNALING_UNREACHABLE',
  'ERR_SIGNALING_REJECTED',
  'ERR_SIGNALING_LOST',
  'ERR_TOO_MANY_PEERS',
  'ERR_NOT_CONNECTED',
  'ERR_NO_PEERS',
  'ERR_MESSAGE_TOO_LARGE',
  'ERR_INVALID_DATA',
  'ERR_PEER_CLOSED',
  'ERR_CONNECT_TIMEOUT',
  'ERR_ICE_FAILED',
  'ERR_PEER_LOST',
  'ERR_FLUSH_TIMEOUT',
  'ERR_NOT_DELIVERED',
  'ERR_PEER_REJECTED',
  'ERR_PEER_BUSY',
  'ERR_REDIS_UNAVAILABLE',
  'ERR_AUTH',
  'ERR_CONNECTION',
  'ERR_IDENTITY',
  'ERR_INSPECTOR',
  /** A DHT method on a node created without `dht`. */
  'ERR_DHT_DISABLED',
  /** No DHT node answered a request (the node has no contacts, or every path failed). */
  'ERR_DHT_UNREACHABLE',
  /** The nodes that store a record refused it (a stale seq, a compare-and-swap mismatch, a full store). */
  'ERR_DHT_REFUSED',
  /** The peer declined a file (the message says why: declined, too-large, bad-name, no-receiver, timeout, cancelled), or cannot take files. */
  'ERR_FILE_DECLINED',
  /** The connection closed mid-transfer; sending the same file again resumes it. */
  'ERR_FILE_INTERRUPTED',
  /** The received file's SHA-256 did not match the offer's: it was deleted. */
  'ERR_FILE_CORRUPT',
  /** A file to send could not be read (missing, not a regular file, no permission). */
  'ERR_FILE_UNREADABLE',
  /** A received file could not be written (no such folder, no space, no permission). */
  'ERR_FILE_UNWRITABLE',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * @example
 * ```ts
 * try { await node.connectToNode(id); }
 * catch (err) { if (err instanceof P2PError && err.code === 'ERR_ICE_FAILED') useTurn(); }
 * ```
 */
export class P2PError extends Error {
  override readonly name = 'P2PError';
  /** Figures a program may act on, where the code has any (e.g. ERR_FLUSH_TIMEOUT's `undeliveredBytes`). */
  readonly details?: Readonly<Record<string, number>>;
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, number> },
  ) {
    super(message, options);
    if (options?.details) this.details = options.details;
  }
}

/**
 * A short, safe description of any value for an error message: strings quoted and cut, other values
 * by type, so a message can never throw (BigInt, cycles) or print a whole buffer.
 *
 * @example
 * ```ts
 * describeValue('zz'); // '"zz"'
 * describeValue({}); // 'an object'
 * ```
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`;
}

