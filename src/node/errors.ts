/** The errors a node's methods reject with for how a connection, a close or signaling ended. */
import { P2PError, type ErrorCode } from '../errors.js';
import type { CloseReason, PeerOutput } from '../machines/peerConnection.machine.js';
import type { SignalingOutput } from '../machines/signaling.machine.js';

const CLOSE_ERRORS: Record<CloseReason, ErrorCode> = {
  closed: 'ERR_PEER_CLOSED',
  timeout: 'ERR_CONNECT_TIMEOUT',
  'ice-failed': 'ERR_ICE_FAILED',
  'peer-lost': 'ERR_PEER_LOST',
  replaced: 'ERR_PEER_CLOSED',
  rejected: 'ERR_PEER_REJECTED',
  busy: 'ERR_PEER_BUSY',
  'signaling-lost': 'ERR_SIGNALING_LOST',
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

/**
 * ERR_FLUSH_TIMEOUT if any of these closes was not acknowledged by its peer (see `PeerOutput.undelivered`).
 *
 * @example
 * ```ts
 * const error = flushError(await Promise.all(ids.map((id) => book.ended(id))));
 * if (error) throw error;
 * ```
 */
export function flushError(outputs: readonly (PeerOutput | undefined)[]): P2PError | undefined {
  const failed = outputs.filter((o): o is PeerOutput & { undelivered: number } => o?.undelivered !== undefined);
  if (failed.length === 0) return undefined;
  const bytes = failed.reduce((sum, o) => sum + o.undelivered, 0);
  const peers = failed.map((o) => `${o.remoteId.slice(0, 12)}…`).join(', ');
  return new P2PError(
    'ERR_FLUSH_TIMEOUT',
    `${peers} did not acknowledge everything sent before the flush timeout; ${bytes} bytes never left this node`,
    { details: { undeliveredBytes: bytes } },
  );
}

/** The error `start()` and later calls reject with once signaling has failed for good with `error`. */
export function signalingError(error: SignalingOutput['error'] | undefined): P2PError {
  if (!error || error.code === 'ERR_SIGNALING_UNREACHABLE') {
    return new P2PError('ERR_SIGNALING_UNREACHABLE', error?.message ?? 'signaling failed');
  }
  return new P2PError('ERR_SIGNALING_REJECTED', `signaling server refused this node (${error.code}): ${error.message}`);
}
