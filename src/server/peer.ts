/**
 * What the signaling server knows about one connected socket, and its budgets when it connects.
 */
import type { Socket } from 'socket.io';
import type { Logger } from '../log.js';
import { ServerEvent, type RateLimit } from '../wire/protocol.js';
import { TokenBucket } from '../wire/tokenBucket.js';
import { engineId } from './answers.js';
import { eventFrame } from './clusterMessages.js';

/**
 * Rejected events go into a second bucket this many times the burst, refilled at the same rate: a bursty
 * client only gets ERR_RATE_LIMITED answers, one that keeps sending well over the rate empties it and is dropped.
 */
const FLOOD_FACTOR = 5;

/** What the server knows about one connected socket. */
export interface Peer {
  readonly socket: Socket;
  readonly log: Logger;
  readonly bucket: TokenBucket;
  /** Pays for rejected events; when it is empty too, the socket is flooding. */
  readonly strikes: TokenBucket;
  /** What this connection signs to register: its Engine.IO session id, or a challenge's nonce; used up by registering. */
  nonce: string;
  nodeId: string | undefined;
  registerTimer: NodeJS.Timeout | undefined;
}

/** A connected socket's state: its budgets, and Engine.IO's session id as the nonce it may sign at once. */
export function newPeer(socket: Socket, rateLimit: RateLimit, logger: Logger): Peer {
  return {
    socket,
    log: logger.child({ socket: socket.id }),
    bucket: new TokenBucket(rateLimit),
    strikes: new TokenBucket({ perSecond: rateLimit.perSecond, burst: FLOOD_FACTOR * rateLimit.burst }),
    // A nonce this server chose for this connection (docs/protocol.md §4).
    nonce: engineId(socket),
    nodeId: undefined,
    registerTimer: undefined,
  };
}

/**
 * Writes the `signal` event carrying `delivery` (the payload's JSON text, encoded once by the server
 * that checked it) to `peer`'s socket, as the frame `socket.emit` would write: a signal from another
 * server of a cluster is never parsed or encoded again.
 */
export function deliver(peer: Peer, delivery: string): void {
  if (peer.socket.connected) peer.socket.conn.write(eventFrame(ServerEvent.signal, delivery));
}

/** Tells `peer` that a newer session of its node (Socket.IO id `by`, on this server or another) took over, and disconnects it. */
export function replaceSession(peer: Peer, by: string): void {
  peer.log.info({ nodeId: peer.nodeId, by }, 'session replaced by a newer one');
  peer.socket.emit(ServerEvent.replaced, {});
  peer.socket.disconnect(true);
}
