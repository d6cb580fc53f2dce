/**
 * Signaling server limits for benches: every bench node connects from 127.0.0.1, so the per-address
 * defaults (64 connections, 32 handshakes at once, then 16/s) would refuse the crowds they start.
 */
export const LOOPBACK_CROWD = { maxConnectionsPerAddress: 1000, handshakeRateLimit: { perSecond: 1000, burst: 1000 } };

/**
 * For the signaling load bench: up to 10 000 clients from 127.0.0.1 on one server, registering as fast
 * as they can, and a per-connection event budget a client relaying flat out cannot exhaust (the
 * buckets are still checked on every event, so their cost is measured).
 */
export const SIGNALING_CROWD = {
  maxConnectionsPerAddress: 20_000,
  handshakeRateLimit: { perSecond: 1_000_000, burst: 1_000_000 },
  rateLimit: { perSecond: 2000, burst: 4000 },
};
