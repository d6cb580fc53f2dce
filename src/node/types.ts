/** The shapes the public node API hands out: peers, transitions, peer events, snapshots. */
import type { SnapshotFrom } from 'xstate';
import type { nodeMachine } from '../machines/node.machine.js';
import type { CloseReason } from '../machines/peerConnection.machine.js';
import type { RouteInfo } from '../webrtc/fingerprint.js';

/** A peer as `peers$` reports it. */
export interface PeerInfo {
  id: string;
  /**
   * The peer actor's state: offering, answering, connecting, verifying, connected, recovering (an
   * ICE restart after the peer fell silent) or closing; or `queued`, an outgoing attempt waiting for
   * one of `maxNegotiations` slots, or `reconnecting`.
   */
  state: string;
  /** When it entered that state (ms since the epoch). */
  since: number;
  /** How the data flows once connected: `host`, `srflx`, `prflx` (direct) or `relay` (TURN). */
  route?: RouteInfo['route'];
  localAddress?: string;
  remoteAddress?: string;
  rttMs?: number;
  bytesIn: number;
  bytesOut: number;
  /** Messages from this peer dropped because nobody subscribed to `data$` and the unread buffer was full. */
  dropped: number;
}

/** One state change of one actor: the supervisor (`node`), `signaling` or a `peer.<id>`. */
export interface Transition {
  actor: string;
  /** The previous state ('' for an actor's first state). */
  from: string;
  to: string;
  event: string;
  at: number;
}

/**
 * A peer connection that opened (or recovered), one that stalled and is being repaired, one that
 * ended (with why), or a lost one about to be retried.
 */
export type PeerEvent =
  | { type: 'connected'; id: string; route?: RouteInfo }
  /** The peer fell silent (`detail` says how) and ICE restarts; `connected` follows if it is heard again, `closed` if not. */
  | { type: 'recovering'; id: string; detail?: string }
  | { type: 'closed'; id: string; reason: CloseReason; detail?: string; wasConnected: boolean }
  /** With `reconnect` on: attempt `attempt` to re-establish a lost connection starts in `delayMs`. */
  | { type: 'reconnecting'; id: string; attempt: number; delayMs: number };

export interface ConnectOptions {
  signal?: AbortSignal;
}

/** How `send()` sends one message. */
export interface SendOptions {
  /**
   * Resolve only once the peer's node took the message (its `data$`, or its buffer for the next
   * subscriber); reject with ERR_NOT_DELIVERED if it dropped it. Costs one 7-byte record back.
   */
  delivered?: boolean;
}

/** How `disconnect()` and `stop()` close: by default after delivering everything `send()` accepted. */
export interface CloseOptions {
  /** Close at once; messages accepted but not yet delivered are lost. */
  force?: boolean;
}

export type NodeSnapshot = SnapshotFrom<typeof nodeMachine>;
