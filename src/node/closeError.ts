import { P2PError, type ErrorCode } from '../errors.js';
import type { CloseReason, PeerOutput } from '../machines/peerConnection.machine.js';

const CLOSE_ERRORS: Record<CloseReason, ErrorCode> = {
  closed: 'ERR_PEER_CLOSED',
  timeout: 'ERR_CONNECT_TIMEOUT',
  'ice-failed': 'ERR_ICE_FAILED',
  rejected: 'ERR_PEER_REJECTED',
  busy: 'ERR_PEER_BUSY',
  auth: 'ERR_AUTH',
  error: 'ERR_CONNECTION',
};

/**
 * The error a connection attempt that ended with `output` rejects with.
 *
 * @example
 * ```ts
 * closeError({ remoteId, reason: 'timeout' }).code; // 'ERR_CONNECT_TIMEOUT'
 * ```
 */
export function closeError(output: PeerOutput): P2PError {
  const detail = output.detail ? `: ${output.detail}` : '';
  return new P2PError(CLOSE_ERRORS[output.reason], `connection to ${output.remoteId.slice(0, 12)}… ${output.reason}${detail}`);
}
