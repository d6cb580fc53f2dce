/**
 * Every error the library raises is a {@link P2PError}: one class, told apart by `code`, so callers
 * can branch on `err.code` without matching message text.
 */
export type ErrorCode =
  | 'ERR_INVALID_OPTION'
  | 'ERR_INVALID_NODE_ID'
  | 'ERR_SELF_CONNECT'
  | 'ERR_NOT_STARTED'
  | 'ERR_STOPPED'
  | 'ERR_SIGNALING_UNREACHABLE'
  | 'ERR_SIGNALING_REJECTED'
  | 'ERR_TOO_MANY_PEERS'
  | 'ERR_NOT_CONNECTED'
  | 'ERR_NO_PEERS'
  | 'ERR_MESSAGE_TOO_LARGE'
  | 'ERR_INVALID_DATA'
  | 'ERR_PEER_CLOSED'
  | 'ERR_CONNECT_TIMEOUT'
  | 'ERR_ICE_FAILED'
  | 'ERR_PEER_REJECTED'
  | 'ERR_PEER_BUSY'
  | 'ERR_REDIS_UNAVAILABLE'
  | 'ERR_AUTH'
  | 'ERR_CONNECTION'
  | 'ERR_IDENTITY'
  | 'ERR_INSPECTOR';

/**
 * @example
 * ```ts
 * try { await node.connectToNode(id); }
 * catch (err) { if (err instanceof P2PError && err.code === 'ERR_ICE_FAILED') useTurn(); }
 * ```
 */
export class P2PError extends Error {
  override readonly name = 'P2PError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
